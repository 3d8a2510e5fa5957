/**
 * The ConfigStore: troupe's live, validated configuration as a `Context.Service`.
 *
 * Sources, lowest to highest: built-in defaults < JSON file (`configFile` option or `TROUPE_CONFIG`) < environment
 * (provider variables and `TROUPE_…` overrides, see `EnvSource.ts`) < runtime updates (`update`, `patch`). Every
 * candidate configuration is validated as a whole before it replaces the current one (`validateConfig`: all
 * errors, with paths); a rejected candidate leaves the old configuration in force. `reload()` re-reads the file
 * and the environment without a restart and keeps the runtime layer on top. Committed changes are published on
 * `changes` (with the changed leaf paths), emitted as `["troupe","config","changed"]` through the `TelemetryHub` when
 * one is in the context (else through the `ConfigEvents` sink),
 * and logged — paths only, never values; secrets only ever exist as `Redacted`. The paths in the event, the log
 * line, a rejection's event and log, and `stats().lastChangedPaths` are listed with secrets masked (`sanitize`:
 * a key-shaped record key such as `rateLimits.apikey=sk-…` shows as `rateLimits.apikey=<redacted>`); the
 * `ConfigChange` itself carries the paths as they are, for in-process subscribers.
 *
 * The change feed is bounded: each subscriber buffers at most {@link CHANGE_FEED_CAPACITY} (256) changes, sliding
 * (the oldest is dropped). A slow subscriber misses intermediate changes, never the latest; every change carries the
 * full configuration, so a subscriber acts on `change.config` and, if it diffs, diffs against what it last applied
 * itself, not against `change.previous`.
 *
 * OTP counterpart: the application environment (`application:get_env/set_env`) plus a `gen_server` owning it and
 * `:config_change/3` callbacks, here a `changes` stream services subscribe to. Effect pieces reused: `Ref` (state),
 * `Semaphore` (one writer at a time, so updates are atomic and ordered), `PubSub` + `Stream` (change feed),
 * `Config`/`ConfigProvider` (environment), `FileSystem` (file), `Schema` (validation), `Redacted` (secrets).
 * The model-alias table is precomputed on every change, so `getModelConfig` is one `Map.get`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type { Scope } from "effect"
import { Context, Effect, Exit, FileSystem, Layer, Option, PubSub, Ref, Result, Semaphore, Stream } from "effect"
import { sanitize } from "../llm/internal/SecretScrub.ts"
import { TelemetryHub } from "../telemetry/index.ts"
import type { ModelLookupError } from "./ConfigError.ts"
import { ConfigSourceError, ConfigValidationError, formatIssues, UnknownProvider } from "./ConfigError.ts"
import { ConfigEventNames, ConfigEvents } from "./ConfigEvents.ts"
import type { ConfigStoreOptions, SourceLayers } from "./ConfigSources.ts"
import { checkOptions, loadSources } from "./ConfigSources.ts"
import { validateConfigResult } from "./ConfigValidation.ts"
import type { ResolvedModel } from "./ModelConfig.ts"
import type { ModelTable } from "./ModelResolution.ts"
import { buildModelTable, resolveModel } from "./ModelResolution.ts"
import type { ProviderConfig } from "./ProviderConfig.ts"
import type { ConfigPath, RawObject } from "./RawTree.ts"
import {
  diffPaths,
  getAt,
  isRawObject,
  mergeAll,
  overlay,
  parsePath,
  pathProblem,
  removeAt,
  scanTree,
  setAt
} from "./RawTree.ts"
import { wrapSecrets } from "./SecretMasking.ts"
import type { TroupeConfig } from "./TroupeConfig.ts"

export type { ConfigStoreOptions } from "./ConfigSources.ts"

/** How many changes each subscriber of the change feed buffers; beyond it the oldest is dropped (sliding). */
export const CHANGE_FEED_CAPACITY = 256

/** What produced a configuration change. */
export type ConfigOperation = "update" | "patch" | "reset" | "reload"

/** One committed change, as published on `changes`. */
export interface ConfigChange {
  readonly version: number
  readonly operation: ConfigOperation
  /** Changed leaf paths, dotted and sorted (`providers.openai.timeout`). Empty if the candidate was identical. */
  readonly paths: ReadonlyArray<string>
  readonly config: TroupeConfig
  readonly previous: TroupeConfig
}

/** Which source the effective value at a path comes from (`undefined`: a schema default, or absent). */
export type ConfigOrigin = "default" | "file" | "env" | "runtime"

/** Counters and source information (names and paths only; no values). */
export interface ConfigStats {
  readonly version: number
  readonly committed: number
  readonly rejected: number
  readonly reloads: number
  readonly configFile: string | undefined
  readonly envVariables: ReadonlyArray<string>
  /** The paths of the last committed change, with secrets masked. */
  readonly lastChangedPaths: ReadonlyArray<string>
}

/** A deep-partial configuration for `patch`; secrets may be plain strings; `null` removes a field. */
export type ConfigPatch = { readonly [key: string]: unknown }

/** The service interface. */
export interface ConfigStoreShape {
  /** The current configuration. */
  readonly get: Effect.Effect<TroupeConfig>
  /** One provider's configuration; fails with `UnknownProvider` listing the configured ones. */
  readonly getProviderConfig: (provider: string) => Effect.Effect<ProviderConfig, UnknownProvider>
  /**
   * Resolves an alias (following chains) or a `provider:model` spec, with merged default parameters. Fails with
   * `ModelLookupError`: `UnknownModelAlias` when the name is no configured alias and has no `:`;
   * `InvalidModelSpec` when the spec's provider or model part is empty (`":gpt-4o"`, `"openai:"`);
   * `UnknownProvider` when the spec's provider is not configured. `ModelAliasCycle` never happens here: validation
   * rejects a configuration whose aliases do not all resolve, so a configured alias always resolves.
   */
  readonly getModelConfig: (aliasOrSpec: string) => Effect.Effect<ResolvedModel, ModelLookupError>
  /**
   * Sets one field (`"providers.openai.timeout"` or an array path); `null` removes it. Validated atomically. Fails
   * with `ConfigValidationError` for an invalid candidate, and for a path that is not a string or an array of
   * strings, has an empty or reserved segment (`__proto__`, `constructor`, `prototype`), or a value nested deeper
   * than `MAX_CONFIG_DEPTH`.
   */
  readonly update: (path: string | ConfigPath, value: unknown) => Effect.Effect<ConfigChange, ConfigValidationError>
  /**
   * Deep-merges a partial configuration into the runtime layer. Validated atomically. Fails with
   * `ConfigValidationError` (operation `patch`, nothing applied) when `partial` is not a plain object, holds a
   * reserved key or nests deeper than `MAX_CONFIG_DEPTH`, or when the merged candidate does not validate (every
   * issue with its path).
   */
  readonly patch: (partial: ConfigPatch) => Effect.Effect<ConfigChange, ConfigValidationError>
  /**
   * Drops runtime updates at `path` (all of them without a path), falling back to file/env/default values. Fails
   * with `ConfigValidationError` (operation `reset`, nothing applied) when `path` is not a string or an array of
   * strings, has an empty or reserved segment or is deeper than `MAX_CONFIG_DEPTH`, or when the configuration
   * without those updates does not validate (e.g. an alias left pointing at a provider only the runtime layer had).
   */
  readonly reset: (path?: string | ConfigPath) => Effect.Effect<ConfigChange, ConfigValidationError>
  /**
   * Re-reads the file and the environment, keeps runtime updates on top. Atomic like `update`: on failure the
   * current configuration stays. Fails with `ConfigSourceError` when the file or the environment cannot be read
   * or parsed (as at start, see `loadSources`); with `ConfigValidationError` (operation `reload`) when the new
   * candidate does not validate.
   */
  readonly reload: () => Effect.Effect<ConfigChange, ConfigValidationError | ConfigSourceError>
  /**
   * Validates a complete candidate (all errors, with paths) without applying it. Fails with
   * `ConfigValidationError` (operation `validate`) when the candidate holds a reserved key or nests too deep, does
   * not decode as `TroupeConfig` (unknown fields included), has a malformed API key, or has an alias that does not
   * resolve.
   */
  readonly validate: (candidate: unknown) => Effect.Effect<TroupeConfig, ConfigValidationError>
  /** Where the effective value at `path` comes from. */
  readonly origin: (path: string | ConfigPath) => Effect.Effect<ConfigOrigin | undefined>
  /**
   * Changes committed after the stream starts running. Bounded: a subscriber that falls more than
   * `CHANGE_FEED_CAPACITY` changes behind misses the oldest ones, never the latest.
   */
  readonly changes: Stream.Stream<ConfigChange>
  /**
   * Subscribes now (race-free) and returns the stream of later changes; the subscription lives in the Scope.
   * Bounded like `changes`.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<ConfigChange>, never, Scope.Scope>
  readonly stats: Effect.Effect<ConfigStats>
}

interface StoreState {
  readonly sources: SourceLayers
  readonly runtime: RawObject
  readonly config: TroupeConfig
  readonly models: ModelTable
  readonly providerNames: ReadonlySet<string>
  readonly version: number
}

interface Counters {
  committed: number
  rejected: number
  reloads: number
  lastChangedPaths: ReadonlyArray<string>
}

const candidateOf = (sources: SourceLayers, runtime: RawObject): RawObject =>
  mergeAll([sources.defaults, sources.file, sources.env, runtime])

const stateOf = (
  sources: SourceLayers,
  runtime: RawObject,
  config: TroupeConfig,
  version: number
): StoreState => {
  const providerNames = new Set(Object.keys(config.providers))
  return { sources, runtime, config, version, providerNames, models: buildModelTable(config.models, providerNames) }
}

const pathIssue = (operation: string, message: string) =>
  new ConfigValidationError({ operation, issues: [{ path: "", message }] })

const make = (options: ConfigStoreOptions) =>
  Effect.gen(function*() {
    yield* checkOptions(options)
    const fileSystem = yield* FileSystem.FileSystem
    // a TelemetryHub in the context receives the events; otherwise the ConfigEvents sink (a no-op by default)
    const hub = yield* Effect.serviceOption(TelemetryHub)
    const events = Option.isSome(hub) ? { emit: hub.value.emit } : yield* ConfigEvents
    const readSources = loadSources(options).pipe(Effect.provideService(FileSystem.FileSystem, fileSystem))

    const initialSources = yield* readSources
    const initial = validateConfigResult(candidateOf(initialSources, {}), "initial")
    if (Result.isFailure(initial)) return yield* initial.failure
    const state = yield* Ref.make(stateOf(initialSources, {}, initial.success, 1))
    const counters: Counters = { committed: 0, rejected: 0, reloads: 0, lastChangedPaths: [] }
    const writer = yield* Semaphore.make(1)
    const feed = yield* Effect.acquireRelease(PubSub.sliding<ConfigChange>(CHANGE_FEED_CAPACITY), PubSub.shutdown)

    const reject = (error: ConfigValidationError) =>
      Effect.gen(function*() {
        counters.rejected++
        const paths = [...new Set(error.issues.map((i) => sanitize(i.path)))]
        const shown = error.issues.map((i) => ({ path: sanitize(i.path), message: i.message }))
        yield* Effect.logWarning(`configuration ${error.operation} rejected\n${formatIssues(shown)}`)
        yield* events.emit(ConfigEventNames.rejected, { issues: error.issues.length }, {
          paths,
          source: error.operation
        })
        return yield* error
      })

    /** Validates the candidate built from `sources` + `runtime`; commits and publishes it, or rejects it. */
    const commit = (operation: ConfigOperation, sources: SourceLayers, runtime: RawObject) =>
      Effect.gen(function*() {
        const previous = Ref.getUnsafe(state)
        const validated = validateConfigResult(candidateOf(sources, runtime), operation)
        if (Result.isFailure(validated)) return yield* reject(validated.failure)
        const paths = diffPaths(previous.config, validated.success)
        const version = paths.length > 0 ? previous.version + 1 : previous.version
        yield* Ref.set(state, stateOf(sources, runtime, validated.success, version))
        const change: ConfigChange = { version, operation, paths, config: validated.success, previous: previous.config }
        if (paths.length > 0) {
          const shown = paths.map(sanitize) // a record key may be a pasted secret: never listed as it is
          counters.committed++
          counters.lastChangedPaths = shown
          yield* PubSub.publish(feed, change)
          yield* Effect.logInfo(`configuration ${operation}: ${shown.join(", ")}`)
          yield* events.emit(ConfigEventNames.changed, { changed_paths: paths.length }, {
            paths: shown,
            source: operation,
            version
          })
        }
        return change
      }).pipe(Effect.annotateLogs({ service: "troupe/ConfigStore" }))

    /** Runs `f` on the current state under the writer lock, so concurrent writers never lose each other's work. */
    const write = <E>(f: (current: StoreState) => Effect.Effect<ConfigChange, E>) =>
      writer.withPermits(1)(Effect.suspend(() => f(Ref.getUnsafe(state))))

    // untrusted shapes (wrong-typed paths, reserved keys, hostile nesting) are rejected here, typed, before any
    // recursive walk of the value
    const treeIssue = (operation: string, value: unknown, at: ConfigPath) => {
      const problem = scanTree(value, at)
      return problem === undefined ? undefined : new ConfigValidationError({ operation, issues: [problem] })
    }

    const update = (path: string | ConfigPath, value: unknown) =>
      write((current) => {
        const bad = pathProblem(path, false)
        if (bad !== undefined) return reject(pathIssue("update", bad))
        const segments = parsePath(path)
        const deep = treeIssue("update", value, segments)
        if (deep !== undefined) return reject(deep)
        const wrapped = wrapSecrets(value === undefined ? null : value, segments)
        return commit("update", current.sources, setAt(current.runtime, segments, wrapped))
      })

    const patch = (partial: ConfigPatch) =>
      write((current) => {
        if (!isRawObject(partial)) return reject(pathIssue("patch", "a patch must be a plain object"))
        const deep = treeIssue("patch", partial, [])
        // wrapping secrets keeps a plain object a plain object (checked above)
        return deep !== undefined
          ? reject(deep)
          : commit("patch", current.sources, overlay(current.runtime, wrapSecrets(partial) as RawObject))
      })

    const reset = (path?: string | ConfigPath) =>
      write((current) => {
        if (path === undefined) return commit("reset", current.sources, {})
        const bad = pathProblem(path, true)
        return bad !== undefined
          ? reject(pathIssue("reset", bad))
          : commit("reset", current.sources, removeAt(current.runtime, parsePath(path)))
      })

    const reload = () =>
      write((current) =>
        readSources.pipe(
          Effect.tap(() => Effect.sync(() => counters.reloads++)),
          Effect.flatMap((sources) => commit("reload", sources, current.runtime))
        )
      )

    const getModelConfig = (aliasOrSpec: string): Effect.Effect<ResolvedModel, ModelLookupError> =>
      Effect.suspend(() => {
        const current = Ref.getUnsafe(state)
        const hit = current.models.get(aliasOrSpec)
        if (hit !== undefined) return hit
        const resolved = resolveModel(current.config.models, current.providerNames, aliasOrSpec)
        return Result.isSuccess(resolved) ? Exit.succeed(resolved.success) : Exit.fail(resolved.failure)
      })

    const getProviderConfig = (provider: string): Effect.Effect<ProviderConfig, UnknownProvider> =>
      Effect.suspend(() => {
        const { config, providerNames } = Ref.getUnsafe(state)
        const found = Object.hasOwn(config.providers, provider) ? config.providers[provider] : undefined
        return found !== undefined
          ? Exit.succeed(found)
          : Exit.fail(new UnknownProvider({ provider, known: [...providerNames].sort() }))
      })

    const origin = (path: string | ConfigPath) =>
      Effect.sync((): ConfigOrigin | undefined => {
        const { runtime, sources } = Ref.getUnsafe(state)
        if (pathProblem(path, true) !== undefined) return undefined // not a path into the configuration
        const segments = parsePath(path)
        const layers: ReadonlyArray<readonly [ConfigOrigin, RawObject]> = [
          ["runtime", runtime],
          ["env", sources.env],
          ["file", sources.file],
          ["default", sources.defaults]
        ]
        for (const [name, layer] of layers) {
          const value = getAt(layer, segments)
          if (value === null) return undefined // removed at this layer
          if (value !== undefined) return name
        }
        return undefined
      })

    const stats = Effect.sync((): ConfigStats => {
      const { sources, version } = Ref.getUnsafe(state)
      return {
        version,
        committed: counters.committed,
        rejected: counters.rejected,
        reloads: counters.reloads,
        configFile: sources.filePath,
        envVariables: sources.envVariables,
        lastChangedPaths: counters.lastChangedPaths
      }
    })

    return ConfigStore.of({
      get: Effect.sync(() => Ref.getUnsafe(state).config),
      getProviderConfig,
      getModelConfig,
      update,
      patch,
      reset,
      reload,
      validate: (candidate) => Effect.suspend(() => Effect.fromResult(validateConfigResult(candidate))),
      origin,
      changes: Stream.fromPubSub(feed),
      subscribe: Effect.map(PubSub.subscribe(feed), Stream.fromSubscription),
      stats
    })
  })

/**
 * The configuration store.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const store = yield* ConfigStore
 *   const fast = yield* store.getModelConfig("fast")          // { provider: "openai", model: "gpt-4o-mini", ... }
 *   yield* store.update("providers.openai.timeout", 30_000)   // validated, published on `changes`
 * }).pipe(Effect.provide(ConfigStore.layerNode({ configFile: "troupe.json" })))
 * ```
 */
export class ConfigStore extends Context.Service<ConfigStore, ConfigStoreShape>()("troupe/ConfigStore") {
  /**
   * The store; reads the config file through the `FileSystem` service. Fails if the initial config is invalid.
   * Building fails with `ConfigValidationError` when the options do not validate (operation `options`, see
   * `checkOptions`) or the merged defaults, file and environment do not (operation `initial`); with
   * `ConfigSourceError` when the file or the environment cannot be read or parsed (see `loadSources`).
   */
  static readonly layer = (
    options: ConfigStoreOptions = {}
  ): Layer.Layer<ConfigStore, ConfigValidationError | ConfigSourceError, FileSystem.FileSystem> =>
    Layer.effect(ConfigStore, make(options))

  /**
   * The store with Node's file system. Building fails with `ConfigValidationError` and `ConfigSourceError` exactly
   * as `layer` does.
   */
  static readonly layerNode = (
    options: ConfigStoreOptions = {}
  ): Layer.Layer<ConfigStore, ConfigValidationError | ConfigSourceError> =>
    ConfigStore.layer(options).pipe(Layer.provide(NodeFileSystem.layer))
}

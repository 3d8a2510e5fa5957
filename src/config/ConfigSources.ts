/**
 * Loading the static configuration sources, lowest to highest: built-in defaults < JSON file < environment.
 * (Runtime updates, the highest layer, are kept by the store itself; see `ConfigStore.ts`.)
 *
 * Like an OTP release's `sys.config` being overlaid by `config/runtime.exs` and then by `application:set_env/3`,
 * each source is kept as its own raw layer so that `reload()` can re-read the file and the environment and
 * re-apply the runtime layer on top. The environment is read through an Effect `ConfigProvider`, the file through
 * Effect's `FileSystem` service; both are injectable ({@link ConfigStoreOptions}), so tests never touch the real
 * process environment or disk.
 */
import { ConfigProvider, Effect, FileSystem, type Redacted, Schema } from "effect"
import { ConfigSourceError, ConfigValidationError } from "./ConfigError.ts"
import { configPathFromEnv, readEnvLayer } from "./EnvSource.ts"
import { readConfigFile } from "./FileSource.ts"
import type { RawObject } from "./RawTree.ts"
import { isRawObject, merge, scanTree } from "./RawTree.ts"
import { openEnvelopes, wrapSecrets } from "./SecretMasking.ts"
import { DefaultConfig } from "./TroupeConfig.ts"

/** Options of `ConfigStore.layer`. */
export interface ConfigStoreOptions {
  /** Path of the JSON config file. Takes precedence over `TROUPE_CONFIG`. */
  readonly configFile?: string | undefined
  /**
   * The environment: a record, or a function returning one (called on every load, so `reload()` sees changes).
   * Defaults to `process.env`, read on every load.
   */
  readonly env?: Record<string, string | undefined> | (() => Record<string, string | undefined>) | undefined
  /** Read the environment through this `ConfigProvider` instead (e.g. `ConfigProvider.fromDotEnvContents(...)`). */
  readonly envProvider?: ConfigProvider.ConfigProvider | undefined
  /** Extra defaults, merged over the built-in ones (still the lowest-precedence source). */
  readonly defaults?: RawObject | undefined
  /**
   * Opens an `enc:v1:` envelope found at a secret path of the file or the environment (e.g. identity's
   * `SecretBox.open`); without it such a value fails loading with `ConfigSourceError` naming the path.
   */
  readonly openSecret?:
    | ((envelope: string) => Effect.Effect<Redacted.Redacted<string>, { readonly message: string }>)
    | undefined
}

/** The static layers, each a raw tree with secrets already wrapped in `Redacted`. */
export interface SourceLayers {
  readonly defaults: RawObject
  readonly file: RawObject
  readonly env: RawObject
  /** The config file actually read, if any. */
  readonly filePath: string | undefined
  /** Names of the environment variables that were applied. */
  readonly envVariables: ReadonlyArray<string>
}

const OptionsData = Schema.Struct({
  configFile: Schema.optionalKey(Schema.UndefinedOr(Schema.String.check(Schema.isMinLength(1)))),
  defaults: Schema.optionalKey(Schema.UndefinedOr(Schema.Record(Schema.String, Schema.Unknown)))
})

/**
 * Validates the data part of the options (functions and providers are checked by type only). Fails with
 * `ConfigValidationError` (operation `options`, path `options`) when `configFile` is an empty string or not a
 * string, or `defaults` is not an object.
 */
export const checkOptions = (options: ConfigStoreOptions): Effect.Effect<ConfigStoreOptions, ConfigValidationError> =>
  Schema.decodeUnknownEffect(OptionsData)(
    { configFile: options.configFile, defaults: options.defaults },
    { errors: "all" }
  ).pipe(
    Effect.as(options),
    Effect.mapError((error) =>
      new ConfigValidationError({ operation: "options", issues: [{ path: "options", message: error.message }] })
    )
  )

const processEnv = (): Record<string, string | undefined> =>
  // reading the optional Node `process` global without Node's types (absent elsewhere)
  (globalThis as { readonly process?: { readonly env?: Record<string, string | undefined> } }).process?.env ?? {}

/** A fresh `ConfigProvider` over the environment described by the options. */
export const envProviderOf = (options: ConfigStoreOptions): ConfigProvider.ConfigProvider => {
  if (options.envProvider !== undefined) return options.envProvider
  const env = options.env
  const record = env === undefined ? processEnv() : typeof env === "function" ? env() : env
  return ConfigProvider.fromEnvRecord({ ...record })
}

const asRawObject = (u: unknown): RawObject => (isRawObject(u) ? u : {})

/**
 * Reads defaults, file and environment. Fails with `ConfigSourceError` (`source: "file"`) when the config file
 * (from `configFile` or `TROUPE_CONFIG`) is missing, unreadable, not JSON, not a JSON object, holds a reserved key
 * (`__proto__`, …) or nests deeper than `MAX_CONFIG_DEPTH`, or holds an `enc:v1:` secret that `openSecret` is not
 * given for or cannot open; with `ConfigSourceError` (`source: "env"`) when the `ConfigProvider` fails to read a
 * variable, or the `TROUPE_*` overrides build a reserved key, a too-deep tree or an unopenable secret envelope.
 */
export const loadSources = (
  options: ConfigStoreOptions
): Effect.Effect<SourceLayers, ConfigSourceError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const provider = envProviderOf(options)
    const defaults = asRawObject(wrapSecrets(merge(DefaultConfig, options.defaults ?? {})))
    const filePath = options.configFile ?? (yield* configPathFromEnv(provider))
    const fileTree = filePath === undefined ? {} : yield* readConfigFile(filePath)
    const fileProblem = scanTree(fileTree)
    if (fileProblem !== undefined && filePath !== undefined) {
      return yield* new ConfigSourceError({
        source: "file",
        location: filePath,
        reason: `${fileProblem.path}: ${fileProblem.message}`
      })
    }
    const file = asRawObject(
      yield* openEnvelopes(wrapSecrets(fileTree), options.openSecret).pipe(
        Effect.mapError((e) =>
          new ConfigSourceError({ source: "file", location: filePath ?? "", reason: `${e.path}: ${e.reason}` })
        )
      )
    )
    const env = yield* readEnvLayer(provider, merge(defaults, file))
    const envProblem = scanTree(env.tree)
    if (envProblem !== undefined) {
      return yield* new ConfigSourceError({
        source: "env",
        location: "TROUPE_*",
        reason: `${envProblem.path}: ${envProblem.message}`
      })
    }
    return {
      defaults,
      file,
      env: asRawObject(
        yield* openEnvelopes(wrapSecrets(env.tree), options.openSecret).pipe(
          Effect.mapError((e) =>
            new ConfigSourceError({ source: "env", location: "TROUPE_*", reason: `${e.path}: ${e.reason}` })
          )
        )
      ),
      filePath,
      envVariables: env.variables
    }
  })

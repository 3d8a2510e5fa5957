/**
 * `ProviderRegistry`: the pipeline's last step — the `LlmProvider` of each provider name a model resolves to.
 *
 * - `ProviderRegistry.layer(providers)`: fixed, already-built providers (tests, benchmarks, custom clients).
 * - `ProviderRegistry.layerFromConfig(options)`: builds each `providers.<name>` entry of the `ConfigStore` on first
 *   use (`providerFromConfig`: Anthropic for `anthropic`, OpenAI-compatible otherwise) and rebuilds it when that
 *   entry changes; with `scriptedWhenNoKey`, an entry without an API key gets the offline scripted provider instead
 *   (so nothing calls the internet without a key). `overrides` pins providers by name. With `ProviderPools` in the
 *   context, each provider sends through its own undici pool built from `providers.<name>.pool`.
 * - `ProviderRegistry.layerScripted(options)`: every name answers with a scripted provider (offline tests and
 *   demos; `Troupe.layerTest`).
 *
 * Stand-ins: a scripted provider the registry puts in place of a configured one (`scriptedWhenNoKey`, and every
 * provider of `layerScripted`) is named `scripted` and marked (`isStandIn`). The pipeline then labels its answers
 * `scripted` — result `meta.provider` (with `meta.standInFor` naming the route), price (free), telemetry labels and
 * response-cache key — so a scripted answer never poses as the real provider, is never priced at its rate, and is
 * never served from the cache once a real key is set. Routing (breaker, rate limits) stays the route's.
 *
 * Mirrors LiteLLM's deployment list / Portkey's provider slugs. Providers are plain values (`LlmProviderShape`), so
 * one registry holds many; the HTTP work is `src/llm`'s.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import type { HttpClient } from "effect/http"
import { HttpClient as HttpClientService } from "effect/http"
import type { ProviderConfig } from "../config/index.ts"
import { ConfigStore } from "../config/index.ts"
import type { InvalidProviderOptions, LlmProviderShape, ScriptedOptions } from "../llm/index.ts"
import { providerFromConfig, ScriptedProvider } from "../llm/index.ts"
import { ProviderPools } from "../llm/ProviderPools.ts"
import { ProviderNotFound } from "./PipelineError.ts"

/** The service interface. */
export interface ProviderRegistryShape {
  /**
   * The provider registered under `name`. Fails with `ProviderNotFound` when no provider (fixed, override or
   * `providers.<name>` entry of the configuration) has that name; with `InvalidProviderOptions` (`layerFromConfig`
   * only) when the entry's provider cannot be built from it: a name, base URL, timeout or header the HTTP provider
   * rejects.
   */
  readonly get: (name: string) => Effect.Effect<LlmProviderShape, ProviderNotFound | InvalidProviderOptions>
}

/** Options of `layerFromConfig`. */
export interface ProvidersFromConfigOptions {
  /** Use a scripted provider (with these options, named after the entry) for entries without an API key. */
  readonly scriptedWhenNoKey?: ScriptedOptions
  /** Providers used as is for these names, whatever the configuration says. */
  readonly overrides?: Readonly<Record<string, LlmProviderShape>>
}

const standIns = new WeakSet<LlmProviderShape>()

/** True for a scripted provider the registry answers a configured name with (see the module doc). */
export const isStandIn = (provider: LlmProviderShape): boolean => standIns.has(provider)

/** The provider name of stand-in answers. */
export const STAND_IN_PROVIDER = "scripted"

const standIn = (provider: LlmProviderShape): LlmProviderShape => {
  standIns.add(provider)
  return provider
}

const fixed = (
  providers: Iterable<LlmProviderShape> | Readonly<Record<string, LlmProviderShape>>
): ProviderRegistryShape => {
  const table = new Map<string, Exit.Exit<LlmProviderShape>>()
  const entries: Iterable<readonly [string, LlmProviderShape]> = Symbol.iterator in providers
    // it has Symbol.iterator, so it is the iterable form of the union (TS does not narrow through `in` on a symbol)
    ? Array.from(providers as Iterable<LlmProviderShape>, (p) => [p.name, p] as const)
    : Object.entries(providers)
  for (const [name, provider] of entries) table.set(name, Exit.succeed(provider))
  return {
    get: (name) =>
      table.get(name) ?? Exit.fail(new ProviderNotFound({ provider: name, known: [...table.keys()].sort() }))
  }
}

const fromConfig = (options: ProvidersFromConfigOptions) =>
  Effect.gen(function*() {
    const store = yield* ConfigStore
    const client = yield* HttpClientService.HttpClient
    // with ProviderPools in the context, each provider gets its own pooled client (`providers.<name>.pool`)
    const pools = Option.getOrUndefined(yield* Effect.serviceOption(ProviderPools))
    const built = new Map<
      string,
      { readonly config: ProviderConfig; readonly provider: Exit.Exit<LlmProviderShape, InvalidProviderOptions> }
    >()
    const overrides = new Map(Object.entries(options.overrides ?? {}).map(([n, p]) => [n, Exit.succeed(p)] as const))
    const build = (name: string, config: ProviderConfig): Effect.Effect<LlmProviderShape, InvalidProviderOptions> => {
      const key = config.apiKey
      if (options.scriptedWhenNoKey !== undefined && (key === undefined || Redacted.value(key).trim() === "")) {
        return Effect.map(ScriptedProvider.make({ ...options.scriptedWhenNoKey, name: STAND_IN_PROVIDER }), standIn)
      }
      if (pools === undefined) {
        return providerFromConfig(name, config).pipe(Effect.provideService(HttpClientService.HttpClient, client))
      }
      return Effect.flatMap(pools.clientFor(name, config.pool), (pooled) =>
        providerFromConfig(name, config).pipe(Effect.provideService(HttpClientService.HttpClient, pooled)))
    }
    return ProviderRegistry.of({
      get: (name) => {
        const pinned = overrides.get(name)
        if (pinned !== undefined) {
          return pinned
        }
        return Effect.flatMap(
          store.get,
          (config): Effect.Effect<LlmProviderShape, ProviderNotFound | InvalidProviderOptions> => {
            const entry = Object.hasOwn(config.providers, name) ? config.providers[name] : undefined
            if (entry === undefined) {
              return Exit.fail(new ProviderNotFound({ provider: name, known: Object.keys(config.providers).sort() }))
            }
            const cached = built.get(name)
            if (cached !== undefined && cached.config === entry) {
              return cached.provider
            }
            return Effect.tap(
              Effect.exit(build(name, entry)),
              (provider) =>
                Effect.sync(() => built.set(name, { config: entry, provider }))
            ).pipe(
              Effect.flatten
            )
          }
        )
      }
    })
  })

const scripted = (options: ScriptedOptions) =>
  Effect.gen(function*() {
    // one stand-in answers every name (no table grows with the names asked for)
    const provider = Exit.succeed(standIn(yield* ScriptedProvider.make({ ...options, name: STAND_IN_PROVIDER })))
    return ProviderRegistry.of({ get: () => provider })
  })

/**
 * The providers of the pipeline, by name.
 *
 * @example
 * ```ts
 * const registry = ProviderRegistry.layer([ScriptedProvider.makeUnsafe({ name: "primary" })])
 * ```
 */
export class ProviderRegistry
  extends Context.Service<ProviderRegistry, ProviderRegistryShape>()("troupe/pipeline/ProviderRegistry")
{
  /** Fixed providers: an iterable (keyed by each provider's `name`) or a record by name. */
  static readonly layer = (
    providers: Iterable<LlmProviderShape> | Readonly<Record<string, LlmProviderShape>>
  ): Layer.Layer<ProviderRegistry> => Layer.sync(ProviderRegistry, () => fixed(providers))

  /** Providers built from the `ConfigStore`'s `providers` section (rebuilt when an entry changes). */
  static readonly layerFromConfig = (
    options: ProvidersFromConfigOptions = {}
  ): Layer.Layer<ProviderRegistry, never, ConfigStore | HttpClient.HttpClient> =>
    Layer.effect(ProviderRegistry, fromConfig(options))

  /** A scripted provider for every name (offline). */
  static readonly layerScripted = (
    options: ScriptedOptions = {}
  ): Layer.Layer<ProviderRegistry, InvalidProviderOptions> => Layer.effect(ProviderRegistry, scripted(options))
}

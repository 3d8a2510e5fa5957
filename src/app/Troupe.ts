/**
 * `Troupe.layer`: the whole of troupe as one Layer — what an application provides to run agents and LLM calls.
 *
 * Mirrors an OTP application: one root supervisor (`Supervisor.layerRoot`), under which every service's own
 * supervisor (telemetry bridge, config watcher, rate-limit sweeps, cache sweeper, breaker transitions, agents)
 * is started as a subtree, in dependency order:
 *
 *   Lifecycle → root supervisor → TelemetryHub (+ lifecycle bridge) → ConfigStore → RateLimiter (+ live policies
 *   from config) → Cache → providers → LLM pipeline (`Llm`) → ConversationMemory → Bus, directive executors and
 *   AgentServer.
 *
 * Each layer is built with everything before it in context, so services find the hub (events), the root (their
 * supervisors become its children) and their dependencies. Releasing the layer closes them in reverse order, and
 * the root shuts down last.
 *
 * `layer(options)` uses real providers from the configuration (API keys from env or a config file), falling back
 * to the offline scripted model for providers without a key; with `redis` it puts the rate limiter, the cache's
 * L2 and conversation memory in Redis. `layerTest(options)` is everything in memory with a scripted model, no
 * process environment and no network: suited to `TestClock` tests.
 *
 * Secrets never reach a log line: the layer installs `maskingLoggerLayer` under everything, which wraps every logger
 * of the context it is built in (the default one, or the application's) so that each message is masked, and the
 * hub masks every string it emits.
 *
 * Invalid options fail the layer with `InvalidTroupeOptions` (in the error channel, when the layer is built; never
 * a throw when it is made). Code a layer does not use is not loaded: node-redis only with `redis`, the undici
 * HTTP client only for real providers (both imported when their layer is built).
 */
import { Duration, Effect, Layer, Schema } from "effect"
import { AgentServer, Bus, DirectiveExecutor } from "../agent/index.ts"
import { Cache } from "../cache/index.ts"
import { maskingLoggerLayer } from "../guard/SecretDetector.ts"
import { nodeRedisLayer } from "../cache/RedisTier.ts"
import { ConfigStore, type ConfigStoreOptions, RateLimiterConfigSync } from "../config/index.ts"
import type { ScriptedOptions } from "../llm/index.ts"
import { type ConversationMemory, layerMemory as memoryInProcess, layerRedis as memoryInRedis } from "../memory/index.ts"
import { type Llm, LlmPipeline, type LlmPipelineOptions, ProviderRegistry, type ProvidersFromConfigOptions } from "../pipeline/index.ts"
import { RateLimiter, type RateLimiterOptionsInput } from "../ratelimit/index.ts"
import { Lifecycle, Supervisor } from "../runtime/index.ts"
import { layerLifecycleBridge, TelemetryHub, type TelemetryHubOptions } from "../telemetry/index.ts"
import { type InvalidTroupeOptions, toInvalidTroupeOptions, TroupeOptionsSchema } from "./TroupeOptions.ts"

export interface TroupeOptions {
  /** the root supervisor's name (default `troupe`) */
  readonly name?: string
  /** where the configuration comes from (default: built-in defaults < `TROUPE_CONFIG` file < process env) */
  readonly config?: ConfigStoreOptions
  /** a Redis server for the rate limiter, the cache's L2 and conversation memory (default: all in memory) */
  readonly redis?: { readonly url: string; readonly prefix?: string }
  readonly telemetry?: TelemetryHubOptions
  readonly rateLimiter?: RateLimiterOptionsInput
  /** options of the response cache's store (the pipeline caches LLM answers in it) */
  readonly cache?: { readonly maxEntries?: number; readonly defaultTtl?: Duration.Input }
  /** which providers: from the configuration (default; scripted for those without a key) or one scripted model */
  readonly providers?: ProvidersFromConfigOptions | { readonly scripted: ScriptedOptions }
  readonly pipeline?: LlmPipelineOptions
  readonly memory?: { readonly maxMessages?: number }
  readonly agents?: { readonly name?: string; readonly maxRestarts?: number; readonly maxSeconds?: number }
}

/** Everything `Troupe.layer` provides. */
export type Services =
  | Supervisor.RootSupervisor
  | Lifecycle.Lifecycle
  | TelemetryHub
  | ConfigStore
  | RateLimiter
  | RateLimiterConfigSync
  | Cache
  | ProviderRegistry
  | Llm
  | ConversationMemory
  | Bus.Bus
  | DirectiveExecutor.Executors
  | AgentServer.AgentServer

const isScripted = (
  providers: TroupeOptions["providers"]
): providers is { readonly scripted: ScriptedOptions } => providers !== undefined && "scripted" in providers

/** The undici HTTP client, imported when the layer is built (only real providers need it). */
const httpClientLayer = Layer.unwrap(
  Effect.promise(() => import("@effect/platform-node/NodeHttpClient")).pipe(Effect.map((module) => module.layerUndici))
)

/** Validates the options in the error channel, then builds the layer; `test`: in memory, scripted, no env. */
const build = (options: TroupeOptions, test: boolean) =>
  Layer.unwrap(
    Schema.decodeUnknownEffect(TroupeOptionsSchema)(options).pipe(
      Effect.mapError((error) => toInvalidTroupeOptions(error)),
      Effect.map(() => compose(options, test))
    )
  )

/** Composes the application layer from validated options. */
const compose = (options: TroupeOptions, test: boolean) => {
  const name = options.name ?? "troupe"
  const redis = test ? undefined : options.redis
  const redisLayer = redis === undefined ? undefined : nodeRedisLayer(redis.url)
  const prefix = redis?.prefix ?? "troupe:"

  const root = Supervisor.layerRoot({ name, maxRestarts: 10, maxSeconds: 60 }).pipe(Layer.provideMerge(Lifecycle.layer))
  const telemetry = layerLifecycleBridge.pipe(Layer.provideMerge(TelemetryHub.layerWith(options.telemetry ?? {})))
  const config = test
    ? ConfigStore.layerNode({ env: {}, ...options.config })
    : ConfigStore.layerNode(options.config ?? {})
  const rateLimiter = RateLimiterConfigSync.layer.pipe(
    Layer.provideMerge(
      redisLayer === undefined
        ? RateLimiter.layerMemory(options.rateLimiter)
        : RateLimiter.layerRedis({ prefix: `${prefix}rl:`, ...options.rateLimiter }).pipe(Layer.provide(redisLayer))
    )
  )
  const cacheOptions = {
    name: "responses",
    maxEntries: options.cache?.maxEntries ?? 10_000,
    defaultTtl: options.cache?.defaultTtl ?? Duration.hours(1)
  }
  const cache = redisLayer === undefined
    ? Cache.layerMemory(cacheOptions)
    : Cache.layerTiered({ ...cacheOptions, redis: { value: Schema.Json, prefix: `${prefix}cache:` } }).pipe(Layer.provide(redisLayer))
  const providers = isScripted(options.providers)
    ? ProviderRegistry.layerScripted(options.providers.scripted)
    : test
    ? ProviderRegistry.layerScripted()
    : ProviderRegistry.layerFromConfig({ scriptedWhenNoKey: {}, ...options.providers }).pipe(
      Layer.provide(httpClientLayer)
    )
  const llm = LlmPipeline.layer(options.pipeline).pipe(Layer.provideMerge(providers))
  const memory = redisLayer === undefined
    ? memoryInProcess(options.memory)
    : memoryInRedis({ prefix: `${prefix}memory:`, ...options.memory }).pipe(Layer.provide(redisLayer))
  const agents = AgentServer.AgentServer.layer({ name: "agents", ...options.agents }).pipe(
    Layer.provideMerge(DirectiveExecutor.layer),
    Layer.provideMerge(Bus.Bus.layer())
  )

  return agents.pipe(
    Layer.provideMerge(memory),
    Layer.provideMerge(llm),
    Layer.provideMerge(cache),
    Layer.provideMerge(rateLimiter),
    Layer.provideMerge(config),
    Layer.provideMerge(telemetry),
    Layer.provideMerge(root),
    Layer.provideMerge(maskingLoggerLayer)
  )
}

/**
 * The application layer: every troupe service under one root supervisor.
 *
 * Fails with `InvalidTroupeOptions` when `options` do not decode (e.g. a `redis.url` that is not a
 * `redis://` or `rediss://` URL), with a service's own error when its options are invalid, and with `RedisError`
 * when `redis` is given and the server does not answer at start.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const llm = yield* Llm
 *   const answer = yield* llm.generate({ model: "fast", messages: [{ role: "user", content: "hi" }] })
 * }).pipe(Effect.provide(Troupe.layer()))
 * ```
 */
export const layer = (options: TroupeOptions = {}) => build(options, false)

/**
 * In memory, scripted model, no process environment, no network: for tests (with `TestClock`) and demos. Fails
 * with `InvalidTroupeOptions` when `options` do not decode (`redis` is validated, then ignored).
 */
export const layerTest = (options: TroupeOptions = {}) => build(options, true)

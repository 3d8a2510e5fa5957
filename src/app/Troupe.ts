/**
 * `Troupe.layer`: the whole of troupe as one Layer — what an application provides to run agents and LLM calls.
 *
 * Mirrors an OTP application: one root supervisor (`Supervisor.layerRoot`), under which every service's own
 * supervisor (telemetry bridge, config watcher, rate-limit sweeps, cache sweeper, breaker transitions, agents)
 * is started as a subtree, in dependency order:
 *
 *   Lifecycle → root supervisor → TelemetryHub (+ lifecycle bridge) → ConfigStore → RateLimiter (+ live policies
 *   from config) → Cache → SubjectIndex → providers → LLM pipeline (`Llm`) → ConversationMemory → Bus, directive
 *   executors and AgentServer.
 *
 * Each layer is built with everything before it in context, so services find the hub (events), the root (their
 * supervisors become its children) and their dependencies. Releasing the layer closes them in reverse order, and
 * the root shuts down last.
 *
 * `layer(options)` uses real providers from the configuration (API keys from env or a config file), falling back
 * to the offline scripted model for providers without a key; with `redis` it puts the rate limiter, the cache's
 * L2, conversation memory and the LLM circuit breakers in Redis. `layerTest(options)` is everything in memory with a scripted model, no
 * process environment and no network: suited to `TestClock` tests.
 *
 * Failures are classified and counted by default: the layer provides `ErrorAnalytics` (in memory, bounded) and
 * `ErrorHandlers` under the pipeline, so the pipeline's and the LLM agents' failures (an `LlmAgents` built over this
 * layer) are recorded by class, provider, model, route, tenant and agent, and the gateway's `GET /admin/errors`
 * serves them; `errors: false` turns both off (see `TroupeOptions.errors`).
 *
 * Personal data stays erasable: the layer provides an in-process, bounded `SubjectIndex` (100,000 links), so the
 * response cache links what it stores for a call made for a subject (`options.tenant` + `options.subject`) and a
 * `Privacy` built over this context finds those entries and the linked conversations.
 *
 * Secrets never reach a log line: the layer installs `maskingLoggerLayer` under everything, which wraps every logger
 * of the context it is built in (the default one, or the application's) so that each message and the cause logged
 * with it are masked, and the hub masks every string it emits.
 *
 * Invalid options fail the layer with `InvalidTroupeOptions` (in the error channel, when the layer is built; never
 * a throw when it is made). Code a layer does not use is not loaded: node-redis only with `redis`, the undici
 * HTTP client only for real providers (both imported when their layer is built).
 */
import { Context, Duration, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import type { SqlClient, SqlError } from "effect/sql"
import { AgentServer, Bus, DirectiveExecutor } from "../agent/index.ts"
import { Budgets, type BudgetStoreError } from "../budget/index.ts"
import { Cache } from "../cache/index.ts"
import type { InvalidCacheOptions } from "../cache/index.ts"
import {
  ConfigStore,
  type ConfigStoreOptions,
  ConfigValidationError,
  RateLimiterConfigSync,
  type TroupeConfig
} from "../config/index.ts"
import { Costs, type CostsStoreError, Recommendations, type RecommendationsOptions } from "../costs/index.ts"
import { DeadLetters, type DlqStoreError } from "../dlq/index.ts"
import { ErrorAnalytics, type ErrorAnalyticsOptions, ErrorHandlers } from "../errors/index.ts"
import { maskingLoggerLayer } from "../guard/SecretDetector.ts"
import { SubjectIndex } from "../identity/SubjectIndex.ts"
import type { ScriptedOptions } from "../llm/index.ts"
import { ProviderPools } from "../llm/ProviderPools.ts"
import {
  type ConversationMemory,
  layerMemory as memoryInProcess,
  layerRedis as memoryInRedis
} from "../memory/index.ts"
import {
  BudgetStep,
  DeadLetterStep,
  type Llm,
  LlmPipeline,
  type LlmPipelineOptions,
  PipelineRedrive,
  ProviderRegistry,
  type ProvidersFromConfigOptions,
  QueueStep,
  RouterStep,
  SiblingStep
} from "../pipeline/index.ts"
import type { QueueStepOptions, RouterStepOptions, SiblingStepOptions } from "../pipeline/index.ts"
import type { InvalidPipelineOptions } from "../pipeline/index.ts"
import { providerDefaults, RateLimiter, type RateLimiterOptionsInput } from "../ratelimit/index.ts"
import { Lifecycle, Supervisor } from "../runtime/index.ts"
import type { InvalidOptions } from "../runtime/index.ts"
import { layerLifecycleBridge, OtelExport, TelemetryHub, type TelemetryHubOptions } from "../telemetry/index.ts"
import {
  invalidTroupeOption,
  type InvalidTroupeOptions,
  toInvalidTroupeOptions,
  TroupeOptionsSchema
} from "./TroupeOptions.ts"

/**
 * Options of `Troupe.layer`: the root supervisor's name, the configuration sources, Redis, telemetry, the limiter,
 * the cache, the providers and the pipeline. Decoded with Schema: invalid options fail the layer with
 * `InvalidTroupeOptions`.
 */
export interface TroupeOptions {
  /** the root supervisor's name (default `troupe`) */
  readonly name?: string
  /** where the configuration comes from (default: built-in defaults < `TROUPE_CONFIG` file < process env) */
  readonly config?: ConfigStoreOptions
  /** a Redis server for the rate limiter, the cache's L2 and conversation memory (default: all in memory) */
  readonly redis?: { readonly url: string; readonly prefix?: string }
  /**
   * a PostgreSQL server (`postgres://` or `postgresql://` URL) for the `costs` ledger, `budgets` and `deadLetters`,
   * in their tables in `schema` (default `public`; created if missing). It wins over `redis` for those three. Unlike
   * Redis, a server that does not answer at start fails the layer with `SqlError`; `@effect/sql-pg` is imported
   * only when the layer is built (install it beside `effect`). Ignored by `layerTest`.
   */
  readonly postgres?: { readonly url: string; readonly schema?: string }
  readonly telemetry?: TelemetryHubOptions
  /** the limiter's options; its `policies` are merged over the provider defaults unless `replaceDefaultPolicies` */
  readonly rateLimiter?: RateLimiterOptionsInput
  /** `true`: `rateLimiter.policies` replace the built-in provider defaults instead of being merged over them */
  readonly replaceDefaultPolicies?: boolean
  /** options of the response cache's store (the pipeline caches LLM answers in it) */
  readonly cache?: { readonly maxEntries?: number; readonly defaultTtl?: Duration.Input }
  /** which providers: from the configuration (default; scripted for those without a key) or one scripted model */
  readonly providers?: ProvidersFromConfigOptions | { readonly scripted: ScriptedOptions }
  readonly pipeline?: LlmPipelineOptions
  /**
   * `true`: every answered call's cost is recorded on a `Costs` ledger, kept in Redis with `redis` (prefix
   * `<prefix>costs:`), else in memory.
   * Off by default, like `budgets` and `deadLetters`; each one turned on is provided by the layer (its type says so
   * when the option is the literal `true`), and the gateway's `/costs/*` and `/admin/dlq` endpoints find it.
   */
  readonly costs?: boolean
  /** `true`: the pipeline enforces `Budgets` (`BudgetStep`), kept in Redis with `redis` (prefix `<prefix>budget:`), else in memory. */
  readonly budgets?: boolean
  /**
   * `true`: permanent failures are recorded on `DeadLetters` (`DeadLetterStep`), kept in Redis with `redis`
   * (prefix `<prefix>dlq:`), else in memory; a redrive re-runs the request through this pipeline.
   */
  readonly deadLetters?: boolean
  /**
   * Request queues in front of providers (`QueueStep`): `{ queues: { <route>: { capacity, … } }, default }` — priority
   * and fair queuing per tenant, overflow strategies, timeouts; off by default. Bad options fail the layer with
   * `InvalidOptions` naming the path.
   */
  readonly queues?: QueueStepOptions
  /**
   * The router policy (`RouterStep`): `{ routes: { <model>: <cheaper model> }, maxSimpleChars?, classify? }` sends
   * simple requests to the cheaper model; with `costs`, its savings are on the ledger (`Costs.savings`). Off by
   * default. Bad options fail the layer with `InvalidPipelineOptions` naming the path.
   */
  readonly router?: RouterStepOptions
  /**
   * Cost recommendations from recorded usage (`Recommendations`, served by the gateway's
   * `GET /costs/recommendations`): its options plus, with `sibling`, the `SiblingStep` judge that shadows a sample
   * of calls on cheaper siblings. Needs `costs: true` (without it the layer fails with `InvalidTroupeOptions` at
   * `recommendations`). Off by default. Bad options fail the layer with `InvalidOptions` / `InvalidPipelineOptions`
   * naming the path.
   */
  readonly recommendations?: RecommendationsOptions & { readonly sibling?: SiblingStepOptions }
  /** conversation memory: `maxMessages` kept per conversation, an integer from 1 to 100,000,000 (default 100) */
  readonly memory?: { readonly maxMessages?: number }
  readonly agents?: { readonly name?: string; readonly maxRestarts?: number; readonly maxSeconds?: number }
  /**
   * Error analytics and handlers (`troupe/errors`), **on by default**: `ErrorAnalytics.layerMemory` and
   * `ErrorHandlers.layer` are provided under the pipeline, so every failure of the pipeline and of the LLM agents
   * built over this layer is classified and counted by class, recovery, provider, model and route, with the
   * tenants and agents it hit, and `GET /admin/errors` serves them. In memory and bounded: `bucketMillis` (10 s)
   * buckets, the last `historyBuckets` (60) kept, the window the last `windowBuckets` (30); per bucket at most
   * `maxKeys` (200) values per dimension, classes per bucket, and routes, tenants and agents per class (the rest
   * under `other`); anomalies at most one per class and bucket kept; at most `maxHandlers` (100) handlers. An
   * object sizes them (`baselineBuckets`, `k`, `minCount` tune the anomaly detector); `false` turns both off.
   */
  readonly errors?: boolean | (ErrorAnalyticsOptions & { readonly maxHandlers?: number })
}

/** Everything `Troupe.layer` provides. */
export type Services =
  | Supervisor.RootSupervisor
  | Lifecycle
  | TelemetryHub
  | ConfigStore
  | RateLimiter
  | RateLimiterConfigSync
  | Cache
  | SubjectIndex
  | ProviderRegistry
  | Llm
  | ConversationMemory
  | Bus
  | DirectiveExecutor.Executors
  | AgentServer

/** `ErrorAnalytics` and `ErrorHandlers` unless `errors` is (or may be) `false`. */
type ErrorServices<O extends TroupeOptions> = "errors" extends keyof O
  ? O["errors"] extends false | undefined ? never : false extends O["errors"] ? never : ErrorAnalytics | ErrorHandlers
  : ErrorAnalytics | ErrorHandlers

/**
 * The optional services `options` turn on (`costs`, `budgets`, `deadLetters` set to `true`, `recommendations` with
 * `costs`; `errors` unless it is `false`), beside `Services`.
 */
export type OptionalServices<O extends TroupeOptions> =
  | ErrorServices<O>
  | (O extends { readonly costs: true } ? Costs : never)
  | (O extends { readonly budgets: true } ? Budgets : never)
  | (O extends { readonly deadLetters: true } ? DeadLetters : never)
  | (O extends { readonly costs: true; readonly recommendations: object } ? Recommendations : never)

/** Adds the optional services `O` turns on to the layer's type (`buildWith` puts them in its context). */
const withOptional =
  <O extends TroupeOptions>() => <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A | OptionalServices<O>, E, R> =>
    layer as Layer.Layer<A | OptionalServices<O>, E, R> // the services are built by buildWith when O turns them on

const isScripted = (
  providers: TroupeOptions["providers"]
): providers is { readonly scripted: ScriptedOptions } => providers !== undefined && "scripted" in providers

/** The undici HTTP client, imported when the layer is built (only real providers need it). */
const httpClientLayer = Layer.unwrap(
  Effect.promise(() => import("@effect/platform-node/NodeHttpClient")).pipe(Effect.map((module) => module.layerUndici))
)

/** Redis that never fails start-up (ResilientRedis), imported when a Redis layer is built (node-redis is loaded only then). */
const resilientRedisLayer = (url: string) =>
  Layer.unwrap(
    Effect.promise(() => import("./internal/ResilientRedis.ts")).pipe(Effect.map((module) => module.layer(url)))
  )

/** `ResilientRedis.checkUrl`: `InvalidTroupeOptions` at `redis.url` when node-redis refuses the URL. */
const checkRedisUrl = (url: string): Effect.Effect<void, InvalidTroupeOptions> =>
  Effect.flatMap(Effect.promise(() => import("./internal/ResilientRedis.ts")), (module) => module.checkUrl(url))

/**
 * The PostgreSQL client (`@effect/sql-pg`), imported when the layer is built (pg is loaded only then). One value per
 * build, so the stores on it share one connection pool (a layer is built once per value).
 */
const postgresLayer = (url: string): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.unwrap(
    // the catch (a rethrow) makes bundlers leave a missing @effect/sql-pg to run time, as OtelExport does for its peers
    Effect.promise(() =>
      import("@effect/sql-pg").catch((error: unknown) => {
        throw error
      })
    ).pipe(
      Effect.map(({ PgClient }) => PgClient.layer({ url: Redacted.make(url), applicationName: "troupe" }))
    )
  )

/**
 * How a store can fail the layer at start: its options (`InvalidOptions`), or PostgreSQL not answering or refusing
 * its tables (with `postgres`; Redis never fails start-up, see `resilientRedisLayer`).
 */
type StoreStartError = InvalidOptions | SqlError.SqlError | BudgetStoreError | DlqStoreError | CostsStoreError

/**
 * An optional layer whose service stays out of the type (found at run time with `Effect.serviceOption`), its error
 * kept in the type; none: empty.
 */
const untypedOr = <A, E>(layer: Layer.Layer<A, E> | undefined): Layer.Layer<never, E> => layer ?? Layer.empty

/** The configuration as it is at start-up (read once to build the layers; the store then reads it again). */
const startupConfig = (configOptions: ConfigStoreOptions) =>
  Effect.scoped(
    Effect.flatMap(
      Layer.build(ConfigStore.layerNode(configOptions)),
      (context) => Context.get(context, ConfigStore).get
    )
  )

/** Validates the options in the error channel, then builds the layer; `test`: in memory, scripted, no env. */
const build = (options: TroupeOptions, test: boolean) =>
  Layer.unwrap(
    Schema.decodeUnknownEffect(TroupeOptionsSchema)(options).pipe(
      Effect.mapError((error) => toInvalidTroupeOptions(error)),
      Effect.flatMap(() =>
        options.recommendations !== undefined && options.costs !== true
          ? Effect.fail(invalidTroupeOption("recommendations", "needs the costs ledger: costs: true"))
          : Effect.void
      ),
      // a URL the Redis client itself refuses fails here, typed, not when the client is made (the Schema rules out
      // every such URL it knows of)
      Effect.flatMap(() => test || options.redis === undefined ? Effect.void : checkRedisUrl(options.redis.url)),
      Effect.flatMap(() => {
        const configOptions: ConfigStoreOptions = test ? { env: {}, ...options.config } : options.config ?? {}
        return Effect.map(startupConfig(configOptions), (startup) => buildWith(options, test, configOptions, startup))
      })
    )
  )

/** Composes the application layer from validated options and the start-up configuration. */
const buildWith = (options: TroupeOptions, test: boolean, configOptions: ConfigStoreOptions, startup: TroupeConfig) => {
  const name = options.name ?? "troupe"
  const redis = test ? undefined : options.redis
  // never fails start-up: Redis down means degraded (cache L1, limiter failure policy) until it comes (ResilientRedis)
  const redisLayer = redis === undefined ? undefined : resilientRedisLayer(redis.url)
  const prefix = redis?.prefix ?? "troupe:"
  // postgres: costs, budgets and dead letters in its tables (it wins over Redis for those three), in `schema`
  const postgres = test ? undefined : options.postgres
  const pgLayer = postgres === undefined ? undefined : postgresLayer(postgres.url)
  const pgSchema = { schema: postgres?.schema ?? "public" }

  const root = Supervisor.layerRoot({ name, maxRestarts: 10, maxSeconds: 60 }).pipe(Layer.provideMerge(Lifecycle.layer))
  // telemetry.*: reporterWindow sizes the reporter; enabled: false records no metrics and exports nothing;
  // otlp.enabled exports spans and metrics to otlp.endpoint with otlp.headers, as serviceName
  const tele = startup.telemetry
  const hubOptions: TelemetryHubOptions = {
    windowSize: tele.reporterWindow,
    ...(tele.enabled ? {} : { metrics: [] }),
    ...options.telemetry
  }
  const hub = TelemetryHub.layer(hubOptions)
  const otlp = tele.enabled && tele.otlp.enabled
    ? OtelExport.layer({
      serviceName: tele.serviceName,
      ...(tele.otlp.endpoint !== undefined ? { endpoint: tele.otlp.endpoint } : {}),
      headers: Object.fromEntries(Object.entries(tele.otlp.headers).map(([k, v]) => [k, Redacted.value(v)]))
    })
    : Layer.empty
  const telemetry = layerLifecycleBridge.pipe(Layer.provideMerge(Layer.merge(hub, otlp)))
  const config = ConfigStore.layerNode(configOptions)
  // given policies are merged over the provider defaults (so `default` and the other providers stay), unless told
  // to replace them
  const given = options.rateLimiter?.policies
  const limiterOptions: RateLimiterOptionsInput | undefined =
    given === undefined || options.replaceDefaultPolicies === true
      ? options.rateLimiter
      : { ...options.rateLimiter, policies: { ...providerDefaults, ...given } }
  const rateLimiter = RateLimiterConfigSync.layer.pipe(
    Layer.provideMerge(
      redisLayer === undefined
        ? RateLimiter.layerMemory(limiterOptions)
        : RateLimiter.layerRedis({ prefix: `${prefix}rl:`, ...limiterOptions }).pipe(Layer.provide(redisLayer))
    )
  )
  // cache.*: maxEntries and ttl size the response cache (Troupe options win), backend and redisPrefix its Redis tier
  const cacheSection = startup.cache
  const cacheOptions = {
    name: "responses",
    maxEntries: options.cache?.maxEntries ?? cacheSection.maxEntries,
    defaultTtl: options.cache?.defaultTtl ?? Duration.millis(cacheSection.ttl)
  }
  const tiered = cacheSection.backend === undefined ? redisLayer !== undefined : cacheSection.backend === "redis"
  const backendError = tiered && redisLayer === undefined
    ? new ConfigValidationError({
      operation: "initial",
      issues: [{ path: "cache.backend", message: "\"redis\" needs a Redis server: Troupe.layer({ redis: { url } })" }]
    })
    : undefined
  const cache = !tiered || redisLayer === undefined
    ? Cache.layerMemory(cacheOptions)
    : Cache.layerTiered({
      ...cacheOptions,
      redis: { value: Schema.Json, prefix: cacheSection.redisPrefix ?? `${prefix}cache:` }
    }).pipe(
      Layer.provide(redisLayer)
    )
  const providers = isScripted(options.providers)
    ? ProviderRegistry.layerScripted(options.providers.scripted)
    : test
    ? ProviderRegistry.layerScripted()
    : ProviderRegistry.layerFromConfig({ scriptedWhenNoKey: {}, ...options.providers }).pipe(
      Layer.provide(httpClientLayer),
      Layer.provide(ProviderPools.layer())
    )
  // cache.enabled is live: a watcher keeps the flag the response-cache step reads on every call
  const cacheEnabled = { current: cacheSection.enabled }
  const watchCacheEnabled = Layer.effectDiscard(Effect.gen(function*() {
    const store = yield* ConfigStore
    const changes = yield* store.subscribe
    cacheEnabled.current = (yield* store.get).cache.enabled
    yield* Effect.forkScoped(Stream.runForEach(changes, (change) =>
      Effect.sync(() => {
        cacheEnabled.current = change.config.cache.enabled
      })))
  }))
  // with Redis, the breakers' circuits live there too: processes on one Redis see the same open circuits
  const breakerStore = redisLayer === undefined
    ? {}
    : { breakerStore: CircuitBreaker.layerStoreRedis({ prefix: `${prefix}breaker:` }).pipe(Layer.provide(redisLayer)) }
  const pipelineOptions: LlmPipelineOptions = options.pipeline?.cache === false
    ? { ...breakerStore, ...options.pipeline }
    : {
      ...breakerStore,
      ...options.pipeline,
      cache: { ...options.pipeline?.cache, enabled: () => cacheEnabled.current }
    }
  // costs / budgets / deadLetters: the optional services the pipeline's steps find in its context (see TroupeOptions)
  // only constant, valid options are passed (no `ttl` or `timeout`): orDie never dies here. On Redis and PostgreSQL the settle runs
  // in the background: the pipeline's budget step ignores its result, so a response never waits on that round trip
  const budgets: Layer.Layer<Budgets, StoreStartError> | undefined = options.budgets !== true
    ? undefined
    : pgLayer !== undefined
    ? Budgets.layerPostgres({ ...pgSchema, settle: "background" }).pipe(Layer.provide(pgLayer))
    : redisLayer === undefined
    ? Budgets.layerMemory().pipe(Layer.orDie)
    : Budgets.layerRedis({ prefix: `${prefix}budget:`, settle: "background" }).pipe(
      Layer.provide(redisLayer),
      Layer.orDie
    )
  const redrive = new PipelineRedrive()
  const deadLetters: Layer.Layer<DeadLetters, StoreStartError> | undefined = options.deadLetters !== true
    ? undefined
    : pgLayer !== undefined
    ? DeadLetters.layerPostgres({ ...pgSchema, redrive: redrive.handler }).pipe(Layer.provide(pgLayer))
    : redisLayer === undefined
    ? DeadLetters.layerMemory({ redrive: redrive.handler })
    : DeadLetters.layerRedis({ prefix: `${prefix}dlq:`, redrive: redrive.handler }).pipe(Layer.provide(redisLayer))
  const costs: Layer.Layer<Costs, StoreStartError> | undefined = options.costs !== true
    ? undefined
    : pgLayer !== undefined
    ? Costs.layerPostgres(pgSchema).pipe(Layer.provide(pgLayer))
    : redisLayer === undefined
    ? Costs.layerMemory()
    // the only option is a string prefix, which never fails the options check: orDie never dies here
    : Costs.layerRedis({ prefix: `${prefix}costs:` }).pipe(Layer.provide(redisLayer), Layer.orDie)
  // router: the options win, else the configuration's `router` section when it names a route
  const routerOptions = options.router ??
    (startup.router !== undefined && Object.keys(startup.router.routes).length > 0 ? startup.router : undefined)
  // recommendations (with costs, checked by build): over the same ledger and budgets; the sibling judge reports to it
  const { sibling: siblingOptions, ...recommendationsOptions } = options.recommendations ?? {}
  const recommendations = options.recommendations === undefined || costs === undefined
    ? undefined
    : Recommendations.layer(recommendationsOptions).pipe(Layer.provide(Layer.merge(costs, budgets ?? Layer.empty)))
  // the same layer values feed the steps and the context (a layer is built once per value), so one store serves both
  const queues = options.queues === undefined ? undefined : QueueStep.layer(options.queues)
  const steps = Layer.mergeAll(
    budgets === undefined ? Layer.empty : BudgetStep.layer().pipe(Layer.provide(budgets)),
    deadLetters === undefined ? Layer.empty : DeadLetterStep.layer({ redrive }).pipe(Layer.provide(deadLetters)),
    queues ?? Layer.empty,
    routerOptions === undefined ? Layer.empty : RouterStep.layer(routerOptions),
    recommendations === undefined || siblingOptions === undefined
      ? Layer.empty
      : SiblingStep.layer(siblingOptions).pipe(Layer.provide(recommendations))
  )
  // typed as `Llm` only: the optional services are in the context at run time (found with Effect.serviceOption)
  const pipeline: Layer.Layer<
    Llm,
    InvalidPipelineOptions | InvalidCacheOptions | StoreStartError,
    ConfigStore | Cache | RateLimiter | ProviderRegistry
  > = LlmPipeline.layerWith({ ...pipelineOptions, steps }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        untypedOr(costs),
        untypedOr(budgets),
        untypedOr(deadLetters),
        untypedOr(queues),
        untypedOr(recommendations)
      )
    )
  )
  const llm = pipeline.pipe(Layer.provideMerge(providers), Layer.provideMerge(watchCacheEnabled))
  const memory = redisLayer === undefined
    ? memoryInProcess(options.memory)
    : memoryInRedis({ prefix: `${prefix}memory:`, ...options.memory }).pipe(Layer.provide(redisLayer))
  const agents = AgentServer.layer({ name: "agents", ...options.agents }).pipe(
    Layer.provideMerge(DirectiveExecutor.layer),
    Layer.provideMerge(Bus.layer())
  )

  // errors (on unless `errors: false`): analytics and handlers under the pipeline, which finds them when it is built
  const errorsOptions = options.errors === false ? undefined : options.errors === true ? {} : options.errors ?? {}
  const { maxHandlers, ...analyticsOptions } = errorsOptions ?? {}
  // typed in `OptionalServices` (the services are in the context; see `withOptional`)
  const errors: Layer.Layer<never, InvalidOptions, TelemetryHub> = errorsOptions === undefined
    ? Layer.empty
    : ErrorHandlers.layer(maxHandlers === undefined ? {} : { maxHandlers }).pipe(
      Layer.provideMerge(ErrorAnalytics.layerMemory(analyticsOptions))
    )

  const full = agents.pipe(
    Layer.provideMerge(memory),
    Layer.provideMerge(llm),
    Layer.provideMerge(SubjectIndex.layerMemory()),
    Layer.provideMerge(cache),
    Layer.provideMerge(rateLimiter),
    Layer.provideMerge(config),
    Layer.provideMerge(errors),
    Layer.provideMerge(telemetry),
    Layer.provideMerge(root),
    Layer.provideMerge(maskingLoggerLayer)
  )
  // a misconfigured cache backend fails the layer before anything starts (the cast: that layer never succeeds)
  return backendError === undefined
    ? full
    : Layer.unwrap(Effect.fail(backendError) as unknown as Effect.Effect<typeof full, ConfigValidationError>)
}

/**
 * The application layer: every troupe service under one root supervisor.
 *
 * Fails with `InvalidTroupeOptions` when `options` do not decode (e.g. a `redis.url` that is not a
 * `redis://` or `rediss://` URL, or an option of the wrong type), with a service's own error when its options are
 * invalid, and with `SqlError` when `postgres` is given and the server does not answer at start. Never fails
 * because of Redis: a server that does not answer at start means starting degraded (see `resilientRedisLayer`).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const llm = yield* Llm
 *   const answer = yield* llm.generate({ model: "fast", messages: [{ role: "user", content: "hi" }] })
 * }).pipe(Effect.provide(Troupe.layer()))
 * ```
 */
export const layer = <const O extends TroupeOptions = {}>(options?: O) => withOptional<O>()(build(options ?? {}, false))

/**
 * In memory, scripted model, no process environment, no network: for tests (with `TestClock`) and demos. Fails
 * with `InvalidTroupeOptions` when `options` do not decode (`redis` is validated, then ignored).
 */
export const layerTest = <const O extends TroupeOptions = {}>(options?: O) =>
  withOptional<O>()(build(options ?? {}, true))

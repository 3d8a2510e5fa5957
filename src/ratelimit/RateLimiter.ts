/**
 * `RateLimiter`: troupe's rate-limiting service — named multi-tier policies (token bucket, sliding window,
 * fixed window), weighted costs, `check` (never waits), FIFO `acquire` (waits exactly until due), `status`,
 * `reset`, `penalty` / `reward`, and runtime policy changes that keep per-key state. Backends: memory (the
 * embedded default) and Redis (many instances), with a `failOpen` / `failClosed` / `insurance` policy for
 * store errors.
 *
 * OTP mirror: the limiter state is owned by the service (a GenServer's state) and its timers — the idle-key
 * sweep and the interval-refill `:refill` tick — run as supervised children of the layer (see
 * `Background.ts`), so a crashing sweeper is restarted and time is fully controlled by `TestClock`.
 *
 * Reuse vs Effect (`effect/persistence/RateLimiter`): we reuse its Redis plumbing (the `Redis` service and
 * `@effect/platform-node`'s `NodeRedis` client; scripts run by SHA with a reload on NOSCRIPT, as `Redis.eval`
 * does, but without its per-call cache lookup — see `RedisScriptRunner.ts`) and its result/error vocabulary
 * (`remaining`, `resetAfter`, `retryAfter`), and we ported its TestClock scenarios into our conformance
 * suite. The Redis layout (all tiers of a key in one packed string) is in `RedisScript.ts`. Hand-rolled
 * because Effect lacks them: several tiers checked atomically, the sliding window, interval refill, FIFO
 * `acquire` with exact wake-ups, penalties/rewards, policy registry with live updates, idle-key eviction (its
 * memory store never evicts), store-error fallbacks, and a synchronous memory hot path (its memory store
 * goes through two Effect layers per call).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter
 *   const key = RateLimitKey.make({ provider: "anthropic", user: "u1" }) // uses the `anthropic` policy
 *   const ok = yield* limiter.check(key, { cost: 1 })                       // Allowed | RateLimited
 *   yield* limiter.acquire(key, { cost: 1, timeout: "30 seconds" })        // waits in FIFO order
 * }).pipe(Effect.provide(RateLimiter.layerMemory()))
 * ```
 */
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Option,
  PubSub,
  Schema,
  type Scope,
  Stream
} from "effect"
import type { Redis } from "effect/persistence"
import * as InlineEffect from "../internal/InlineEffect.ts"
import { Events, TelemetryHub } from "../telemetry/index.ts"
import { AcquireQueue } from "./internal/AcquireQueue.ts"
import { supervise, sweepLoop } from "./internal/Background.ts"
import { makeMemoryBackend } from "./internal/MemoryBackend.ts"
import { DEFAULT_MAX_KEYS, MemoryStore } from "./internal/MemoryStore.ts"
import { PolicyRegistry } from "./internal/PolicyRegistry.ts"
import type { RateLimitBackend } from "./internal/RateLimitBackend.ts"
import { makeRedisBackend, type StoreErrorPolicy, type StoreFailureReporter } from "./internal/RedisBackend.ts"
import { DEFAULT_POLICY, providerDefaults } from "./ProviderDefaults.ts"
import { InvalidRateLimitInput, RateLimited, type RateLimitStoreError } from "./RateLimitError.ts"
import { MAX_KEY_LENGTH } from "./RateLimitKey.ts"
import {
  type CompiledPolicy,
  PositiveDuration,
  type RateLimitPolicy,
  type RateLimitPolicyInput,
  toInvalidInput
} from "./RateLimitPolicy.ts"
import type { Allowed, RateLimiterEvent, RateLimiterStats, RateLimitStatus, Refusal } from "./RateLimitResult.ts"

// ---------------------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------------------

const PolicyMapInput = Schema.Record(Schema.String, Schema.Unknown)

/** Options of every RateLimiter layer (JSON-friendly; durations as ms or strings). */
export const RateLimiterOptions = Schema.Struct({
  /** the limiter's name in telemetry events (`limiter` metadata); default `"rate-limiter"` */
  name: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  /** named policies; default: `providerDefaults` (which include `default`) */
  policies: Schema.optionalKey(PolicyMapInput),
  /** policy used when a check names none and the key has no known provider scope; default `"default"` */
  defaultPolicy: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  /** how often the idle-key sweep runs; default 1 minute */
  sweepInterval: Schema.optionalKey(PositiveDuration),
  /** longest accepted key; default 512 */
  maxKeyLength: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65_536 }))),
  /**
   * most keys held in process memory (the memory store, or the Redis backend's insurance limiter); default
   * 100,000. Beyond it keys back to fresh are dropped first, then the oldest (see `MemoryStore.ts`).
   */
  maxKeys: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 16, maximum: 100_000_000 })))
})
/** The options of the memory layer as a caller writes them. */
export type RateLimiterOptionsInput = typeof RateLimiterOptions.Encoded

/** Options of the Redis layer: the common ones plus the store settings. */
export const RedisRateLimiterOptions = Schema.Struct({
  ...RateLimiterOptions.fields,
  /** key prefix in Redis; default `"troupe:rl:"` */
  prefix: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(256))),
  /** what happens on store errors; default `"insurance"` */
  onStoreError: Schema.optionalKey(Schema.Literals(["failOpen", "failClosed", "insurance"])),
  /** whose clock the script uses; default `"caller"` (see `RedisBackend.ts`) */
  clock: Schema.optionalKey(Schema.Literals(["caller", "server"])),
  /**
   * real time after which a store call counts as failed; default 1 second. With node-redis (`NodeRedis`) a
   * shared watchdog enforces it (fires within 1.25 x the timeout, no per-call timer); with another `Redis`
   * client, an Effect-level real-time race per call (see `RedisScriptRunner.ts`)
   */
  storeTimeout: Schema.optionalKey(PositiveDuration),
  /** real time during which calls skip the store once it is found down (fallback answers); default 1 second */
  storeCooldown: Schema.optionalKey(PositiveDuration),
  /**
   * consecutive timed-out calls after which the store counts as down (a connection error counts at once);
   * default 3. A single slow call is answered by the failure policy without diverting the next calls.
   */
  timeoutCircuit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))),
  /** processes sharing the limits: the `insurance` limiter admits limit / expectedProcesses per tier; default 4 */
  expectedProcesses: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })))
})
/** The options of the Redis layer as a caller writes them. */
export type RedisRateLimiterOptionsInput = typeof RedisRateLimiterOptions.Encoded

/** Non-serialisable extras: a synchronous hook called with every event. */
export interface RateLimiterHooks {
  readonly onEvent?: (event: RateLimiterEvent) => void
}

// ---------------------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------------------

/** Options of `check`: the policy and the cost. */
export interface CheckOptions {
  /** weight of the request (requests, tokens…); default 1 */
  readonly cost?: number
  /** policy name; default: the key's provider policy, else the default policy */
  readonly policy?: string
}

/** Options of `acquire`: those of `check` plus how long to wait. */
export interface AcquireOptions extends CheckOptions {
  /** longest acceptable wait; default: unbounded. A wait known to exceed it fails at once. */
  readonly timeout?: Duration.Input
}

/** What a check can fail with: refused, invalid input, or the store down under `failClosed`. */
export type CheckError = RateLimited | InvalidRateLimitInput | RateLimitStoreError

/** The rate limiter service. */
export interface RateLimiterShape {
  /**
   * Admits `cost` now on every tier, or fails with `RateLimited` (exact `retryAfter`). Never waits. Fails with
   * `RateLimited` when a tier has no room for `cost` now or a caller is queued in `acquire` on the key; with
   * `InvalidRateLimitInput` when the key is empty or longer than `maxKeyLength` (default 512), `cost` is not a finite
   * number above 0, `options` is not an object, or the `policy` option names no installed policy; with
   * `RateLimitStoreError` only on the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within
   * `storeTimeout`, the connection is down, Redis answers with an error, or calls skip Redis while it cools down after
   * an outage (never on the memory layer, nor under `failOpen` / `insurance`).
   */
  readonly check: (key: string, options?: CheckOptions) => Effect.Effect<Allowed, CheckError>
  /**
   * Waits in FIFO order per key until `cost` is admitted, under the policy in force at each re-check (a policy change
   * applies to waiters at once); fails at once if the wait would exceed `timeout`. Fails with `RateLimited` when the
   * wait would exceed `timeout` (at once when the queue ahead predicts it, else as soon as a re-check shows the
   * deadline cannot be met) or `cost` exceeds a tier's limit; with `InvalidRateLimitInput` when the key is empty or
   * longer than `maxKeyLength` (default 512), `cost` is not a finite number above 0, `timeout` is not a non-negative
   * duration, or the `policy` option names no installed policy (also once it is removed while the caller waits); with
   * `RateLimitStoreError` only on the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within
   * `storeTimeout`, the connection is down, Redis answers with an error, or calls skip Redis while it cools down after
   * an outage (never on the memory layer, nor under `failOpen` / `insurance`).
   */
  readonly acquire: (key: string, options?: AcquireOptions) => Effect.Effect<Allowed, CheckError>
  /**
   * A key's state per tier without consuming. Fails with `InvalidRateLimitInput` when the key is empty or longer than
   * `maxKeyLength` (default 512) or the `policy` option names no installed policy; with `RateLimitStoreError` only on
   * the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within `storeTimeout`, the connection
   * is down, Redis answers with an error, or calls skip Redis while it cools down after an outage (never on the memory
   * layer, nor under `failOpen` / `insurance`).
   */
  readonly status: (
    key: string,
    options?: { readonly policy?: string }
  ) => Effect.Effect<RateLimitStatus, InvalidRateLimitInput | RateLimitStoreError>
  /**
   * Forgets a key (all tiers back to full). Fails with `InvalidRateLimitInput` when the key is empty or longer than
   * `maxKeyLength` (default 512) or the `policy` option names no installed policy; with `RateLimitStoreError` only on
   * the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within `storeTimeout`, the connection
   * is down, Redis answers with an error, or calls skip Redis while it cools down after an outage (never on the memory
   * layer, nor under `failOpen` / `insurance`).
   */
  readonly reset: (
    key: string,
    options?: { readonly policy?: string }
  ) => Effect.Effect<void, InvalidRateLimitInput | RateLimitStoreError>
  /**
   * Removes `amount` tokens / adds `amount` window hits on every tier (clamped; buckets never go negative). Fails with
   * `InvalidRateLimitInput` when `amount` is not a finite number above 0, the key is empty or longer than
   * `maxKeyLength` (default 512), or the `policy` option names no installed policy; with `RateLimitStoreError` only on
   * the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within `storeTimeout`, the connection
   * is down, Redis answers with an error, or calls skip Redis while it cools down after an outage (never on the memory
   * layer, nor under `failOpen` / `insurance`).
   */
  readonly penalty: (
    key: string,
    amount: number,
    options?: { readonly policy?: string }
  ) => Effect.Effect<void, InvalidRateLimitInput | RateLimitStoreError>
  /**
   * Adds `amount` tokens / removes `amount` window hits on every tier (clamped to the limits). Fails with
   * `InvalidRateLimitInput` when `amount` is not a finite number above 0, the key is empty or longer than
   * `maxKeyLength` (default 512), or the `policy` option names no installed policy; with `RateLimitStoreError` only on
   * the Redis layer with `onStoreError: "failClosed"`, when Redis does not answer within `storeTimeout`, the connection
   * is down, Redis answers with an error, or calls skip Redis while it cools down after an outage (never on the memory
   * layer, nor under `failOpen` / `insurance`).
   */
  readonly reward: (
    key: string,
    amount: number,
    options?: { readonly policy?: string }
  ) => Effect.Effect<void, InvalidRateLimitInput | RateLimitStoreError>
  /**
   * Installs or replaces one named policy (JSON or typed); keys keep their state. Fails with `InvalidRateLimitInput`
   * (nothing installed) when `name` is empty or longer than 128 characters, the policy does not decode (see
   * `decodePolicy`: no or more than 16 tiers, a non-positive limit, a duration under 1 ms…) or two of its tiers
   * share a name.
   */
  readonly setPolicy: (
    name: string,
    policy: RateLimitPolicy | RateLimitPolicyInput
  ) => Effect.Effect<void, InvalidRateLimitInput>
  /**
   * Installs or replaces several policies at once (all validated first); others are kept. Fails with
   * `InvalidRateLimitInput` (nothing installed) when `policies` is not a record, a name is empty or longer than 128
   * characters, or a policy does not decode or has two tiers of the same name (as `setPolicy`).
   */
  readonly updatePolicies: (
    policies: Readonly<Record<string, RateLimitPolicy | RateLimitPolicyInput>>
  ) => Effect.Effect<void, InvalidRateLimitInput>
  /**
   * Makes the policy set exactly `policies` (the default policy is kept if absent); for a config `changes` stream.
   * Fails with `InvalidRateLimitInput` (nothing changed) for the same inputs as `updatePolicies`.
   */
  readonly applyPolicies: (
    policies: Readonly<Record<string, RateLimitPolicy | RateLimitPolicyInput>>
  ) => Effect.Effect<void, InvalidRateLimitInput>
  /** The installed policies (typed form). */
  readonly policies: Effect.Effect<ReadonlyMap<string, RateLimitPolicy>>
  readonly stats: Effect.Effect<RateLimiterStats>
  /** Fallbacks, recoveries, policy changes, evictions (subscribe before the events you want to see). */
  readonly events: Stream.Stream<RateLimiterEvent>
}

/**
 * The RateLimiter service.
 *
 * @example
 * ```ts
 * Effect.gen(function*() {
 *   const limiter = yield* RateLimiter
 *   yield* limiter.check("user:1", { cost: 3 })
 * }).pipe(Effect.provide(RateLimiter.layerMemory({ policies: { default: { tiers: [
 *   { _tag: "TokenBucket", capacity: 10, refillTokens: 1, refillEvery: "1 second" }] } } })))
 * ```
 */
export class RateLimiter extends Context.Service<RateLimiter, RateLimiterShape>()("troupe/RateLimiter") {
  /**
   * In-memory limiter (process-local); `hooks.onEvent` sees every decision. Fails to build with
   * `InvalidRateLimitInput` on bad options: one that does not decode (an empty `name` or `defaultPolicy`, a
   * `maxKeyLength` outside 1–65,536, `maxKeys` outside 16–100,000,000, a `sweepInterval` under 1 ms), a policy that
   * does not decode, or policies that lack the default policy.
   */
  static readonly layerMemory = (
    { hooks = {}, ...options }: RateLimiterOptionsInput & { readonly hooks?: RateLimiterHooks } = {}
  ): Layer.Layer<RateLimiter, InvalidRateLimitInput> => Layer.effect(RateLimiter, makeMemory(options, hooks))

  /**
   * Redis-backed limiter shared by many processes; needs effect's `Redis` service (e.g. `NodeRedis.layer`). Fails to
   * build with `InvalidRateLimitInput` when an option does not decode (an empty `name` or `defaultPolicy`, a
   * `maxKeyLength` outside 1–65,536, `maxKeys` outside 16–100,000,000, a `prefix` over 256 characters, an unknown
   * `onStoreError` or `clock`, a duration under 1 ms, `timeoutCircuit` or `expectedProcesses` outside 1–1,000,000),
   * a policy does not decode, or the policies lack the default policy. Redis is not contacted to build it.
   */
  static readonly layerRedis = (
    { hooks = {}, ...options }: RedisRateLimiterOptionsInput & { readonly hooks?: RateLimiterHooks } = {}
  ): Layer.Layer<RateLimiter, InvalidRateLimitInput, Redis.Redis> =>
    Layer.effect(RateLimiter, makeRedis(options, hooks))

  /**
   * `applyPolicies` through the service (what the config store calls on each `changes` element). Fails with
   * `InvalidRateLimitInput` (nothing changed) when `policies` is not a record, a name is empty or longer than 128
   * characters, or a policy does not decode or has two tiers of the same name.
   */
  static readonly applyPolicies = (
    policies: Readonly<Record<string, RateLimitPolicy | RateLimitPolicyInput>>
  ): Effect.Effect<void, InvalidRateLimitInput, RateLimiter> =>
    RateLimiter.use((limiter) => limiter.applyPolicies(policies))
}

const fallbackCounter = Metric.counter("troupe_ratelimit_store_fallbacks_total", {
  description: "RateLimiter store errors answered by the failure policy (attributes: mode, operation)",
  incremental: true
})

interface Config {
  readonly name: string
  readonly maxKeyLength: number
  readonly sweepIntervalMs: number
  readonly hooks: RateLimiterHooks
}

const decodeOptions = <S extends Schema.Top>(schema: S, input: unknown) =>
  // the decoder of S yields S["Type"]; its only failure is mapped to InvalidRateLimitInput
  Schema.decodeUnknownEffect(schema)(input).pipe(Effect.mapError(toInvalidInput([]))) as Effect.Effect<
    S["Type"],
    InvalidRateLimitInput
  >

const makeRegistry = (options: typeof RateLimiterOptions.Type) =>
  Effect.gen(function*() {
    const registry = new PolicyRegistry(options.defaultPolicy ?? DEFAULT_POLICY)
    yield* registry.install(options.policies ?? providerDefaults, true)
    return registry
  })

const configOf = (options: typeof RateLimiterOptions.Type, hooks: RateLimiterHooks): Config => ({
  name: options.name ?? "rate-limiter",
  maxKeyLength: options.maxKeyLength ?? MAX_KEY_LENGTH,
  sweepIntervalMs: options.sweepInterval === undefined ? 60_000 : Duration.toMillis(options.sweepInterval),
  hooks
})

const makeMemory = (input: RateLimiterOptionsInput, hooks: RateLimiterHooks) =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(RateLimiterOptions, input)
    const registry = yield* makeRegistry(options)
    return yield* makeService(
      () => Effect.succeed(makeMemoryBackend(new MemoryStore(options.maxKeys ?? DEFAULT_MAX_KEYS))),
      registry,
      configOf(options, hooks)
    )
  })

const makeRedis = (input: RedisRateLimiterOptionsInput, hooks: RateLimiterHooks) =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(RedisRateLimiterOptions, input)
    const registry = yield* makeRegistry(options)
    return yield* makeService(
      (reporter) =>
        makeRedisBackend({
          prefix: options.prefix ?? "troupe:rl:",
          onStoreError: options.onStoreError ?? "insurance",
          clock: options.clock ?? "caller",
          storeTimeoutMs: options.storeTimeout === undefined ? 1_000 : Duration.toMillis(options.storeTimeout),
          storeCooldownMs: options.storeCooldown === undefined ? 1_000 : Duration.toMillis(options.storeCooldown),
          timeoutCircuit: options.timeoutCircuit ?? 3,
          expectedProcesses: options.expectedProcesses ?? 4,
          maxKeys: options.maxKeys ?? DEFAULT_MAX_KEYS
        }, reporter),
      registry,
      configOf(options, hooks)
    )
  })

const makeService = <R>(
  makeBackend: (reporter: StoreFailureReporter) => Effect.Effect<RateLimitBackend, never, R>,
  registry: PolicyRegistry,
  config: Config
): Effect.Effect<RateLimiterShape, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const pubsub = yield* PubSub.sliding<RateLimiterEvent>(1024)
    const n = {
      checks: 0,
      allowed: 0,
      limited: 0,
      acquired: 0,
      acquireRejected: 0,
      storeErrors: 0,
      failOpen: 0,
      failClosed: 0,
      insurance: 0
    }
    let consecutiveFailures = 0

    const emit = (event: RateLimiterEvent): void => {
      PubSub.publishUnsafe(pubsub, event)
      config.hooks.onEvent?.(event)
    }

    const reporter: StoreFailureReporter = {
      failure: (mode: StoreErrorPolicy, operation, key, error) =>
        Effect.suspend(() => {
          n.storeErrors++
          n[mode]++
          const first = consecutiveFailures === 0
          consecutiveFailures++
          emit({
            _tag: "StoreFallback",
            mode,
            operation,
            key,
            reason: error.reason,
            timestamp: clock.currentTimeMillisUnsafe()
          })
          const log = first
            ? Effect.logWarning(`RateLimiter store failed (${operation}); ${mode} takes over: ${error.reason}`)
            : Effect.logDebug(`RateLimiter store failed (${operation}); ${mode}: ${error.reason}`)
          return Effect.andThen(Metric.update(Metric.withAttributes(fallbackCounter, { mode, operation }), 1), log)
        }),
      success: Effect.suspend(() => {
        if (consecutiveFailures === 0) return Effect.void
        const failures = consecutiveFailures
        consecutiveFailures = 0
        emit({ _tag: "StoreRecovered", failures, timestamp: clock.currentTimeMillisUnsafe() })
        return Effect.logInfo(`RateLimiter store recovered after ${failures} failed calls`)
      })
    }

    const backend = yield* makeBackend(reporter)

    // `troupe.rate_limiter.limited` for a TelemetryHub in the context (see the catalogue): every refusal of a
    // check and every acquire rejected up front goes through `makeLimited`.
    const hub = yield* Effect.serviceOption(TelemetryHub)
    const emitLimited = Option.isSome(hub) ? hub.value.emitUnsafe : undefined
    const makeLimited = (key: string, policy: CompiledPolicy, cost: number, refusal: Refusal): RateLimited => {
      const tier = policy.tiers[refusal.tierIndex] ?? policy.tiers[0]
      emitLimited?.(Events.rateLimited, { count: 1, retry_after: refusal.retryAfterMillis }, {
        limiter: config.name,
        policy: policy.name,
        tier: tier?.name ?? ""
      })
      return new RateLimited({
        key,
        policy: policy.name,
        tier: tier?.name ?? "",
        limit: tier?.limit ?? 0,
        cost,
        retryAfterMillis: refusal.retryAfterMillis
      })
    }
    const queue = new AcquireQueue(backend, makeLimited, clock, registry)

    // --- validation (hand-written equivalents of the option schemas: this is the hot path) ---------------
    const invalidKey = (key: unknown): InvalidRateLimitInput | undefined => {
      if (typeof key !== "string") return InvalidRateLimitInput.at(["key"], "Expected a string")
      if (key.length === 0) return InvalidRateLimitInput.at(["key"], "Expected a non-empty key")
      if (key.length > config.maxKeyLength) {
        return InvalidRateLimitInput.at(
          ["key"],
          `key too long: ${key.length} characters, the limit is ${config.maxKeyLength}`
        )
      }
      return undefined
    }
    const invalidAmount = (field: string, value: unknown): InvalidRateLimitInput | undefined =>
      typeof value === "number" && value > 0 && value !== Number.POSITIVE_INFINITY
        ? undefined
        : InvalidRateLimitInput.at([field], `Expected a finite number greater than 0, got ${String(value)}`)
    const policyOf = (key: string, name: unknown) => registry.policyOf(key, name)
    const isInvalid = (x: CompiledPolicy | InvalidRateLimitInput): x is InvalidRateLimitInput =>
      x instanceof InvalidRateLimitInput

    const decideSync = backend.decideSync
    const memory = backend.memory
    const leases = backend.leases

    // `check(key)` and `check(key, options)` complete synchronously under `yield*` when the backend decides at once
    // (the memory store, a leased policy served from its lease): see `InlineEffect`. For a store round trip they
    // are ordinary effects.
    const check = (key: string, options?: CheckOptions): Effect.Effect<Allowed, CheckError> =>
      options === undefined ? InlineEffect.inline(checkNow, key) : InlineEffect.inline2(checkOptions, key, options)
    const checkNow = (key: string): Effect.Effect<Allowed, CheckError> => checkWith(key, undefined)
    const checkOptions = (key: string, options: CheckOptions): Effect.Effect<Allowed, CheckError> =>
      typeof options === "object" && options !== null // untyped callers (`null`): a typed failure, never a throw
        ? checkWith(key, options)
        : Exit.fail(InvalidRateLimitInput.at(["options"], "Expected an options object or undefined"))
    const checkWith = (key: string, options: CheckOptions | undefined): Effect.Effect<Allowed, CheckError> => {
      const cost = options === undefined || options.cost === undefined ? 1 : options.cost
      const bad = invalidKey(key) ?? (cost === 1 ? undefined : invalidAmount("cost", cost))
      if (bad !== undefined) return Exit.fail(bad)
      const policy = options === undefined || options.policy === undefined
        ? registry.resolve(key, undefined)
        : policyOf(key, options.policy)
      if (policy === undefined || isInvalid(policy)) {
        return Exit.fail(policy ?? InvalidRateLimitInput.at(["policy"], "no default policy"))
      }
      n.checks++
      const now = clock.currentTimeMillisUnsafe()
      if (queue.hasWaiters(key)) {
        return Effect.flatMap(queue.queuedRefusal(key, policy, cost, now), (refusal) => {
          n.limited++
          return Exit.fail(makeLimited(key, policy, cost, refusal))
        })
      }
      if (decideSync !== undefined && memory !== undefined) {
        const allowed = decideSync(key, policy, cost, now)
        if (allowed !== undefined) {
          n.allowed++
          return Exit.succeed(allowed)
        }
        n.limited++
        return Exit.fail(
          makeLimited(key, policy, cost, {
            _tag: "Refusal",
            tierIndex: memory.rejectTier,
            retryAfterMillis: memory.rejectRetryMillis
          })
        )
      }
      if (leases !== undefined && policy.lease !== undefined) {
        // leased mode's hot path: a check the process's lease covers is answered without an Effect step
        const served = leases.serveSync(key, policy, cost, now)
        if (served !== undefined) {
          n.allowed++
          return Exit.succeed(served)
        }
      }
      return Effect.flatMap(backend.consume(key, policy, cost, now), (decision) => {
        if (decision._tag === "Allowed") {
          n.allowed++
          return Exit.succeed(decision)
        }
        n.limited++
        return Exit.fail(makeLimited(key, policy, cost, decision))
      })
    }

    const acquire = (key: string, options?: AcquireOptions): Effect.Effect<Allowed, CheckError> =>
      Effect.suspend((): Effect.Effect<Allowed, CheckError> => {
        const cost = options?.cost ?? 1
        const bad = invalidKey(key) ?? invalidAmount("cost", cost)
        if (bad !== undefined) return Exit.fail(bad)
        let timeoutMs = Number.POSITIVE_INFINITY
        if (options?.timeout !== undefined) {
          const timeout = Duration.fromInput(options.timeout)
          if (timeout._tag === "None" || Duration.toMillis(timeout.value) < 0) {
            return Exit.fail(
              InvalidRateLimitInput.at(["timeout"], `Expected a non-negative duration, got ${String(options.timeout)}`)
            )
          }
          timeoutMs = Duration.toMillis(timeout.value)
        }
        const policy = policyOf(key, options?.policy)
        if (isInvalid(policy)) return Exit.fail(policy)
        n.checks++
        return queue.acquire(key, options?.policy, policy, cost, timeoutMs).pipe(
          Effect.tapCause(() => Effect.sync(() => n.acquireRejected++)),
          Effect.tap(() => Effect.sync(() => n.acquired++))
        )
      })

    const withKeyPolicy = <A>(
      key: string,
      options: { readonly policy?: string } | undefined,
      f: (policy: CompiledPolicy, now: number) => Effect.Effect<A, RateLimitStoreError>
    ): Effect.Effect<A, InvalidRateLimitInput | RateLimitStoreError> =>
      Effect.suspend((): Effect.Effect<A, InvalidRateLimitInput | RateLimitStoreError> => {
        const bad = invalidKey(key)
        if (bad !== undefined) return Exit.fail(bad)
        const policy = policyOf(key, options?.policy)
        if (isInvalid(policy)) return Exit.fail(policy)
        return f(policy, clock.currentTimeMillisUnsafe())
      })

    const adjustBy =
      (field: string, sign: 1 | -1) => (key: string, amount: number, options?: { readonly policy?: string }) =>
        Effect.suspend((): Effect.Effect<void, InvalidRateLimitInput | RateLimitStoreError> => {
          const bad = invalidAmount(field, amount)
          if (bad !== undefined) return Exit.fail(bad)
          return withKeyPolicy(key, options, (policy, now) =>
            Effect.tap(backend.adjust(key, policy, sign * amount, now), () =>
              Effect.sync(() =>
                queue.kick(key)
              )))
        })

    const install = (policies: Readonly<Record<string, unknown>>, replace: boolean) =>
      Effect.map(registry.install(policies, replace), ({ names, removed }) =>
        emit({ _tag: "PoliciesChanged", names, removed, timestamp: clock.currentTimeMillisUnsafe() }))

    // --- supervised background children: idle-key sweep and interval-refill ticker -----------------------
    // the sweep sleeps until the next key is due (never once per interval of a clock jump: see `sweepLoop`)
    const store = backend.memory
    const sweeper = store === undefined ? Effect.never : sweepLoop(clock, config.sweepIntervalMs, store.wake, (now) => {
      const dropped = backend.sweep(now)
      if (dropped > 0) {
        emit({ _tag: "KeysEvicted", count: dropped, timestamp: clock.currentTimeMillisUnsafe() })
      }
      return store.nextDue
    })

    // interval ticks only matter to queued acquirers (every other read refills lazily): without waiters the
    // ticker waits for one, so a clock jump does not replay every tick boundary
    const ticker = Effect.gen(function*() {
      while (true) {
        const changed = Deferred.await(registry.changed)
        if (queue.waiting === 0) {
          yield* Effect.raceFirst(changed, Deferred.await(queue.arrival()))
          continue
        }
        const now = clock.currentTimeMillisUnsafe()
        let next = Number.POSITIVE_INFINITY
        for (const period of registry.intervalPeriods()) {
          next = Math.min(next, (Math.floor(now / period) + 1) * period)
        }
        yield* Number.isFinite(next) ? Effect.raceFirst(clock.sleep(Duration.millis(next - now)), changed) : changed
        backend.tick(clock.currentTimeMillisUnsafe())
        queue.kick()
      }
    })

    yield* supervise({
      name: "ratelimiter",
      children: [{ id: "sweeper", run: sweeper }, { id: "refill-ticker", run: ticker }]
    })

    return {
      check,
      acquire,
      status: (key, options) =>
        withKeyPolicy(key, options, (policy, now) =>
          backend.status(key, policy, now)),
      reset: (key, options) =>
        withKeyPolicy(key, options, (policy) =>
          Effect.tap(backend.reset(key, policy), () =>
            Effect.sync(() =>
              queue.kick(key)
            ))),
      penalty: adjustBy("amount", 1),
      reward: adjustBy("amount", -1),
      setPolicy: (name, policy) =>
        install({ [name]: policy }, false),
      updatePolicies: (policies) => install(policies, false),
      applyPolicies: (policies) => install(policies, true),
      policies: Effect.sync(() => new Map([...registry.byName].map(([name, p]) => [name, p.source]))),
      stats: Effect.sync((): RateLimiterStats => ({
        backend: backend.kind,
        checks: n.checks,
        allowed: n.allowed + n.acquired,
        limited: n.limited,
        acquired: n.acquired,
        acquireRejected: n.acquireRejected,
        waiting: queue.waiting,
        keys: backend.keys(),
        evicted: backend.evicted(),
        storeErrors: n.storeErrors,
        fallbacks: { failOpen: n.failOpen, failClosed: n.failClosed, insurance: n.insurance },
        leases: backend.leases === undefined
          ? { outstanding: 0, requests: 0, served: 0, dropped: 0 }
          : {
            outstanding: backend.leases.outstanding,
            requests: backend.leases.requests,
            served: backend.leases.served,
            dropped: backend.leases.dropped
          }
      })),
      events: Stream.fromPubSub(pubsub)
    } satisfies RateLimiterShape
  })

/**
 * The Redis backend: shared state for many processes. Every operation on a key is one atomic `EVALSHA` of
 * the script in `RedisScript.ts` (all tiers at once), through Effect's `Redis` service (`effect/persistence`,
 * provided by `@effect/platform-node`'s `NodeRedis.layer`), which loads the script and reloads it on
 * `NOSCRIPT`. Keys carry `PEXPIRE` and are deleted once back to fresh, so Redis memory is bounded by the
 * active keys.
 *
 * Whose clock: by default the *caller's* Effect `Clock`, passed as `ARGV`. Reasons: (1) the same conformance
 * suite runs on memory and Redis under `TestClock`, with exact `retryAfter` values and wake-ups; (2) the
 * `retryAfter` a caller sleeps on is measured on the clock that sleeps; (3) scripts stay deterministic.
 * The cost: processes share one notion of time only as well as their clocks are synchronised (NTP keeps this
 * in the low milliseconds; a skewed caller can at worst see a bucket refilled a few ms early or late). Set
 * `clock: "server"` to use Redis `TIME` inside the script instead (one clock for all callers, e.g. with
 * badly synchronised hosts); the waits returned are then relative to the server's time.
 *
 * Store errors (command failure, connection loss, or no reply within `storeTimeout`, a real-time timer so a
 * hung connection is detected even under TestClock) follow the layer's policy:
 * - `failOpen`: admit (the `Allowed` is marked `degraded: "failOpen"`),
 * - `failClosed`: fail with `RateLimitStoreError`,
 * - `insurance`: an in-memory limiter with the same policies answers instead (only on store errors, never on
 *   a limit hit; like rate-limiter-flexible's `insuranceLimiter`). Its state is process-local.
 * Each fallback is reported to the service (counter, Metric, log, event). After a store error the backend
 * stops calling Redis for `storeCooldown` (real time; a minimal circuit breaker), so a dead server costs one
 * timeout per cooldown, not one per check; the first successful call afterwards emits `StoreRecovered`.
 */
import { Effect } from "effect"
import { Redis } from "effect/persistence"
import { MemoryStore } from "./MemoryStore.ts"
import type { RateLimitBackend } from "./RateLimitBackend.ts"
import { RateLimitStoreError } from "./RateLimitError.ts"
import { type CompiledPolicy, TierKind } from "./RateLimitPolicy.ts"
import { Allowed, type Decision, type RateLimitStatus, type Refusal, type TierStatus } from "./RateLimitResult.ts"
import { parseNumber, rateLimitScript } from "./RedisScript.ts"

export type StoreErrorPolicy = "failOpen" | "failClosed" | "insurance"

export interface RedisBackendOptions {
  readonly prefix: string
  readonly onStoreError: StoreErrorPolicy
  readonly clock: "caller" | "server"
  /** real-time milliseconds after which a store call counts as failed; Infinity disables the timer */
  readonly storeTimeoutMs: number
  /** after a store error, real-time milliseconds during which calls go straight to the fallback */
  readonly storeCooldownMs: number
}

/** Hooks the service passes in to count and report fallbacks. */
export interface StoreFailureReporter {
  readonly failure: (mode: StoreErrorPolicy, operation: string, key: string, error: RateLimitStoreError) => Effect.Effect<void>
  readonly success: Effect.Effect<void>
}

interface PolicyArgs {
  readonly tierArgs: ReadonlyArray<string>
  readonly slidingNames: ReadonlyArray<string>
}

const kindName = (kind: number): TierStatus["kind"] =>
  kind === TierKind.FixedWindow ? "FixedWindow" : kind === TierKind.SlidingWindow ? "SlidingWindow" : "TokenBucket"

/** Fails with a store error when `self` has not completed after `ms` of real time (not the Effect Clock). */
const withRealTimeout = (ms: number, operation: string) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | RateLimitStoreError> =>
  Number.isFinite(ms)
    ? Effect.raceFirst(
      self,
      Effect.callback<never, RateLimitStoreError>((resume) => {
        const timer = setTimeout(() => resume(Effect.fail(new RateLimitStoreError({ operation, reason: `no reply within ${ms} ms` }))), ms)
        return Effect.sync(() => clearTimeout(timer))
      })
    )
    : self

export const makeRedisBackend = (
  options: RedisBackendOptions,
  reporter: StoreFailureReporter
): Effect.Effect<RateLimitBackend, never, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const run = redis.eval(rateLimitScript)
    const insurance = new MemoryStore()
    const argsCache = new WeakMap<CompiledPolicy, PolicyArgs>()
    const nowArg = (now: number): string => (options.clock === "server" ? "server" : String(now))

    const argsOf = (policy: CompiledPolicy): PolicyArgs => {
      let cached = argsCache.get(policy)
      if (cached === undefined) {
        const tierArgs: Array<string> = []
        const slidingNames: Array<string> = []
        for (const tier of policy.tiers) {
          tierArgs.push(String(tier.kind), tier.name, String(tier.limit), String(tier.periodMs), String(tier.refillTokens))
          if (tier.kind === TierKind.SlidingWindow) slidingNames.push(tier.name)
        }
        cached = { tierArgs, slidingNames }
        argsCache.set(policy, cached)
      }
      return cached
    }

    const keysOf = (key: string, policy: CompiledPolicy): Array<string> => {
      const hash = `${options.prefix}{${key}}`
      const { slidingNames } = argsOf(policy)
      if (slidingNames.length === 0) return [hash]
      return [hash, ...slidingNames.map((name) => `${hash}:${name}`)]
    }

    const call = (
      operation: string,
      key: string,
      policy: CompiledPolicy,
      head: ReadonlyArray<string>,
      extra: ReadonlyArray<string> = []
    ): Effect.Effect<ReadonlyArray<string | number>, RateLimitStoreError> =>
      run(keysOf(key, policy), [...head, String(policy.tiers.length), ...argsOf(policy).tierArgs, ...extra]).pipe(
        Effect.mapError((error) => new RateLimitStoreError({ operation, reason: String(error.cause ?? error), cause: error })),
        withRealTimeout(options.storeTimeoutMs, operation),
        Effect.tap(() => reporter.success)
      )

    /** Runs `primary`; on a store error applies the layer's policy (`open` / `insurance` give the fallback values). */
    let coolUntil = 0
    const guarded = <A>(
      operation: string,
      key: string,
      primary: Effect.Effect<A, RateLimitStoreError>,
      open: () => A,
      insured: () => A
    ): Effect.Effect<A, RateLimitStoreError> =>
      Effect.catch(
        Effect.suspend(() =>
          coolUntil !== 0 && Date.now() < coolUntil
            ? Effect.fail(new RateLimitStoreError({ operation, reason: "store unavailable (cooling down after an error)" }))
            : primary
        ),
        (error) => {
          if (error.reason !== "store unavailable (cooling down after an error)") coolUntil = Date.now() + options.storeCooldownMs
          return Effect.andThen(reporter.failure(options.onStoreError, operation, key, error), () => {
          switch (options.onStoreError) {
            case "failOpen":
              return Effect.succeed(open())
            case "failClosed":
              return Effect.fail(error)
            case "insurance":
              return Effect.succeed(insured())
          }
        })
        }
      )

    const consume = (key: string, policy: CompiledPolicy, cost: number, now: number): Effect.Effect<Decision, RateLimitStoreError> =>
      guarded(
        "consume",
        key,
        Effect.map(call("consume", key, policy, ["consume", nowArg(now), String(cost)]), (r): Decision => {
          if (Number(r[0]) === 1) {
            const remaining = new Array<number>(policy.tiers.length)
            for (let i = 0; i < remaining.length; i++) remaining[i] = parseNumber(r[i + 2])
            return new Allowed(policy.name, policy.tierNames, remaining, parseNumber(r[1]))
          }
          return { _tag: "Refusal", tierIndex: Number(r[1]), retryAfterMillis: parseNumber(r[2]) }
        }),
        () => new Allowed(policy.name, policy.tierNames, policy.tiers.map((t) => t.limit), 0, "failOpen"),
        () => {
          const decision = insurance.decideOrRefuse(key, policy, cost, now)
          return decision._tag === "Allowed"
            ? new Allowed(policy.name, policy.tierNames, decision.remainingList, decision.resetAfterMillis, "insurance")
            : decision
        }
      )

    const simulate = (key: string, policy: CompiledPolicy, costs: ReadonlyArray<number>, now: number): Effect.Effect<Refusal, RateLimitStoreError> =>
      guarded(
        "simulate",
        key,
        Effect.map(
          call("simulate", key, policy, ["simulate", nowArg(now), "0"], costs.map(String)),
          (r): Refusal => ({ _tag: "Refusal", tierIndex: Number(r[0]), retryAfterMillis: parseNumber(r[1]) })
        ),
        (): Refusal => ({ _tag: "Refusal", tierIndex: 0, retryAfterMillis: 0 }),
        () => insurance.simulate(key, policy, costs, now)
      )

    const status = (key: string, policy: CompiledPolicy, now: number): Effect.Effect<RateLimitStatus, RateLimitStoreError> =>
      guarded(
        "status",
        key,
        Effect.map(call("status", key, policy, ["status", nowArg(now), "1"]), (r): RateLimitStatus => ({
          key,
          policy: policy.name,
          retryAfterMillis: parseNumber(r[0]),
          tiers: policy.tiers.map((tier, i): TierStatus => ({
            name: tier.name,
            kind: kindName(tier.kind),
            limit: tier.limit,
            remaining: parseNumber(r[1 + 2 * i]),
            resetAfterMillis: parseNumber(r[2 + 2 * i])
          }))
        })),
        (): RateLimitStatus => ({
          key,
          policy: policy.name,
          retryAfterMillis: 0,
          tiers: policy.tiers.map((tier) => ({ name: tier.name, kind: kindName(tier.kind), limit: tier.limit, remaining: tier.limit, resetAfterMillis: 0 }))
        }),
        () => insurance.status(key, policy, now)
      )

    const adjust = (key: string, policy: CompiledPolicy, delta: number, now: number): Effect.Effect<void, RateLimitStoreError> =>
      guarded(
        "adjust",
        key,
        Effect.asVoid(call("adjust", key, policy, ["adjust", nowArg(now), String(delta)])),
        () => undefined,
        () => insurance.adjust(key, policy, delta, now)
      )

    const reset = (key: string, policy: CompiledPolicy): Effect.Effect<void, RateLimitStoreError> =>
      guarded(
        "reset",
        key,
        redis.send("DEL", ...keysOf(key, policy)).pipe(
          Effect.mapError((error) => new RateLimitStoreError({ operation: "reset", reason: String(error.cause ?? error), cause: error })),
          withRealTimeout(options.storeTimeoutMs, "reset"),
          Effect.tap(() => Effect.sync(() => insurance.reset(key))),
          Effect.asVoid
        ),
        () => undefined,
        () => insurance.reset(key)
      )

    return {
      kind: "redis",
      memory: insurance,
      consume,
      simulate,
      status,
      adjust,
      reset,
      keys: () => insurance.size,
      evicted: () => insurance.evicted,
      sweep: (now) => insurance.sweep(now),
      tick: (now) => {
        insurance.tick(now)
      }
    } satisfies RateLimitBackend
  })

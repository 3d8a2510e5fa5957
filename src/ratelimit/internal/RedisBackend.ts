/**
 * The Redis backend: shared state for many processes. Every operation on a key is one atomic `EVALSHA` of
 * its policy's script (`RedisScript.ts`: all tiers at once, the key's tiers packed in one string, a sorted
 * set only per sliding-window tier), run by `RedisScriptRunner.ts` through `@effect/platform-node`'s
 * node-redis client (`NodeRedis.layer`), or effect's generic `Redis` service on other platforms. Keys carry
 * an expiry and are deleted once back to fresh, so Redis memory is bounded by the active keys.
 *
 * Whose clock: by default the *caller's* Effect `Clock`, passed as `ARGV`. Reasons: (1) the same conformance
 * suite runs on memory and Redis under `TestClock`, with exact `retryAfter` values and wake-ups; (2) the
 * `retryAfter` a caller sleeps on is measured on the clock that sleeps; (3) scripts stay deterministic.
 * The cost: processes share one notion of time only as well as their clocks are synchronised (NTP keeps this
 * in the low milliseconds; a skewed caller can at worst see a bucket refilled a few ms early or late). Set
 * `clock: "server"` to use Redis `TIME` inside the script instead (one clock for all callers, e.g. with
 * badly synchronised hosts); the waits returned are then relative to the server's time. Fixed windows only
 * roll forward (see `TierState.refillTier`), so skewed callers never reopen an older window. Key expiries run
 * on Redis's own clock (a memory bound, never a decision input), every write keeping a key at least
 * `EXPIRY_SLACK_MS` (60 s) of real time past the caller-clock time at which it is fresh again: clock skew below
 * that never loses state, and under `TestClock` answers stay exact while virtual time stands still for less.
 *
 * Store timeout (`storeTimeout`, real time, so a hung connection is detected even under TestClock): the
 * runner's shared watchdog over its own connection, which never queues commands while offline (see
 * `RedisScriptRunner.ts`); a call that is not answered in time fails with a `timeout` store error, a call
 * made while the connection is down fails at once with a `connection` error.
 *
 * Slow is not down. The backend trips into *down* — every call skips Redis for `storeCooldown` (real time; a
 * minimal circuit breaker, so a dead or hung server costs one timeout per cooldown, not one per check) — only
 * on a `connection` error or after `timeoutCircuit` consecutive timeouts (default 3) with no successful call
 * in between. A single timed-out call on a slow but healthy Redis is answered by the policy and the next call
 * goes to Redis again. The first successful call after a trip emits `StoreRecovered`.
 *
 * Store errors follow the layer's policy:
 * - `failOpen`: admit (the `Allowed` is marked `degraded: "failOpen"`),
 * - `failClosed`: fail with `RateLimitStoreError`,
 * - `insurance`: an in-memory limiter answers instead (only on store errors, never on a limit hit; like
 *   rate-limiter-flexible's `insuranceLimiter`), with *its share* of every limit: each tier's limit (and a
 *   bucket's refill) divided by `expectedProcesses` (default 4), so the processes together admit at most the
 *   limit from insurance while Redis is down. Its state is process-local; what Redis admitted in the same
 *   window before the outage is not known to it, so across an outage a window can admit up to
 *   limit (Redis) + limit (the insurance shares).
 * Each fallback is reported to the service (counter, Metric, log, event).
 *
 * Leased mode (a policy with `lease`): `consume` goes through `LeaseTable.ts`; a lease request is one
 * `consume` script call for `k` tokens (then, if refused, one for the check's cost), guarded like any other
 * call, so a store error is answered by the same policy for the check's own cost and leases nothing.
 */
import { Clock, Effect, Exit, Metric, type Scope } from "effect"
import type { Redis } from "effect/persistence"
import { RateLimitStoreError } from "../RateLimitError.ts"
import { type CompiledPolicy, type CompiledTier, TierKind } from "../RateLimitPolicy.ts"
import { Allowed, type Decision, type RateLimitStatus, type Refusal, type TierStatus } from "../RateLimitResult.ts"
import { type LeaseGrant, LeaseTable } from "./LeaseTable.ts"
import { MemoryStore } from "./MemoryStore.ts"
import type { RateLimitBackend } from "./RateLimitBackend.ts"
import { decodeNumber as parseNumber, scriptFor } from "./RedisScript.ts"
import { type LuaScript, makeRedisScriptRunner } from "./RedisScriptRunner.ts"

/** What a check does when Redis fails: admit, refuse, or use a bounded in-process limiter (insurance). */
export type StoreErrorPolicy = "failOpen" | "failClosed" | "insurance"

/** Options of the Redis backend. */
export interface RedisBackendOptions {
  readonly prefix: string
  readonly onStoreError: StoreErrorPolicy
  readonly clock: "caller" | "server"
  /** real-time milliseconds after which a store call counts as failed; Infinity disables the timer */
  readonly storeTimeoutMs: number
  /** after the store is found down, real-time milliseconds during which calls go straight to the fallback */
  readonly storeCooldownMs: number
  /** consecutive timeouts after which the store counts as down (a connection error counts at once) */
  readonly timeoutCircuit: number
  /** the insurance limiter admits limit / expectedProcesses per tier */
  readonly expectedProcesses: number
  /** bound of the insurance limiter's keys (default 100,000) */
  readonly maxKeys?: number
}

/** Hooks the service passes in to count and report fallbacks. */
export interface StoreFailureReporter {
  readonly failure: (
    mode: StoreErrorPolicy,
    operation: string,
    key: string,
    error: RateLimitStoreError
  ) => Effect.Effect<void>
  readonly success: Effect.Effect<void>
}

const leaseOutstanding = Metric.gauge("troupe_ratelimit_lease_outstanding", {
  description: "tokens held in this process's rate-limit leases (set at every lease; an upper bound until the next)"
})

/** `policy` with every tier's limit (and a bucket's refill) divided by `processes`: the insurance share. */
export const sharePolicy = (policy: CompiledPolicy, processes: number): CompiledPolicy =>
  processes <= 1 ? policy : {
    ...policy,
    tiers: policy.tiers.map((t): CompiledTier => ({
      ...t,
      limit: t.limit / processes,
      refillTokens: t.refillTokens / processes
    }))
  }

const kindName = (kind: number): TierStatus["kind"] =>
  kind === TierKind.FixedWindow ? "FixedWindow" : kind === TierKind.SlidingWindow ? "SlidingWindow" : "TokenBucket"

/** The Redis backend: one Lua script per check over every tier, with the store-error policy. */
export const makeRedisBackend = (
  options: RedisBackendOptions,
  reporter: StoreFailureReporter
): Effect.Effect<RateLimitBackend, never, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const runner = yield* makeRedisScriptRunner(options.storeTimeoutMs)
    const insurance = new MemoryStore(options.maxKeys)
    const shares = new WeakMap<CompiledPolicy, CompiledPolicy>()
    const share = (policy: CompiledPolicy): CompiledPolicy => {
      let shared = shares.get(policy)
      if (shared === undefined) {
        shared = sharePolicy(policy, options.expectedProcesses)
        shares.set(policy, shared)
      }
      return shared
    }
    const serverClock = options.clock === "server"
    /** per policy, built once: its script, its reply decoder (the hot path's) and its sliding-log key suffixes */
    interface ConsumePlan {
      readonly script: LuaScript
      readonly sliding: ReadonlyArray<string>
      readonly onReply: (r: ReadonlyArray<string | number>) => Exit.Exit<Decision>
    }
    const plans = new WeakMap<CompiledPolicy, ConsumePlan>()
    const planOf = (policy: CompiledPolicy): ConsumePlan => {
      let plan = plans.get(policy)
      if (plan === undefined) {
        plan = {
          script: scriptFor(policy),
          sliding: policy.tiers.filter((t) => t.kind === TierKind.SlidingWindow).map((t) => `:${t.name}`),
          onReply: (r) => Exit.succeed(decisionOf(policy, r))
        }
        plans.set(policy, plan)
      }
      return plan
    }
    /** the key's own Redis key (its hash tag keeps a policy's sliding logs in the same slot) */
    const hashOf = (key: string): string => `${options.prefix}{${key}}`
    /** KEYS of a call: the key's string, then one sorted set per sliding-window tier (same hash tag). */
    const keysOf = (key: string, policy: CompiledPolicy): ReadonlyArray<string> => {
      const hash = hashOf(key)
      const sliding = planOf(policy).sliding
      return sliding.length === 0 ? [hash] : [hash, ...sliding.map((suffix) => hash + suffix)]
    }

    const call = (
      operation: string,
      key: string,
      policy: CompiledPolicy,
      now: number,
      amount: number,
      extra: ReadonlyArray<string> = []
    ): Effect.Effect<ReadonlyArray<string | number>, RateLimitStoreError> => {
      const args = [operation, serverClock ? "server" : String(now), String(amount)]
      return runner.run<ReadonlyArray<string | number>>(
        operation,
        scriptFor(policy),
        keysOf(key, policy),
        extra.length === 0 ? args : [...args, ...extra]
      )
    }

    /** Runs `primary`; on a store error applies the layer's policy (`open` / `insurance` give the fallback values). */
    let coolUntil = 0
    let failing = false
    let timeouts = 0
    const cooling = "store unavailable (cooling down after an error)"
    /** A store error under the layer's policy (`open` / `insurance` give the fallback values). */
    const storeFailure = <A>(
      operation: string,
      key: string,
      error: RateLimitStoreError,
      open: () => A,
      insured: () => A
    ): Effect.Effect<A, RateLimitStoreError> => {
      if (error.kind !== "cooling") {
        // slow is not down: only a connection error, or `timeoutCircuit` timeouts in a row, trips the cooldown
        const down = error.kind !== "timeout" && error.kind !== "command"
          ? true
          : error.kind === "timeout" && ++timeouts >= options.timeoutCircuit
        if (down) {
          coolUntil = Date.now() + options.storeCooldownMs
          failing = true
        }
      }
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
    const guarded = <A>(
      operation: string,
      key: string,
      primary: Effect.Effect<A, RateLimitStoreError>,
      open: () => A,
      insured: () => A
    ): Effect.Effect<A, RateLimitStoreError> => {
      const onError = (error: RateLimitStoreError) => storeFailure(operation, key, error, open, insured)
      // healthy (the hot path): just the call and an error handler; the flag is read when the operation
      // is built, which the service does at the moment it runs it
      if (!failing) {
        return Effect.catch(
          timeouts === 0 ? primary : Effect.tap(primary, () => Effect.sync(() => (timeouts = 0))),
          onError
        )
      }
      return Effect.catch(
        Effect.suspend(() => {
          if (!failing) return primary
          if (Date.now() < coolUntil) {
            return Effect.fail(new RateLimitStoreError({ operation, reason: cooling, kind: "cooling" }))
          }
          return Effect.tap(primary, () => {
            failing = false
            timeouts = 0
            return reporter.success
          })
        }),
        onError
      )
    }

    const decisionOf = (policy: CompiledPolicy, r: ReadonlyArray<string | number>): Decision => {
      if (Number(r[0]) === 1) {
        const remaining = new Array<number>(policy.tiers.length)
        for (let i = 0; i < remaining.length; i++) remaining[i] = parseNumber(r[i + 2])
        return new Allowed(policy.name, policy.tierNames, remaining, parseNumber(r[1]))
      }
      return { _tag: "Refusal", tierIndex: Number(r[1]), retryAfterMillis: parseNumber(r[2]) }
    }
    const openAllowed = (policy: CompiledPolicy) =>
      new Allowed(policy.name, policy.tierNames, policy.tiers.map((t) => t.limit), 0, "failOpen")
    const insured = (key: string, policy: CompiledPolicy, cost: number, now: number): Decision => {
      const decision = insurance.decideOrRefuse(key, share(policy), cost, now)
      return decision._tag === "Allowed"
        ? new Allowed(policy.name, policy.tierNames, decision.remainingList, decision.resetAfterMillis, "insurance")
        : decision
    }

    /** `EVALSHA sha numkeys keys… consume now cost` in one array (what `keysOf` and `call` build, without copies) */
    const consumeCommand = (plan: ConsumePlan, key: string, cost: number, now: number): Array<string> => {
      const hash = hashOf(key)
      const at = serverClock ? "server" : String(now)
      const sliding = plan.sliding
      // no sliding-window tier (the common case): one array literal of the exact size, no growth
      if (sliding.length === 0) return ["EVALSHA", plan.script.sha, "1", hash, "consume", at, String(cost)]
      const command = ["EVALSHA", plan.script.sha, String(1 + sliding.length), hash]
      for (let i = 0; i < sliding.length; i++) command.push(hash + sliding[i]) // i < sliding.length
      command.push("consume", at, String(cost))
      return command
    }

    const plainConsume = (
      key: string,
      policy: CompiledPolicy,
      cost: number,
      now: number
    ): Effect.Effect<Decision, RateLimitStoreError> => {
      // healthy and no timeout pending (the hot path): the call, its decoding and its error policy fused into one
      // step of the runner (`runCommandWith`), the same outcome as the `guarded` form below
      if (!failing && timeouts === 0) {
        const plan = planOf(policy)
        return runner.runCommandWith(
          "consume",
          plan.script,
          consumeCommand(plan, key, cost, now),
          plan.onReply,
          (error) =>
            storeFailure("consume", key, error, () => openAllowed(policy), () => insured(key, policy, cost, now))
        )
      }
      return guarded(
        "consume",
        key,
        Effect.map(call("consume", key, policy, now, cost), (r) => decisionOf(policy, r)),
        () => openAllowed(policy),
        () => insured(key, policy, cost, now)
      )
    }

    const leases = new LeaseTable(
      {
        take: (key, policy, k, cost, now) =>
          guarded(
            "consume",
            key,
            Effect.flatMap(
              call("consume", key, policy, now, k),
              (r): Effect.Effect<LeaseGrant, RateLimitStoreError> => {
                const decision = decisionOf(policy, r)
                if (decision._tag === "Allowed" || k <= cost) {
                  return Effect.succeed({ decision, leased: decision._tag === "Allowed" ? k - cost : 0 })
                }
                return Effect.map(
                  call("consume", key, policy, now, cost),
                  (r2) => ({ decision: decisionOf(policy, r2), leased: 0 })
                )
              }
            ),
            (): LeaseGrant => ({ decision: openAllowed(policy), leased: 0 }),
            (): LeaseGrant => ({ decision: insured(key, policy, cost, now), leased: 0 })
          ),
        giveBack: (key, policy, tokens, now) => Effect.asVoid(call("adjust", key, policy, now, -tokens)),
        onLease: (outstanding) => {
          Effect.runSync(Metric.update(leaseOutstanding, outstanding))
        }
      },
      options.expectedProcesses,
      options.maxKeys
    )
    // unused tokens go back before the runner's connection closes (finalizers run in reverse order)
    yield* Effect.addFinalizer(() => Effect.flatMap(Clock.currentTimeMillis, (now) => leases.release(now)))

    const consume = (
      key: string,
      policy: CompiledPolicy,
      cost: number,
      now: number
    ): Effect.Effect<Decision, RateLimitStoreError> =>
      policy.lease === undefined ? plainConsume(key, policy, cost, now) : leases.consume(key, policy, cost, now)

    const simulate = (
      key: string,
      policy: CompiledPolicy,
      costs: ReadonlyArray<number>,
      now: number
    ): Effect.Effect<Refusal, RateLimitStoreError> =>
      guarded(
        "simulate",
        key,
        Effect.map(
          call("simulate", key, policy, now, 0, costs.map(String)),
          (r): Refusal => ({ _tag: "Refusal", tierIndex: Number(r[0]), retryAfterMillis: parseNumber(r[1]) })
        ),
        (): Refusal => ({ _tag: "Refusal", tierIndex: 0, retryAfterMillis: 0 }),
        () => insurance.simulate(key, share(policy), costs, now)
      )

    const status = (
      key: string,
      policy: CompiledPolicy,
      now: number
    ): Effect.Effect<RateLimitStatus, RateLimitStoreError> =>
      guarded(
        "status",
        key,
        Effect.map(call("status", key, policy, now, 1), (r): RateLimitStatus => ({
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
          tiers: policy.tiers.map((tier) => ({
            name: tier.name,
            kind: kindName(tier.kind),
            limit: tier.limit,
            remaining: tier.limit,
            resetAfterMillis: 0
          }))
        }),
        () => insurance.status(key, share(policy), now)
      )

    const adjust = (
      key: string,
      policy: CompiledPolicy,
      delta: number,
      now: number
    ): Effect.Effect<void, RateLimitStoreError> =>
      guarded(
        "adjust",
        key,
        Effect.asVoid(call("adjust", key, policy, now, delta)),
        () => undefined,
        () => insurance.adjust(key, share(policy), delta, now)
      )

    const reset = (key: string, policy: CompiledPolicy): Effect.Effect<void, RateLimitStoreError> =>
      guarded(
        "reset",
        key,
        runner.send("reset", ["DEL", ...keysOf(key, policy)]).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              insurance.reset(key)
              leases.reset(key)
            })
          ),
          Effect.asVoid
        ),
        () => undefined,
        () => insurance.reset(key)
      )

    return {
      kind: "redis",
      memory: insurance,
      leases,
      consume,
      simulate,
      status,
      adjust,
      reset,
      keys: () => insurance.size,
      evicted: () => insurance.evicted,
      sweep: (now) => insurance.sweep(now) + leases.sweep(now),
      tick: (now) => {
        insurance.tick(now)
      }
    } satisfies RateLimitBackend
  })

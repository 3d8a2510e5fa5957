/**
 * The RateLimiter conformance suite: one set of scenarios run against every backend (memory and Redis),
 * all under `TestClock` (virtual time starts at 0), so refill, window slides, `retryAfter` values and
 * `acquire` wake-ups are asserted to the millisecond. The token-bucket and fixed-window scenarios are ports
 * of Effect's own `RateLimiter.test.ts` (effect-smol, `test/unstable/persistence`), adapted to our
 * epoch-aligned windows and `RateLimited` error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, type Layer } from "effect"
import type { Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import { RateLimiter, type RateLimitPolicyInput } from "../../src/ratelimit/index.ts"
import type { InvalidRateLimitInput } from "../../src/ratelimit/index.ts"

type RedisError = Redis.RedisError

/**
 * Lets fibers woken by the TestClock finish their store I/O (a real-time pause; instant for memory). With an
 * asynchronous backend, virtual time is advanced one wake-up at a time, settling in between.
 */
const settle = Effect.promise(() =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, 30)
  })
)

export type MakeLayer = (
  policies: Record<string, RateLimitPolicyInput>
) => Layer.Layer<RateLimiter, InvalidRateLimitInput | RedisError>

const bucket5PerMinute: RateLimitPolicyInput = {
  tiers: [{ _tag: "TokenBucket", name: "b", capacity: 5, refillTokens: 5, refillEvery: "1 minute" }]
}
const fixed5PerMinute: RateLimitPolicyInput = {
  tiers: [{ _tag: "FixedWindow", name: "w", limit: 5, window: "1 minute" }]
}
const sliding5Per5Min: RateLimitPolicyInput = {
  tiers: [{ _tag: "SlidingWindow", name: "s", limit: 5, window: "5 minutes" }]
}
const interval: RateLimitPolicyInput = {
  tiers: [{
    _tag: "TokenBucket",
    name: "i",
    capacity: 4,
    refillTokens: 2,
    refillEvery: "10 seconds",
    refill: "interval"
  }]
}
const onePerSecond: RateLimitPolicyInput = {
  tiers: [{ _tag: "TokenBucket", name: "b", capacity: 1, refillTokens: 1, refillEvery: "1 second" }]
}
const multi: RateLimitPolicyInput = {
  tiers: [
    { _tag: "TokenBucket", name: "burst", capacity: 10, refillTokens: 10, refillEvery: "1 minute" },
    { _tag: "FixedWindow", name: "minute", limit: 3, window: "1 minute" },
    { _tag: "SlidingWindow", name: "hour", limit: 5, window: "1 hour" }
  ]
}
const policies = {
  default: bucket5PerMinute,
  fixed: fixed5PerMinute,
  sliding: sliding5Per5Min,
  interval,
  slow: onePerSecond,
  multi
}

const limitedOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.flip(effect).pipe(Effect.map((e) => {
    if (e._tag !== "RateLimited") throw new Error(`expected RateLimited, got ${e._tag}`)
    return e as unknown as {
      readonly tier: string
      readonly limit: number
      readonly retryAfterMillis: number
      readonly retryAfter: Duration.Duration
    }
  }))

export const rateLimiterConformance = (name: string, makeLayer: MakeLayer): void => {
  const provide = <A, E>(effect: Effect.Effect<A, E, RateLimiter>) => Effect.provide(effect, makeLayer(policies))

  describe(`RateLimiter conformance: ${name}`, () => {
    it.effect("token bucket: drain 5/5, retryAfter = one refill interval, refills exactly (Effect port)", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        for (let i = 0; i < 5; i++) yield* rl.check("tb")
        const e = yield* limitedOf(rl.check("tb"))
        assert.strictEqual(e.retryAfterMillis, 12_000)
        assert.deepStrictEqual(e.retryAfter, Duration.seconds(12))
        assert.strictEqual(e.tier, "b")
        assert.strictEqual(e.limit, 5)
        yield* TestClock.adjust("11999 millis")
        assert.strictEqual((yield* limitedOf(rl.check("tb"))).retryAfterMillis, 1)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* rl.check("tb")).remaining["b"], 0)
        yield* TestClock.adjust(Duration.seconds(36)) // three more refill intervals
        const ok = yield* rl.check("tb")
        assert.strictEqual(ok.remaining["b"], 2)
      })))

    it.effect("fixed window: drain 5/5, retryAfter counts down to the window end (Effect port)", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        for (let i = 0; i < 5; i++) yield* rl.check("fw", { policy: "fixed" })
        assert.strictEqual((yield* limitedOf(rl.check("fw", { policy: "fixed" }))).retryAfterMillis, 60_000)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual((yield* limitedOf(rl.check("fw", { policy: "fixed" }))).retryAfterMillis, 30_000)
        yield* TestClock.adjust("29 seconds")
        assert.strictEqual((yield* limitedOf(rl.check("fw", { policy: "fixed" }))).retryAfterMillis, 1_000)
        yield* TestClock.adjust("1 second")
        const ok = yield* rl.check("fw", { policy: "fixed" })
        assert.strictEqual(ok.remaining["w"], 4)
        assert.strictEqual(ok.resetAfterMillis, 60_000)
      })))

    it.effect("sliding window: drain 5 of 5 in a 5-minute window, advance 4m59s, retryAfter = 1 s; the window slides", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        const check = rl.check("sw", { policy: "sliding" })
        yield* check
        yield* check
        yield* TestClock.adjust("1 minute")
        yield* check
        yield* check
        yield* check
        yield* TestClock.adjust("239 seconds") // t = 4m59s
        assert.strictEqual((yield* limitedOf(check)).retryAfterMillis, 1_000)
        yield* TestClock.adjust("1 second") // t = 5m: the two hits of t=0 leave the window
        yield* check
        yield* check
        assert.strictEqual((yield* limitedOf(check)).retryAfterMillis, 60_000) // next: the hits of t=1m
        assert.strictEqual((yield* limitedOf(rl.check("sw", { policy: "sliding", cost: 3 }))).retryAfterMillis, 60_000)
        assert.strictEqual(
          (yield* limitedOf(rl.check("sw", { policy: "sliding", cost: 5 }))).retryAfterMillis,
          5 * 60_000
        )
      })))

    it.effect("interval refill: tokens arrive in steps at tick boundaries", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* TestClock.adjust("3 seconds")
        yield* rl.check("iv", { policy: "interval", cost: 4 })
        assert.strictEqual((yield* limitedOf(rl.check("iv", { policy: "interval" }))).retryAfterMillis, 7_000)
        yield* TestClock.adjust("6999 millis")
        assert.strictEqual((yield* rl.status("iv", { policy: "interval" })).tiers[0]?.remaining, 0)
        yield* TestClock.adjust("1 millis") // t = 10s: one tick, +2
        assert.strictEqual((yield* rl.status("iv", { policy: "interval" })).tiers[0]?.remaining, 2)
        assert.strictEqual((yield* limitedOf(rl.check("iv", { policy: "interval", cost: 3 }))).retryAfterMillis, 10_000)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual((yield* rl.check("iv", { policy: "interval", cost: 3 })).remaining["i"], 1)
      })))

    it.effect("multi-tier: all tiers admit and consume, or none consume", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        const opts = { policy: "multi" }
        for (let i = 0; i < 3; i++) yield* rl.check("mt", opts)
        const before = yield* rl.status("mt", opts)
        const e = yield* limitedOf(rl.check("mt", opts))
        assert.strictEqual(e.tier, "minute")
        assert.strictEqual(e.retryAfterMillis, 60_000)
        assert.deepStrictEqual(yield* rl.status("mt", opts), before) // the bucket and the hour log were not touched
        assert.deepStrictEqual(before.tiers.map((t) => t.remaining), [7, 0, 2])
        yield* TestClock.adjust("1 minute")
        yield* rl.check("mt", opts)
        yield* rl.check("mt", opts)
        const hour = yield* limitedOf(rl.check("mt", opts)) // the hour tier (5) now binds
        assert.strictEqual(hour.tier, "hour")
        assert.strictEqual(hour.retryAfterMillis, 59 * 60_000)
        const weighted = yield* limitedOf(rl.check("mt2", { policy: "multi", cost: 4 })) // fits bucket + hour, not minute
        assert.strictEqual(weighted.tier, "minute")
        assert.strictEqual(weighted.retryAfterMillis, Number.POSITIVE_INFINITY)
        assert.deepStrictEqual((yield* rl.status("mt2", opts)).tiers.map((t) => t.remaining), [10, 3, 5])
      })))

    it.effect("weighted costs consume their weight; a cost above a limit can never pass", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        assert.strictEqual((yield* rl.check("wc", { cost: 3 })).remaining["b"], 2)
        assert.strictEqual((yield* limitedOf(rl.check("wc", { cost: 3 }))).retryAfterMillis, 12_000)
        const never = yield* limitedOf(rl.check("wc", { cost: 6 }))
        assert.deepStrictEqual(never.retryAfter, Duration.infinity)
        const fast = yield* Effect.flip(rl.acquire("wc", { cost: 6 }))
        assert.strictEqual(fast._tag, "RateLimited")
      })))

    it.effect("acquire: FIFO order and exact wake-up times, no polling", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("q", { policy: "slow" })
        const done: Array<readonly [string, number]> = []
        const waiter = (id: string) =>
          rl.acquire("q", { policy: "slow" }).pipe(
            Effect.andThen(Clock.currentTimeMillis),
            Effect.map((t) => done.push([id, t]))
          )
        const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
        for (const id of ["a", "b", "c"]) fibers.push(yield* Effect.forkChild(waiter(id), { startImmediately: true }))
        yield* settle
        const blocked = yield* limitedOf(rl.check("q", { policy: "slow" })) // checks do not overtake waiters
        assert.strictEqual(blocked.retryAfterMillis, 4_000)
        yield* TestClock.adjust("999 millis")
        yield* settle
        assert.deepStrictEqual(done, [])
        yield* TestClock.adjust("1 millis")
        yield* settle
        assert.deepStrictEqual(done, [["a", 1000]])
        yield* TestClock.adjust("1 second")
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* settle
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(done, [["a", 1000], ["b", 2000], ["c", 3000]])
      })))

    it.effect("acquire: fails at once when the wait would exceed the timeout", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("t", { policy: "slow" })
        const first = yield* limitedOf(rl.acquire("t", { policy: "slow", timeout: "999 millis" }))
        assert.strictEqual(first.retryAfterMillis, 1_000)
        const a = yield* Effect.forkChild(rl.acquire("t", { policy: "slow", timeout: "1 second" }), {
          startImmediately: true
        })
        const b = yield* Effect.forkChild(rl.acquire("t", { policy: "slow", timeout: "5 seconds" }), {
          startImmediately: true
        })
        yield* settle
        const third = yield* limitedOf(rl.acquire("t", { policy: "slow", timeout: "2999 millis" }))
        assert.strictEqual(third.retryAfterMillis, 3_000) // predicted: behind a (1s) and b (2s)
        yield* TestClock.adjust("1 second")
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* settle
        yield* Fiber.join(a)
        yield* Fiber.join(b)
        assert.strictEqual((yield* rl.stats).acquired, 2)
      })))

    it.effect("penalty and reward move tokens and window hits; reset forgets the key", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.penalty("p", 3)
        assert.strictEqual((yield* rl.status("p")).tiers[0]?.remaining, 2)
        yield* rl.penalty("p", 10)
        assert.strictEqual((yield* rl.status("p")).tiers[0]?.remaining, 0) // clamped, never negative
        yield* rl.reward("p", 1)
        assert.strictEqual((yield* rl.status("p")).tiers[0]?.remaining, 1)
        yield* rl.penalty("pw", 4, { policy: "fixed" })
        assert.strictEqual((yield* rl.check("pw", { policy: "fixed" })).remaining["w"], 0)
        yield* rl.reward("pw", 2, { policy: "fixed" })
        assert.strictEqual((yield* rl.status("pw", { policy: "fixed" })).tiers[0]?.remaining, 2)
        yield* rl.penalty("ps", 5, { policy: "sliding" })
        assert.strictEqual((yield* limitedOf(rl.check("ps", { policy: "sliding" }))).retryAfterMillis, 300_000)
        yield* rl.reward("ps", 2, { policy: "sliding" })
        assert.strictEqual((yield* rl.check("ps", { policy: "sliding", cost: 2 })).remaining["s"], 0)
        yield* rl.reset("ps", { policy: "sliding" })
        assert.strictEqual((yield* rl.status("ps", { policy: "sliding" })).tiers[0]?.remaining, 5)
      })))

    it.effect("policies change at runtime without losing per-key state", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("pc", { cost: 3 })
        yield* rl.setPolicy("default", {
          tiers: [
            { _tag: "TokenBucket", name: "b", capacity: 10, refillTokens: 10, refillEvery: "1 minute" },
            { _tag: "FixedWindow", name: "new", limit: 2, window: "1 minute" }
          ]
        })
        // a matched bucket keeps what it used (3 of 5: 7 of 10 left), a new tier starts fresh
        const status = yield* rl.status("pc")
        assert.deepStrictEqual(status.tiers.map((t) => [t.name, t.limit, t.remaining]), [["b", 10, 7], ["new", 2, 2]])
        yield* rl.applyPolicies({ default: bucket5PerMinute })
        assert.deepStrictEqual((yield* rl.status("pc")).tiers.map((t) => t.remaining), [2])
        assert.deepStrictEqual([...(yield* rl.policies).keys()], ["default"])
        yield* RateLimiter.applyPolicies({ default: bucket5PerMinute, fixed: fixed5PerMinute })
        assert.strictEqual((yield* rl.policies).size, 2)
      })))

    it.effect("bad input fails with a typed error naming the field", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        const cost = yield* Effect.flip(rl.check("k", { cost: -1 }))
        assert.strictEqual(cost._tag, "InvalidRateLimitInput")
        assert.deepStrictEqual(cost._tag === "InvalidRateLimitInput" ? cost.path : "", "cost")
        const key = yield* Effect.flip(rl.check("x".repeat(600)))
        assert.deepStrictEqual(
          key._tag === "InvalidRateLimitInput" ? [key.path, key.message.includes("too long")] : [],
          ["key", true]
        )
        const empty = yield* Effect.flip(rl.check(""))
        assert.deepStrictEqual(empty._tag === "InvalidRateLimitInput" ? empty.path : "", "key")
        const unknown = yield* Effect.flip(rl.check("k", { policy: "nope" }))
        assert.deepStrictEqual(unknown._tag === "InvalidRateLimitInput" ? unknown.path : "", "policy")
        const timeout = yield* Effect.flip(rl.acquire("k", { timeout: "soon" as Duration.Input }))
        assert.deepStrictEqual(timeout._tag === "InvalidRateLimitInput" ? timeout.path : "", "timeout")
        const policy = yield* Effect.flip(
          rl.setPolicy("p", { tiers: [{ _tag: "FixedWindow", limit: 0, window: "1 minute" }] })
        )
        assert.deepStrictEqual(policy.path, "policies.p.tiers[0].limit")
        const window = yield* Effect.flip(
          rl.setPolicy("p", { tiers: [{ _tag: "FixedWindow", limit: 1, window: "forever-ish" }] })
        )
        assert.deepStrictEqual(window.path, "policies.p.tiers[0].window")
        const dup = yield* Effect.flip(
          rl.setPolicy("p", {
            tiers: [{ _tag: "FixedWindow", name: "a", limit: 1, window: 1000 }, {
              _tag: "SlidingWindow",
              name: "a",
              limit: 1,
              window: 1000
            }]
          })
        )
        assert.deepStrictEqual(dup.path, "policies.p.tiers[1].name")
        const penalty = yield* Effect.flip(rl.penalty("k", Number.NaN))
        assert.deepStrictEqual(penalty._tag === "InvalidRateLimitInput" ? penalty.path : "", "amount")
      })))
  })
}

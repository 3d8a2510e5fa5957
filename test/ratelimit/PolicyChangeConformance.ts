/**
 * Live policy changes, on every backend (memory and Redis), under `TestClock`:
 * - queued `acquire` callers re-check under the policy a new check with the same options would get now, so a
 *   loosened limit admits them at the change and a tightened one is never bypassed; a waiter whose named
 *   policy is removed fails with the error a new check naming it gets;
 * - a key back to its fresh state migrates to the fresh state of the new policy (every tier kind), and a
 *   refused check of an unseen key stores nothing, so forgetting a fresh key (the sweep, a Redis expiry)
 *   never changes a later answer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { RateLimiter, type RateLimitPolicyInput } from "../../src/ratelimit/index.ts"
import type { MakeLayer } from "./RateLimiterConformance.ts"

/** Lets fibers woken by the TestClock or a kick finish their store I/O (a real-time pause). */
const settle = Effect.promise(() =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, 30)
  })
)

const bucket = (capacity: number, refillTokens: number, refillEvery: number): RateLimitPolicyInput => ({
  tiers: [{ _tag: "TokenBucket", name: "b", capacity, refillTokens, refillEvery }]
})
const fixed = (limit: number): RateLimitPolicyInput => ({
  tiers: [{ _tag: "FixedWindow", name: "w", limit, window: 60_000 }]
})
const allKinds = (limit: number): RateLimitPolicyInput => ({
  tiers: [
    { _tag: "TokenBucket", name: "b", capacity: limit, refillTokens: limit, refillEvery: 1_000 },
    { _tag: "TokenBucket", name: "i", capacity: limit, refillTokens: 1, refillEvery: 250, refill: "interval" },
    { _tag: "FixedWindow", name: "w", limit, window: 1_000 },
    { _tag: "SlidingWindow", name: "s", limit, window: 1_000 }
  ]
})

const policies = {
  default: bucket(5, 5, 60_000),
  fixed: fixed(2),
  extra: fixed(1),
  kinds: allKinds(4),
  small: bucket(4, 4, 1_000)
}

const polled = (fiber: Fiber.Fiber<unknown, unknown>) => fiber.pollUnsafe()

export const policyChangeConformance = (name: string, makeLayer: MakeLayer): void => {
  const provide = <A, E>(effect: Effect.Effect<A, E, RateLimiter>) => Effect.provide(effect, makeLayer(policies))

  describe(`RateLimiter policy changes: ${name}`, () => {
    it.effect("a policy change re-checks queued acquirers under the new policy: a loosened limit admits them at once", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("up", { policy: "fixed" })
        yield* rl.check("up", { policy: "fixed" })
        const waiter = yield* Effect.forkChild(rl.acquire("up", { policy: "fixed", timeout: "10 minutes" }), {
          startImmediately: true
        })
        yield* settle
        assert.isUndefined(polled(waiter)) // asleep until the window ends at 60 s
        yield* rl.setPolicy("fixed", fixed(100))
        yield* settle
        const exit = polled(waiter)
        assert.isTrue(exit !== undefined && Exit.isSuccess(exit), "admitted at the change, not at the old window end")
      })))

    it.effect("a policy change re-checks queued acquirers under the new policy: a tightened limit admits none early", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("down", { cost: 5 })
        const waiters: Array<Fiber.Fiber<unknown, unknown>> = []
        for (let i = 0; i < 5; i++) {
          waiters.push(yield* Effect.forkChild(rl.acquire("down", { timeout: "2 hours" }), { startImmediately: true }))
          yield* settle
        }
        yield* rl.setPolicy("default", bucket(5, 1, 3_600_000)) // one token per hour
        yield* settle
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust("12 seconds") // each old wake-up time (one token per 12 s)
          yield* settle
        }
        assert.strictEqual(waiters.filter((f) => polled(f) !== undefined).length, 0, "admitted under the old policy")
        yield* TestClock.adjust("3540 seconds") // t = 1 h: the first token of the new policy
        yield* settle
        assert.strictEqual(waiters.filter((f) => polled(f) !== undefined).length, 1)
      })))

    it.effect("a waiter whose named policy is removed fails with the unknown-policy error a new check gets", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("gone", { policy: "extra" })
        const waiter = yield* Effect.forkChild(rl.acquire("gone", { policy: "extra", timeout: "10 minutes" }), {
          startImmediately: true
        })
        yield* settle
        yield* rl.applyPolicies({ default: policies.default, fixed: policies.fixed, kinds: policies.kinds })
        yield* settle
        assert.isDefined(polled(waiter), "the waiter is done")
        const error = yield* Effect.flip(Fiber.join(waiter))
        const check = yield* Effect.flip(rl.check("gone", { policy: "extra" }))
        assert.deepStrictEqual([error._tag, error.message], [check._tag, check.message])
        assert.strictEqual(check._tag === "InvalidRateLimitInput" ? check.path : "", "policy")
      })))

    it.effect("a key back to fresh migrates to the fresh state of the new policy (every tier kind)", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* rl.check("used", { policy: "kinds", cost: 3 })
        yield* TestClock.adjust("2 seconds") // every tier is fresh again
        for (const limit of [6, 3]) {
          yield* rl.setPolicy("kinds", allKinds(limit))
          const used = yield* rl.status("used", { policy: "kinds" })
          const unseen = yield* rl.status(`unseen-${limit}`, { policy: "kinds" })
          assert.deepStrictEqual(used.tiers, unseen.tiers)
          assert.deepStrictEqual(used.tiers.map((t) => t.remaining), [limit, limit, limit, limit])
        }
        assert.strictEqual((yield* rl.check("used", { policy: "kinds", cost: 3 })).remaining["b"], 0)
      })))

    it.effect("a refused check of an unseen key stores nothing: after a capacity raise it answers like a key never seen", () =>
      provide(Effect.gen(function*() {
        const rl = yield* RateLimiter
        const refused = yield* Effect.flip(rl.check("over", { policy: "small", cost: 5 }))
        assert.strictEqual(refused._tag, "RateLimited")
        yield* rl.setPolicy("small", bucket(6, 6, 1_000))
        assert.strictEqual((yield* rl.check("over", { policy: "small", cost: 6 })).remaining["b"], 0)
      })))
  })
}

/**
 * Memory backend: the conformance suite, plus what only the memory layer has (idle-key sweep, supervised
 * background fibers restarted after a crash, interval ticker waking waiters) and the concurrency property
 * (1,000 fibers on one key never over-admit).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { RateLimiter, type RateLimiterEvent, RateLimitKey } from "../../src/ratelimit/index.ts"
import { policyChangeConformance } from "./PolicyChangeConformance.ts"
import { rateLimiterConformance } from "./RateLimiterConformance.ts"

rateLimiterConformance("memory", (policies) => RateLimiter.layerMemory({ policies }))
policyChangeConformance("memory", (policies) => RateLimiter.layerMemory({ policies }))

describe("RateLimiter (memory)", () => {
  it.effect("the supervised sweep evicts idle keys only once their state is back to fresh", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      for (let i = 0; i < 100; i++) yield* rl.check(`user-${i}`)
      yield* rl.check("busy", { cost: 5 })
      assert.strictEqual((yield* rl.stats).keys, 101)
      yield* TestClock.adjust("10 seconds") // 1 token back in 1 s per key: all 100 are full again
      assert.strictEqual((yield* rl.stats).keys, 1) // "busy" needs 50 s
      yield* TestClock.adjust("40 seconds")
      assert.strictEqual((yield* rl.stats).keys, 0)
      assert.strictEqual((yield* rl.stats).evicted, 101)
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      policies: {
        default: { tiers: [{ _tag: "TokenBucket", capacity: 5, refillTokens: 1, refillEvery: "10 seconds" }] }
      },
      sweepInterval: "10 seconds"
    }))))

  it.effect("a crashing sweeper is restarted by its supervisor and the limiter keeps working", () => {
    let crashes = 0
    const events: Array<RateLimiterEvent["_tag"]> = []
    const onEvent = (event: RateLimiterEvent) => {
      events.push(event._tag)
      if (event._tag === "KeysEvicted" && crashes++ === 0) throw new Error("sweeper hook crashed")
    }
    return Effect.gen(function*() {
      const rl = yield* RateLimiter
      yield* rl.check("a")
      yield* TestClock.adjust("1 second") // sweep #1 evicts "a", the hook throws: the sweeper dies
      assert.strictEqual(crashes, 1)
      yield* rl.check("b")
      yield* TestClock.adjust("1 second") // the restarted sweeper runs again
      assert.strictEqual((yield* rl.stats).keys, 0)
      assert.isAtLeast(crashes, 2)
      assert.strictEqual((yield* rl.check("c")).remaining["t"], 0)
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      policies: { default: { tiers: [{ _tag: "FixedWindow", name: "t", limit: 1, window: "1 second" }] } },
      sweepInterval: "1 second",
      hooks: { onEvent }
    })))
  })

  it.effect("interval refill: the ticker wakes an acquirer exactly at the tick", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      yield* rl.check("k", { cost: 2 })
      const fiber = yield* Effect.forkChild(rl.acquire("k").pipe(Effect.andThen(Clock.currentTimeMillis)), {
        startImmediately: true
      })
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 5_000)
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      policies: {
        default: {
          tiers: [{ _tag: "TokenBucket", capacity: 2, refillTokens: 1, refillEvery: "5 seconds", refill: "interval" }]
        }
      }
    }))))

  it.effect("1,000 concurrent fibers on one key never over-admit", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      const results = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        () => Effect.result(rl.check("hot")),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Success").length, 100)
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      policies: {
        default: {
          tiers: [{ _tag: "SlidingWindow", limit: 100, window: "1 minute" }, {
            _tag: "TokenBucket",
            capacity: 150,
            refillTokens: 1,
            refillEvery: "1 hour"
          }]
        }
      }
    }))))

  it.effect("per-provider defaults are shipped and picked from the key's provider scope", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      const limits = (key: string) => rl.status(key).pipe(Effect.map((s) => [s.policy, ...s.tiers.map((t) => t.limit)]))
      assert.deepStrictEqual(yield* limits(RateLimitKey.user("u1")), ["default", 60, 1000, 10000])
      assert.deepStrictEqual(yield* limits(RateLimitKey.make({ provider: "anthropic", user: "u1" })), [
        "anthropic",
        50,
        1000,
        10000
      ])
      assert.deepStrictEqual(yield* limits(RateLimitKey.provider("xai")), ["xai", 50, 1000, 10000])
      assert.deepStrictEqual(yield* limits(RateLimitKey.model("google", "gemini-2.5")), ["google", 60, 1500, 15000])
      assert.deepStrictEqual(yield* limits(RateLimitKey.provider("unknown-vendor")), ["default", 60, 1000, 10000])
    }).pipe(Effect.provide(RateLimiter.layerMemory())))

  it.effect("an invalid layer option fails the layer with a typed error naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(RateLimiter.use(() => Effect.void), RateLimiter.layerMemory({ sweepInterval: -5 }))
      )
      assert.deepStrictEqual(error.path, "sweepInterval")
      const missing = yield* Effect.flip(
        Effect.provide(
          RateLimiter.use(() => Effect.void),
          RateLimiter.layerMemory({ policies: { other: { tiers: [{ _tag: "FixedWindow", limit: 1, window: 1 }] } } })
        )
      )
      assert.deepStrictEqual(missing.path, "policies.default")
    }))
})

describe("RateLimitKey", () => {
  it("builds canonical, escaped keys and never stores raw API keys", () => {
    const key = RateLimitKey.make({ ip: "10.0.0.1", provider: "openai", apiKey: "sk-live-secret", user: "a|b=c" })
    assert.strictEqual(key.startsWith("provider=openai|user=a%7Cb%3Dc|apiKey="), true)
    assert.isFalse(key.includes("sk-live-secret"))
    assert.strictEqual(RateLimitKey.hashApiKey("sk-live-secret").length, 32)
    assert.strictEqual(RateLimitKey.providerOf(key), "openai")
    assert.strictEqual(RateLimitKey.providerOf(RateLimitKey.ip("1.2.3.4")), undefined)
  })

  it("providerOf returns the provider name unescaped, as it was given to the key helpers", () => {
    for (const name of ["a%b", "x|y", "k=v", "#tag", "%7C", "plain.name"]) {
      assert.strictEqual(RateLimitKey.providerOf(RateLimitKey.model(name, "m")), name)
    }
    // a value hashed for length cannot be recovered: its segment comes back as written
    assert.match(RateLimitKey.providerOf(RateLimitKey.provider("p".repeat(65))) ?? "", /^#[0-9a-f]{32}$/)
  })

  it.effect("a provider whose name contains %, |, = or # (or is hashed for length) finds its own policy", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      for (const name of ["a%b|c=d#e", "#tag", "q".repeat(100)]) {
        assert.strictEqual((yield* rl.status(RateLimitKey.model(name, "m"))).policy, name)
        assert.strictEqual((yield* rl.check(RateLimitKey.user("u", name))).policy, name)
      }
      assert.strictEqual((yield* rl.status(RateLimitKey.provider("a%25b|c=d#e"))).policy, "default")
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      policies: {
        default: { tiers: [{ _tag: "FixedWindow", limit: 9, window: 1000 }] },
        "a%b|c=d#e": { tiers: [{ _tag: "FixedWindow", limit: 1, window: 1000 }] },
        "#tag": { tiers: [{ _tag: "FixedWindow", limit: 2, window: 1000 }] },
        ["q".repeat(100)]: { tiers: [{ _tag: "FixedWindow", limit: 3, window: 1000 }] }
      }
    }))))

  it("a key built from scopes always fits MAX_KEY_LENGTH: long segment values are hashed, distinct values stay distinct", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 700 }),
        fc.string({ maxLength: 700 }),
        fc.string({ maxLength: 300 }),
        (m1, m2, u) => {
          const k1 = RateLimitKey.make({ provider: "p".repeat(200), model: m1, client: u, user: u, apiKey: u, ip: u })
          const k2 = RateLimitKey.make({ provider: "p".repeat(200), model: m2, client: u, user: u, apiKey: u, ip: u })
          assert.isAtMost(k1.length, RateLimitKey.MAX_KEY_LENGTH)
          if (m1 !== m2) assert.notStrictEqual(k1, k2)
        }
      )
    )
    // a literal "#…" value is escaped, so it cannot pose as a hashed one
    assert.strictEqual(RateLimitKey.make({ model: "#x" }), "model=%23x")
  })
})

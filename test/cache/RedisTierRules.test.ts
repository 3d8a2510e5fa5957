/**
 * Rules of the tiered cache that need single Redis commands held, delayed or failed, over an in-memory stand-in
 * for Redis (`MemoryRedis.ts`): invalidations remembered during the recovery replay are replayed too; each SCAN and
 * UNLINK of a clear has its own timeout; a read during a clear never brings the cleared value back; and hostile or
 * unencodable values (a bigint, a circular object, an envelope over `maxValueBytes` in UTF-8, a bad token count).
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Exit, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { makeTiered } from "../../src/cache/Cache.ts"
import type { CacheOptions } from "../../src/cache/CacheOptions.ts"
import { gate, makeMemoryRedis, type MemoryRedis } from "./MemoryRedis.ts"

const P = "t:"

const tieredOver = <A = string>(
  redis: MemoryRedis,
  options: CacheOptions<A> & { readonly timeout?: Duration.Input; readonly probeInterval?: Duration.Input } = {},
  value: Schema.Codec<A, unknown> = Schema.String as unknown as Schema.Codec<A, unknown> // strings unless given
) => {
  const { timeout, probeInterval, ...cacheOptions } = options
  return makeTiered<A, unknown>({
    sweepInterval: "1 hour",
    ...cacheOptions,
    redis: {
      value,
      prefix: P,
      timeout: timeout ?? "10 seconds",
      ...(probeInterval !== undefined ? { probeInterval } : {})
    }
  }).pipe(Effect.provide(redis.context))
}

/** Real milliseconds of server latency (the tier's timeout is real time by design: see `RedisTier.ts`). */
const latency = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms)
  })
const nextTick = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve)
  })

/**
 * Lets the event loop run (the stand-in's replies are Promises) until `done` holds: `tries` times, each after one
 * event-loop turn, or after `pause` when the stand-in answers with real latency.
 */
const settle = (done: () => Effect.Effect<boolean>, tries = 1000, pause: () => Promise<void> = nextTick) =>
  Effect.gen(function*() {
    for (let i = 0; i < tries; i++) {
      if (yield* done()) return
      yield* Effect.promise(pause)
    }
    assert.fail("the condition never held")
  })

describe("Cache (memory over Redis): recovery and clears, command by command", () => {
  it.effect("a delete made while the recovery replay is in flight is replayed too: a value deleted during an outage is never served again", () =>
    Effect.gen(function*() {
      const redis = makeMemoryRedis()
      const cache = yield* tieredOver(redis, { probeInterval: "1 second" })
      yield* cache.put("k", "old")
      yield* cache.put("a", "x")
      redis.hooks.down = true
      yield* cache.put("a", "y") // degrades the tier; remembered as a pending invalidation
      assert.isTrue((yield* cache.stats()).l2.degraded)

      const seen = gate()
      const held = gate()
      let first = true
      redis.hooks.before = (command) => {
        if (command === "UNLINK" && first) {
          first = false
          seen.open()
          return held.wait
        }
      }
      redis.hooks.down = false
      yield* TestClock.adjust("1 second") // the probe pings and replays: its UNLINK is held
      yield* Effect.promise(() => seen.wait)
      assert.isTrue((yield* cache.stats()).l2.degraded)
      yield* cache.delete("k") // still degraded: remembered
      held.open()
      yield* settle(() => Effect.map(cache.stats(), (s) => !s.l2.degraded))

      assert.isFalse(redis.data.has(`${P}k`), "the delete made during the replay reached Redis")
      assert.isTrue(Option.isNone(yield* cache.get("k")))
      assert.strictEqual((yield* cache.stats()).l2.recoveries, 1)
    }))

  it.live(
    "a clear that makes progress is no degradation: each SCAN and UNLINK has its own timeout, and so has the replay of a clear",
    () =>
      Effect.gen(function*() {
        const redis = makeMemoryRedis()
        for (let i = 0; i < 5000; i++) redis.data.set(`other:${i}`, "x") // other services' keys: 10 SCANs of 500
        const cache = yield* tieredOver(redis, { timeout: "200 millis", probeInterval: "20 millis" })
        yield* cache.put("llm:a", "1")
        yield* cache.put("emb:a", "2")
        redis.hooks.before = (command) => (command === "SCAN" ? latency(50) : undefined) // 10 × 50 ms > 200 ms
        yield* cache.clear({ namespace: "llm" })
        let stats = yield* cache.stats()
        assert.deepStrictEqual([stats.l2.degraded, stats.l2.errors], [false, 0])
        assert.isFalse(redis.data.has(`${P}llm:a`))
        assert.isTrue(redis.data.has(`${P}emb:a`))

        // a clear made while degraded is replayed by the probe, as slowly, and the tier recovers
        redis.hooks.down = true
        yield* cache.put("emb:b", "3")
        yield* cache.clear({ namespace: "emb" })
        redis.hooks.down = false
        yield* settle(() => Effect.map(cache.stats(), (s) => !s.l2.degraded), 300, () => latency(10))
        stats = yield* cache.stats()
        assert.strictEqual(stats.l2.recoveries, 1)
        assert.isFalse(redis.data.has(`${P}emb:a`))
      }),
    30_000
  )

  it.effect("a get while a clear is scanning L2 neither returns nor promotes the cleared value: once clear returns it is gone", () =>
    Effect.gen(function*() {
      const redis = makeMemoryRedis()
      const cache = yield* tieredOver(redis)
      yield* cache.put("llm:a", "old answer")
      yield* cache.put("emb:a", "kept")
      const seen = gate()
      const held = gate()
      let first = true
      redis.hooks.before = (command) => {
        if (command === "SCAN" && first) {
          first = false
          seen.open()
          return held.wait
        }
      }
      const clearing = yield* Effect.forkChild(cache.clear({ namespace: "llm" }), { startImmediately: true })
      yield* Effect.promise(() => seen.wait)
      const during = yield* cache.get("llm:a") // L1 is already cleared; L2 still holds the value
      const hasDuring = yield* cache.has("llm:a")
      const other = yield* cache.get("emb:a")
      held.open()
      yield* Fiber.join(clearing)
      assert.deepStrictEqual(
        { during, hasDuring, other, after: yield* cache.get("llm:a"), l1: cache.l1Keys() },
        { during: Option.none(), hasDuring: false, other: Option.some("kept"), after: Option.none(), l1: ["emb:a"] }
      )
    }))
})

describe("Cache (memory over Redis): values the tier cannot store or read", () => {
  it.effect("a value its Schema encodes but JSON cannot (a bigint, a circular object) fails put with CacheValueEncodingError; getOrCompute returns it uncached", () =>
    Effect.gen(function*() {
      const redis = makeMemoryRedis()
      const cache = yield* tieredOver<unknown>(redis, {}, Schema.Any)
      const circular: Record<string, unknown> = { a: 1 }
      circular["self"] = circular
      for (const value of [{ n: 10n }, circular]) {
        const error = yield* Effect.flip(cache.put("k", value))
        assert.strictEqual(error._tag, "CacheValueEncodingError")
        assert.isTrue(Option.isNone(yield* cache.get("k")))
      }
      const big = { n: 10n }
      assert.strictEqual(yield* cache.getOrCompute("c", Effect.succeed(big)), big)
      assert.isFalse(redis.data.has(`${P}c`))
      assert.strictEqual((yield* cache.stats()).entries, 0)
    }))

  it.effect("put fails with CacheValueTooLarge when the UTF-8 bytes of its Redis envelope exceed maxValueBytes, however few UTF-16 units it has", () =>
    Effect.gen(function*() {
      const redis = makeMemoryRedis()
      const cache = yield* tieredOver(redis, { maxValueBytes: 1000 })
      const value = "€".repeat(400) // sizeOf 802; the envelope is 417 UTF-16 units but 1,217 UTF-8 bytes
      const exit = yield* Effect.exit(cache.put("k", value))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(cache.put("k", value))
      assert.deepInclude(error, { _tag: "CacheValueTooLarge", limitName: "maxValueBytes", limit: 1000 })
      assert.isFalse(redis.data.has(`${P}k`))
      yield* cache.put("small", "€".repeat(300)) // 917 bytes: stored
      assert.isTrue(redis.data.has(`${P}small`))
    }))

  it.effect("an L2 envelope whose token count is not a number from 0 to 2^53 - 1 is undecodable: a miss plus a counter, and deleted", () =>
    Effect.gen(function*() {
      const redis = makeMemoryRedis()
      const cache = yield* tieredOver(redis)
      const bad = [-1000, 1e308, "7", true]
      bad.forEach((t, i) => redis.data.set(`${P}bad${i}`, JSON.stringify({ v: "x", e: null, t })))
      redis.data.set(`${P}good`, JSON.stringify({ v: "y", e: null, t: 12 }))
      for (let i = 0; i < bad.length; i++) {
        assert.isTrue(Option.isNone(yield* cache.get(`bad${i}`)))
        assert.isTrue(Option.isNone(yield* cache.get(`bad${i}`)))
        assert.isFalse(redis.data.has(`${P}bad${i}`))
      }
      assert.deepStrictEqual(yield* cache.get("good"), Option.some("y"))
      const stats = yield* cache.stats()
      assert.deepStrictEqual([stats.tokensSaved, stats.l2.decodeFailures], [12, bad.length])
    }))
})

/**
 * Bounds and a stalled Redis: `sizeOf` must return a finite number >= 0 (else `maxBytes` would be silently
 * disabled); the memory layer has a default bound (10,000 entries, LRU eviction); and the Redis tier's own
 * real-time timeout (default 250 ms) keeps `get` / `put` from waiting on a frozen server (SIGSTOP), whose
 * layer is then released within the timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import * as fc from "fast-check"
import { Cache, makeMemory } from "../../src/cache/Cache.ts"
import { DEFAULT_MAX_ENTRIES } from "../../src/cache/CacheOptions.ts"
import { startOwnRedis } from "../ratelimit/support/ownRedis.ts"
import { describeRedis } from "../support/redis.ts"

describe("cache bounds", () => {
  it.effect("a sizeOf returning a string, NaN, a negative number or Infinity fails put with a typed error", () =>
    Effect.gen(function*() {
      for (const bad of ["12", Number.NaN, -1, Number.POSITIVE_INFINITY] as const) {
        const cache = yield* makeMemory<string>({ maxBytes: 100, sizeOf: () => bad as unknown as number })
        const error = yield* Effect.flip(cache.put("k", "v"))
        assert.strictEqual(error._tag, "InvalidCacheOptions")
        assert.strictEqual(error._tag === "InvalidCacheOptions" ? error.path : "", "sizeOf")
        assert.isTrue(Option.isNone(yield* cache.get("k")))
      }
    }).pipe(Effect.scoped))

  it.effect("a sizeOf that throws fails put with InvalidCacheOptions naming sizeOf (getOrCompute returns its value uncached)", () =>
    Effect.gen(function*() {
      const cache = yield* makeMemory<string>({
        sizeOf: () => {
          throw new Error("boom")
        }
      })
      const error = yield* Effect.flip(cache.put("k", "v"))
      assert.strictEqual(error._tag, "InvalidCacheOptions")
      assert.strictEqual(error._tag === "InvalidCacheOptions" ? error.path : "", "sizeOf")
      assert.include(error.message, "boom")
      assert.isTrue(Option.isNone(yield* cache.get("k")))
      assert.strictEqual(yield* cache.getOrCompute("c", Effect.succeed("computed")), "computed")
      assert.isFalse(yield* cache.has("c"))
    }).pipe(Effect.scoped))

  it.effect("a key that is not a string (null, undefined, a number) fails get, has and delete with InvalidCacheOptions naming key", () =>
    Effect.gen(function*() {
      const cache = yield* makeMemory<string>({})
      for (const bad of [null, undefined, 7, {}] as const) {
        // untrusted keys on purpose
        const key = bad as unknown as string
        for (const op of [cache.get(key), cache.has(key), cache.delete(key)] as const) {
          const error = yield* Effect.flip(
            op as Effect.Effect<unknown, { readonly _tag: string; readonly path?: string }>
          )
          assert.strictEqual(error._tag, "InvalidCacheOptions")
          assert.strictEqual(error.path, "key")
        }
      }
    }).pipe(Effect.scoped))

  it.effect("Cache.layerMemory() has a default bound: 10,000 entries, least recently used evicted", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      for (let i = 0; i <= DEFAULT_MAX_ENTRIES; i++) yield* cache.put(`k${i}`, i)
      const stats = yield* cache.stats()
      assert.strictEqual(stats.entries, 10_000)
      assert.isTrue(Option.isNone(yield* cache.get("k0")))
      assert.deepStrictEqual(yield* cache.get(`k${DEFAULT_MAX_ENTRIES}`), Option.some(DEFAULT_MAX_ENTRIES))
    }).pipe(Effect.provide(Cache.layerMemory())))
})

describeRedis("cache L2 when Redis is frozen (SIGSTOP)", () => {
  it.live(
    "get misses and put returns within the tier's default timeout; releasing the layer does not hang",
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.promise(() => startOwnRedis())
        const scope = yield* Scope.make()
        const run = Effect.gen(function*() {
          const context = yield* Layer.buildWithScope(
            Cache.layerNodeRedis({
              url: server.url,
              sweepInterval: "1 hour",
              redis: { value: Schema.String, prefix: "frozen:" }
            }),
            scope
          )
          const cache = context.mapUnsafe.get(Cache.key) as Cache["Service"]
          yield* cache.put("a", "1")
          server.stop()
          const started = Date.now()
          assert.isTrue(Option.isNone(yield* cache.get("missing")))
          const got = Date.now() - started
          assert.isBelow(got, 1_500, `get took ${got} ms`)
          const putStart = Date.now()
          yield* cache.put("b", "2")
          assert.isBelow(Date.now() - putStart, 1_500)
          const releaseStart = Date.now()
          const released = yield* Effect.timeoutOption(Scope.close(scope, Exit.void), "3 seconds")
          assert.isTrue(Option.isSome(released), "release hung")
          assert.isBelow(Date.now() - releaseStart, 1_500)
        })
        yield* run.pipe(Effect.ensuring(Effect.promise(() => server.kill())))
      }),
    20_000
  )
})

describe("sizeOf fuzz", () => {
  it.effect("a fractional sizeOf counts as the next whole byte: float sums never take the total past maxBytes", () =>
    Effect.gen(function*() {
      const sizes = [33.3, 33.3, 33.3, 0.1, 0.2, 0.1]
      let i = 0
      const cache = yield* makeMemory<string>({ maxBytes: 100, sizeOf: () => sizes[i] ?? 0 })
      for (; i < sizes.length; i++) {
        yield* cache.put(`k${i}`, "v")
        assert.isAtMost((yield* cache.stats()).bytes, 100)
        assert.isTrue(Number.isInteger((yield* cache.stats()).bytes))
      }
    }).pipe(Effect.scoped))

  it.effect("whatever sizeOf returns, put either stores within maxBytes or fails typed; it never throws or overfills", () =>
    Effect.gen(function*() {
      const samples = fc.sample(fc.oneof(fc.anything(), fc.double(), fc.integer({ min: -10, max: 200 })), 200)
      let i = 0
      const cache = yield* makeMemory<string>({ maxBytes: 100, sizeOf: () => samples[i] as number })
      for (; i < samples.length; i++) {
        const exit = yield* Effect.exit(cache.put(`k${i}`, "v"))
        if (exit._tag === "Failure") {
          const tag = exit.cause.reasons[0]?._tag === "Fail"
            ? (exit.cause.reasons[0].error as { _tag: string })._tag
            : "defect"
          assert.include(["InvalidCacheOptions", "CacheValueTooLarge"], tag)
        }
        assert.isAtMost((yield* cache.stats()).bytes, 100)
      }
    }).pipe(Effect.scoped))
})

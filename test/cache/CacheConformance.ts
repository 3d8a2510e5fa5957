/**
 * The cache conformance suite: one set of scenarios run against every cache backend (memory, memory over Redis).
 *
 * Every scenario runs under `it.effect` (TestClock): TTL exactness to the millisecond holds for the Redis tier
 * too, because L2 entries carry their expiry in Effect Clock time (see `src/cache/RedisTier.ts`). Computations
 * signal when they have started before the test moves the clock, since a tiered cache first awaits real Redis I/O.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, type Duration, Effect, Exit, Fiber, Metric, Option, Ref } from "effect"
import type * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import type { InvalidCacheOptions } from "../../src/cache/CacheError.ts"
import type { CacheOptions } from "../../src/cache/CacheOptions.ts"
import type { CacheInternals } from "../../src/cache/internal/CacheCore.ts"

/** Builds a fresh, empty cache of strings in the test's Scope. */
export type MakeCache = (
  options?: CacheOptions<string>
) => Effect.Effect<CacheInternals<string>, InvalidCacheOptions, Scope.Scope>

const quiet: CacheOptions<string> = { sweepInterval: "1 hour" }

/** A computation that signals `started`, then takes `duration` of Clock time to produce `value`. */
const slowly = (started: Deferred.Deferred<void>, value: string, duration: Duration.Input = "1 second") =>
  Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep(duration)), Effect.as(value))

/** `slowly`, counting each run in `runs`. */
const countedSlowly = (
  runs: Ref.Ref<number>,
  started: Deferred.Deferred<void>,
  value: string,
  duration?: Duration.Input
) => Effect.andThen(Ref.update(runs, (n) => n + 1), slowly(started, value, duration))

export const cacheConformance = (backend: string, make: MakeCache): void => {
  describe(`Cache conformance (${backend})`, () => {
    it.effect("put / get / has / delete", () =>
      Effect.gen(function*() {
        const cache = yield* make()
        assert.isTrue(Option.isNone(yield* cache.get("a")))
        yield* cache.put("a", "1")
        assert.deepStrictEqual(yield* cache.get("a"), Option.some("1"))
        assert.isTrue(yield* cache.has("a"))
        yield* cache.put("a", "2")
        assert.deepStrictEqual(yield* cache.get("a"), Option.some("2"))
        yield* cache.delete("a")
        assert.isFalse(yield* cache.has("a"))
        assert.isTrue(Option.isNone(yield* cache.get("a")))
        const stats = yield* cache.stats()
        assert.strictEqual(stats.hits, 2)
        assert.strictEqual(stats.misses, 2)
        assert.strictEqual(stats.hitRatio, 0.5)
        assert.strictEqual(stats.evictions.manual, 1)
      }))

    it.effect("the get Effect is lazy and re-evaluated (yield*, pipe, repeat)", () =>
      Effect.gen(function*() {
        const cache = yield* make()
        const read = cache.get("k")
        yield* cache.put("k", "v1")
        assert.deepStrictEqual(yield* read, Option.some("v1"))
        yield* cache.put("k", "v2")
        assert.deepStrictEqual(yield* read, Option.some("v2"))
        assert.deepStrictEqual(yield* Effect.map(read, Option.getOrElse(() => "")), "v2")
        yield* cache.delete("k")
        assert.isTrue(Option.isNone(yield* read))
      }))

    it.effect("TTL expiry is exact to the millisecond, before any sweep", () =>
      Effect.gen(function*() {
        const cache = yield* make({ ...quiet, defaultTtl: "10 seconds", namespaces: { llm: { ttl: "2 seconds" } } })
        yield* cache.put("plain", "p")
        yield* cache.put("llm:q", "answer")
        yield* cache.put("own", "o", { ttl: 1000 })
        yield* TestClock.adjust(999)
        assert.isTrue(Option.isSome(yield* cache.get("own")))
        yield* TestClock.adjust(1)
        assert.isTrue(Option.isNone(yield* cache.get("own")))
        assert.isTrue(Option.isSome(yield* cache.get("llm:q")))
        yield* TestClock.adjust(999)
        assert.isTrue(yield* cache.has("llm:q"))
        yield* TestClock.adjust(1)
        assert.isFalse(yield* cache.has("llm:q"))
        assert.isTrue(Option.isNone(yield* cache.get("llm:q")))
        yield* TestClock.adjust(7_999)
        assert.isTrue(Option.isSome(yield* cache.get("plain")))
        yield* TestClock.adjust(1)
        assert.isTrue(Option.isNone(yield* cache.get("plain")))
        const stats = yield* cache.stats()
        assert.strictEqual(stats.evictions.ttl, 3)
        assert.strictEqual(stats.entries, 0)
      }))

    it.effect("the sweeper removes expired entries on its Schedule", () =>
      Effect.gen(function*() {
        const swept: Array<number> = []
        const cache = yield* make({ sweepInterval: "1 second", onSweep: (n) => swept.push(n) })
        yield* cache.put("a", "1", { ttl: "500 millis" })
        yield* cache.put("b", "2", { ttl: "1500 millis" })
        yield* cache.put("c", "3")
        assert.strictEqual((yield* cache.stats()).entries, 3)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* cache.stats()).entries, 2)
        yield* TestClock.adjust("1 second")
        const stats = yield* cache.stats()
        assert.strictEqual(stats.entries, 1)
        assert.strictEqual(stats.evictions.ttl, 2)
        assert.deepStrictEqual(swept.slice(-2), [1, 1])
      }))

    it.effect("LRU order: the least recently used entry is evicted at maxEntries", () =>
      Effect.gen(function*() {
        const cache = yield* make({ ...quiet, maxEntries: 3 })
        yield* cache.put("a", "1")
        yield* cache.put("b", "2")
        yield* cache.put("c", "3")
        yield* cache.get("a") // order (MRU first): a c b
        yield* cache.put("d", "4") // evicts b
        assert.deepStrictEqual(cache.l1Keys(), ["d", "a", "c"])
        yield* cache.has("c") // has does not refresh recency
        yield* cache.put("e", "5") // evicts c
        assert.deepStrictEqual(cache.l1Keys(), ["e", "d", "a"])
        const stats = yield* cache.stats()
        assert.strictEqual(stats.l1.evictions.capacity, 2)
        assert.strictEqual(stats.entries, 3)
      }))

    it.effect("maxBytes with a size function evicts by LRU until the bytes fit", () =>
      Effect.gen(function*() {
        const cache = yield* make({ ...quiet, maxBytes: 10, sizeOf: (v) => v.length })
        yield* cache.put("a", "aaaaa")
        yield* cache.put("b", "bbbbb")
        assert.strictEqual((yield* cache.stats()).bytes, 10)
        yield* cache.put("c", "cc")
        assert.deepStrictEqual(cache.l1Keys(), ["c", "b"])
        const stats = yield* cache.stats()
        assert.strictEqual(stats.bytes, 7)
        assert.strictEqual(stats.evictions.capacity, 1)
        const tooBig = yield* Effect.flip(cache.put("d", "x".repeat(11)))
        assert.strictEqual(tooBig._tag, "CacheValueTooLarge")
      }))

    it.effect("getOrCompute is single-flight: concurrent misses compute once", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const runs = yield* Ref.make(0)
        const started = yield* Deferred.make<void>()
        const compute = countedSlowly(runs, started, "computed", "100 millis")
        const fibers = yield* Effect.forEach(
          Array.from({ length: 10 }, () => cache.getOrCompute("k", compute)),
          (e) => Effect.forkChild(e, { startImmediately: true })
        )
        yield* Deferred.await(started)
        yield* TestClock.adjust("100 millis")
        const results = yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(results, Array.from({ length: 10 }, () => "computed"))
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.strictEqual(yield* cache.getOrCompute("k", Effect.succeed("other")), "computed")
        const stats = yield* cache.stats()
        assert.strictEqual(stats.computations, 1)
        assert.strictEqual(stats.coalesced, 9)
      }))

    it.effect("an interrupted waiter never poisons the entry: the computation continues for the others", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const runs = yield* Ref.make(0)
        const started = yield* Deferred.make<void>()
        const compute = countedSlowly(runs, started, "v")
        const first = yield* Effect.forkChild(cache.getOrCompute("k", compute), { startImmediately: true })
        yield* Deferred.await(started)
        const second = yield* Effect.forkChild(cache.getOrCompute("k", compute), { startImmediately: true })
        yield* Fiber.interrupt(first)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(second), "v")
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.deepStrictEqual(yield* cache.get("k"), Option.some("v"))
      }))

    it.effect("when every waiter is interrupted the computation stops and the next call restarts it", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const runs = yield* Ref.make(0)
        const started = yield* Deferred.make<void>()
        const slow = countedSlowly(runs, started, "slow")
        const only = yield* Effect.forkChild(cache.getOrCompute("k", slow), { startImmediately: true })
        yield* Deferred.await(started)
        yield* Fiber.interrupt(only)
        yield* TestClock.adjust("1 second")
        assert.isTrue(Option.isNone(yield* cache.get("k")))
        assert.strictEqual(yield* cache.getOrCompute("k", Effect.succeed("fresh")), "fresh")
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.deepStrictEqual(yield* cache.get("k"), Option.some("fresh"))
      }))

    it.effect("a put or delete racing a computation wins over its result", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const started = yield* Deferred.make<void>()
        const computing = yield* Effect.forkChild(cache.getOrCompute("k", slowly(started, "computed")), {
          startImmediately: true
        })
        yield* Deferred.await(started)
        yield* cache.put("k", "written")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(computing), "computed") // its waiter still gets the result
        assert.deepStrictEqual(yield* cache.get("k"), Option.some("written")) // but the put wins
        const started2 = yield* Deferred.make<void>()
        const again = yield* Effect.forkChild(cache.getOrCompute("j", slowly(started2, "old")), {
          startImmediately: true
        })
        yield* Deferred.await(started2)
        yield* cache.delete("j")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(again), "old")
        assert.isTrue(Option.isNone(yield* cache.get("j"))) // a delete is never undone by a computation
      }))

    it.effect("a put given a mark stores nothing when its key was deleted or cleared since the mark", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const before = cache.mark()
        yield* cache.put("llm:a", "fresh", { since: before }) // nothing happened since: stored
        assert.deepStrictEqual(yield* cache.get("llm:a"), Option.some("fresh"))
        const mark = cache.mark()
        yield* cache.delete("k")
        yield* cache.clear({ prefix: "llm:b" })
        yield* cache.put("other", "1", { since: mark }) // neither invalidation touched this key
        yield* cache.put("llm:bb", "stale", { since: mark })
        yield* cache.put("k", "stale", { since: mark })
        assert.deepStrictEqual(
          [yield* cache.has("other"), yield* cache.has("llm:bb"), yield* cache.has("k")],
          [true, false, false]
        )
        const beforeClear = cache.mark()
        yield* cache.clear()
        yield* cache.put("any", "stale", { since: beforeClear })
        assert.isFalse(yield* cache.has("any"))
        // past the bounded log of invalidations, an old mark counts as invalidated
        const old = cache.mark()
        for (let i = 0; i < 2000; i++) yield* cache.delete(`d${i}`)
        yield* cache.put("fresh", "v", { since: old })
        assert.isFalse(yield* cache.has("fresh"))
        const bad = yield* Effect.flip(cache.put("x", "v", { since: -1 as never }))
        assert.strictEqual(bad._tag === "InvalidCacheOptions" ? bad.path : bad._tag, "since")
      }))

    it.effect("failures are not cached without a failureTtl", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const runs = yield* Ref.make(0)
        const failing = Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(Effect.fail("boom" as const)))
        assert.strictEqual(yield* Effect.flip(cache.getOrCompute("k", failing)), "boom")
        assert.strictEqual(yield* Effect.flip(cache.getOrCompute("k", failing)), "boom")
        assert.strictEqual(yield* Ref.get(runs), 2)
        assert.strictEqual(yield* cache.getOrCompute("k", Effect.succeed("ok")), "ok")
      }))

    it.effect("failures are cached for exactly failureTtl when one is given", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        const runs = yield* Ref.make(0)
        const failing = Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(Effect.fail("boom" as const)))
        const call = cache.getOrCompute("k", failing, { failureTtl: "5 seconds" })
        assert.strictEqual(yield* Effect.flip(call), "boom")
        yield* TestClock.adjust(4_999)
        const exit = yield* Effect.exit(call)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasFails(exit.cause))
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.isTrue(Option.isNone(yield* cache.get("k")))
        yield* TestClock.adjust(1)
        assert.strictEqual(yield* Effect.flip(call), "boom")
        assert.strictEqual(yield* Ref.get(runs), 2)
        assert.strictEqual((yield* cache.stats()).failureHits, 1)
      }))

    it.effect("clear by namespace and by prefix; delete and clear count manual evictions", () =>
      Effect.gen(function*() {
        const cache = yield* make(quiet)
        yield* cache.put("llm:a", "1")
        yield* cache.put("llm:b", "2")
        yield* cache.put("emb:a", "3")
        yield* cache.put("x", "4")
        yield* cache.clear({ namespace: "llm" })
        assert.isFalse(yield* cache.has("llm:a"))
        assert.isFalse(yield* cache.has("llm:b"))
        assert.isTrue(yield* cache.has("emb:a"))
        yield* cache.clear({ prefix: "em" })
        assert.isFalse(yield* cache.has("emb:a"))
        assert.isTrue(yield* cache.has("x"))
        yield* cache.clear()
        assert.isFalse(yield* cache.has("x"))
        assert.deepStrictEqual((yield* cache.stats()).evictions, { ttl: 0, capacity: 0, manual: 4 })
      }))

    it.effect("tokens saved by hits and the documented metrics", () =>
      Effect.gen(function*() {
        const cache = yield* make({ ...quiet, name: `metrics-${backend}` })
        yield* cache.put("llm:q", "a", { tokens: 120 })
        yield* cache.get("llm:q")
        yield* cache.get("llm:q")
        assert.strictEqual(
          yield* cache.getOrCompute("llm:r", Effect.succeed("b"), { tokens: (v) => v.length * 10 }),
          "b"
        )
        yield* cache.getOrCompute("llm:r", Effect.succeed("never"))
        assert.strictEqual((yield* cache.stats()).tokensSaved, 250)
        const snapshot = yield* Metric.snapshot
        const find = (id: string, attrs: Record<string, string>) =>
          snapshot.find((m) =>
            m.id === id && Object.entries(attrs).every(([k, v]) => m.attributes?.[k] === v) &&
            m.attributes?.["cache"] === `metrics-${backend}`
          )
        assert.deepStrictEqual(find("troupe_cache_hits_total", { tier: "l1" })?.state, { count: 3, incremental: false })
        assert.deepStrictEqual(find("troupe_cache_tokens_saved_total", {})?.state, { count: 250, incremental: false })
        assert.deepStrictEqual(find("troupe_cache_entries", {})?.state, { value: 2 })
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

    it.effect("bad input fails with typed errors naming the field", () =>
      Effect.gen(function*() {
        const e1 = yield* Effect.flip(make({ maxEntries: 0 }))
        assert.strictEqual(e1._tag, "InvalidCacheOptions")
        assert.strictEqual(e1.path, "maxEntries")
        const e2 = yield* Effect.flip(make({ namespaces: { llm: { ttl: "soon" as never } } }))
        assert.strictEqual(e2.path, "namespaces.llm.ttl")
        const e3 = yield* Effect.flip(make({ defaultTtl: -5 }))
        assert.strictEqual(e3.path, "defaultTtl")
        const cache = yield* make({ ...quiet, maxKeyBytes: 16, maxValueBytes: 8, sizeOf: (v) => v.length })
        const e4 = yield* Effect.flip(cache.put("k", "v", { ttl: "whenever" as never }))
        assert.strictEqual(e4._tag === "InvalidCacheOptions" ? e4.path : e4._tag, "ttl")
        const e5 = yield* Effect.flip(cache.put("k".repeat(17), "v"))
        assert.strictEqual(e5._tag, "CacheKeyTooLarge")
        assert.strictEqual((yield* Effect.flip(cache.get("é".repeat(9))))._tag, "CacheKeyTooLarge")
        const e6 = yield* Effect.flip(cache.put("k", "123456789"))
        assert.strictEqual(e6._tag === "CacheValueTooLarge" ? e6.limitName : e6._tag, "maxValueBytes")
        const e7 = yield* Effect.flip(cache.clear({ namespace: "a:b" }))
        assert.strictEqual(e7.path, "namespace")
        // an oversized computed value is returned, not cached
        assert.strictEqual(yield* cache.getOrCompute("big", Effect.succeed("123456789")), "123456789")
        assert.isFalse(yield* cache.has("big"))
        assert.strictEqual((yield* cache.stats()).rejected, 1)
      }))
  })
}

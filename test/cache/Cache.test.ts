/**
 * Tests of the memory cache layer: the shared conformance suite, plus memory-only behaviour (supervised sweeper
 * restart, the `Cache` service layer, fast-check properties).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Cache, makeMemory } from "../../src/cache/Cache.ts"
import { Lifecycle } from "../../src/runtime/index.ts"
import { cacheConformance } from "./CacheConformance.ts"

cacheConformance("memory", (options) => makeMemory<string>(options))

describe("Cache (memory)", () => {
  it.effect("the Cache service layer", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      yield* cache.put("a", { n: 1 })
      assert.deepStrictEqual(yield* cache.get("a"), Option.some({ n: 1 }))
    }).pipe(Effect.provide(Cache.layerMemory({ maxEntries: 10 }))))

  it.effect("a crashing sweeper is restarted by its supervisor and the cache keeps working", () =>
    Effect.gen(function*() {
      const events = yield* Lifecycle.use((l) => l.subscribe)
      let calls = 0
      const cache = yield* makeMemory<string>({
        name: "crashy",
        sweepInterval: "1 second",
        onSweep: () => {
          calls++
          if (calls === 2) throw new Error("sweep hook failed")
        }
      })
      yield* cache.put("a", "1", { ttl: "1500 millis" })
      yield* TestClock.adjust("1500 millis") // the second sweep (when "a" is due) crashes; the supervisor restarts the sweeper
      const restarted = yield* events.pipe(
        Stream.filter((e) => e._tag === "ChildRestarted"),
        Stream.take(1),
        Stream.runCollect
      )
      assert.strictEqual(restarted[0]?.supervisor, "cache:crashy")
      assert.strictEqual(restarted[0]?.childId, "sweeper")
      yield* TestClock.adjust("1 second")
      assert.isAtLeast(calls, 3) // the restarted sweeper swept at once
      assert.strictEqual((yield* cache.stats()).entries, 0)
      yield* cache.put("b", "2")
      assert.deepStrictEqual(yield* cache.get("b"), Option.some("2"))
    }).pipe(Effect.provide(Lifecycle.layer)))
})

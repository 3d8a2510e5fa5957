/**
 * Property tests (fast-check) of the L1 store and of the memory cache: for random operation sequences and
 * random clock advances, the store agrees with a reference LRU model, never holds more than `maxEntries` or
 * `maxBytes`, and never returns an expired entry.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Option, Scope } from "effect"
import fc from "fast-check"
import { makeMemory } from "../../../src/cache/Cache.ts"
import { LruStore } from "../../../src/cache/internal/LruStore.ts"

type Op =
  | { readonly _tag: "set"; readonly key: string; readonly size: number; readonly ttl: number | undefined }
  | { readonly _tag: "get"; readonly key: string }
  | { readonly _tag: "delete"; readonly key: string }
  | { readonly _tag: "advance"; readonly ms: number }

const keyArb = fc.constantFrom("a", "b", "c", "d", "e", "f", "g")
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    _tag: fc.constant("set" as const),
    key: keyArb,
    size: fc.integer({ min: 1, max: 6 }),
    ttl: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined })
  }),
  fc.record({ _tag: fc.constant("get" as const), key: keyArb }),
  fc.record({ _tag: fc.constant("delete" as const), key: keyArb }),
  fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) })
)

/** Reference model: an array of live entries, most recently used first. */
interface ModelEntry {
  readonly key: string
  readonly size: number
  readonly expiresAt: number
}

describe("LruStore properties", () => {
  it("agrees with a reference LRU model; bounded; never returns expired entries", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 6, max: 20 }),
        fc.array(opArb, { maxLength: 80 }),
        (maxEntries, maxBytes, ops) => {
          let now = 0
          const store = new LruStore<number>(maxEntries, maxBytes, () => {}, () => now)
          let model: Array<ModelEntry> = []
          // The store expires lazily: a read of an expired key drops that entry only; the others stay (and
          // count towards the bounds) until a sweep or an eviction from the LRU end removes them.
          const live = () => model.filter((e) => e.expiresAt > now)
          for (const op of ops) {
            switch (op._tag) {
              case "advance":
                now += op.ms
                break
              case "set": {
                const expiresAt = op.ttl === undefined ? Infinity : now + op.ttl
                store.set(op.key, op.size, expiresAt, op.size, 0, undefined)
                model = [{ key: op.key, size: op.size, expiresAt }, ...model.filter((e) => e.key !== op.key)]
                // Evict from the LRU end (expired or not) while over a bound, as the store does.
                while (
                  model.length > 1 &&
                  (model.length > maxEntries || model.reduce((n, e) => n + e.size, 0) > maxBytes)
                ) model.pop()
                break
              }
              case "get": {
                const got = store.get(op.key)
                model = model.filter((e) => e.key !== op.key || e.expiresAt > now)
                const expected = model.find((e) => e.key === op.key)
                assert.strictEqual(got?.value, expected?.size)
                if (got !== undefined) {
                  assert.isTrue(got.expiresAt > now, "an expired entry was returned")
                  model = [expected as ModelEntry, ...model.filter((e) => e.key !== op.key)]
                }
                break
              }
              case "delete":
                store.delete(op.key)
                model = model.filter((e) => e.key !== op.key)
                break
            }
            assert.isAtMost(store.size, maxEntries)
            assert.isAtMost(store.bytes, maxBytes)
          }
          const liveKeys = store.keys().filter((k) => store.peek(k) !== undefined)
          assert.deepStrictEqual(liveKeys, live().map((e) => e.key))
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("memory cache properties", () => {
  it("never more than maxEntries, never an expired value, through the public API", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(opArb, { maxLength: 60 }), (maxEntries, ops) => {
        let now = 0
        const clock: Clock.Clock = {
          currentTimeMillisUnsafe: () => now,
          currentTimeMillis: Effect.sync(() => now),
          currentTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
          currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
          monotonicTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
          monotonicTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
          sleep: () => Effect.never
        }
        const written = new Map<string, { readonly value: string; readonly expiresAt: number }>()
        const scope = Effect.runSync(Scope.make())
        const cache = Effect.runSync(
          makeMemory<string>({ maxEntries }).pipe(Scope.provide(scope), Effect.provideService(Clock.Clock, clock))
        )
        for (const op of ops) {
          if (op._tag === "advance") now += op.ms
          else if (op._tag === "set") {
            const value = `${op.key}@${now}`
            Effect.runSync(cache.put(op.key, value, op.ttl === undefined ? undefined : { ttl: op.ttl }))
            written.set(op.key, { value, expiresAt: op.ttl === undefined ? Infinity : now + op.ttl })
          } else if (op._tag === "get") {
            const got = Effect.runSync(cache.get(op.key))
            if (Option.isSome(got)) {
              const last = written.get(op.key)
              assert.strictEqual(got.value, last?.value, "only the last written value is returned")
              assert.isTrue((last?.expiresAt ?? 0) > now, "never an expired value")
            }
          } else Effect.runSync(cache.delete(op.key))
          assert.isAtMost(Effect.runSync(cache.stats()).entries, maxEntries)
        }
        Effect.runSync(Scope.close(scope, Exit.void))
      }),
      { numRuns: 200 }
    )
  })
})

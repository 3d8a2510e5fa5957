/**
 * `SubjectIndex` (src/identity/SubjectIndex.ts): links are idempotent and bounded; at capacity a `memory` link fails
 * `StoreFull` and is never evicted, while a cache link may be given up together with its entry (`evictOldestCache`,
 * `linkCacheKey`), so every entry stored for a subject stays linked.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fc from "fast-check"
import { linkCacheKey, SubjectIndex } from "../../src/identity/SubjectIndex.ts"

describe("SubjectIndex", () => {
  it.effect("linking is idempotent; refs answer in link order; forget drops them all and counts them", () =>
    Effect.gen(function*() {
      const index = SubjectIndex.makeMemory(10)
      yield* index.link("t", "ana", "cache", "k1")
      yield* index.link("t", "ana", "cache", "k2")
      yield* index.link("t", "ana", "cache", "k1")
      yield* index.link("t", "ana", "memory", "conv")
      assert.deepStrictEqual(yield* index.refs("t", "ana", "cache"), ["k1", "k2"])
      assert.deepStrictEqual(yield* index.refs("u", "ana", "cache"), [])
      assert.strictEqual(yield* index.forget("t", "ana"), 3)
      assert.strictEqual(yield* index.forget("t", "ana"), 0)
    }))

  it.effect("at capacity a memory link fails StoreFull and is never evicted", () =>
    Effect.gen(function*() {
      const index = SubjectIndex.makeMemory(2)
      yield* index.link("t", "ana", "memory", "c1")
      yield* index.link("t", "ben", "memory", "c2")
      const full = yield* Effect.flip(index.link("t", "cleo", "memory", "c3"))
      assert.strictEqual(full._tag, "StoreFull")
      assert.isTrue(Option.isNone(yield* index.evictOldestCache))
      const deleted: Array<string> = []
      const refused = yield* Effect.flip(
        linkCacheKey(index, "t", "cleo", "k", (key) => Effect.sync(() => deleted.push(key)))
      )
      assert.strictEqual(refused._tag, "StoreFull")
      assert.deepStrictEqual(deleted, [])
      assert.deepStrictEqual(yield* index.refs("t", "ana", "memory"), ["c1"])
    }))

  it.effect("a cache link may be given up together with its entry: linkCacheKey at capacity evicts the oldest cache link and deletes its entry", () =>
    Effect.gen(function*() {
      const index = SubjectIndex.makeMemory(3)
      const deleted: Array<string> = []
      const del = (key: string) => Effect.sync(() => deleted.push(key))
      yield* index.link("t", "ana", "memory", "conv")
      yield* linkCacheKey(index, "t", "ana", "k1", del)
      yield* linkCacheKey(index, "t", "ben", "k2", del)
      yield* linkCacheKey(index, "t", "cleo", "k3", del)
      assert.deepStrictEqual(deleted, ["k1"])
      assert.deepStrictEqual(yield* index.refs("t", "ana", "cache"), [])
      assert.deepStrictEqual(yield* index.refs("t", "ana", "memory"), ["conv"])
      assert.deepStrictEqual(yield* index.refs("t", "cleo", "cache"), ["k3"])
    }))

  it("property: under random links, forgets and evictions the index never holds more than its bound, and what it answers matches a reference model", () => {
    const op = fc.oneof(
      fc.record({
        op: fc.constant("link" as const),
        subject: fc.constantFrom("a", "b", "c"),
        kind: fc.constantFrom("memory" as const, "cache" as const),
        ref: fc.constantFrom("r1", "r2", "r3", "r4")
      }),
      fc.record({ op: fc.constant("forget" as const), subject: fc.constantFrom("a", "b", "c") }),
      fc.record({ op: fc.constant("evict" as const) })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (ops, max) => {
        const index = SubjectIndex.makeMemory(max)
        // the model: per subject, per kind, an ordered list; cache links in global order
        const model = new Map<string, { memory: Array<string>; cache: Array<string> }>()
        const order: Array<[string, string]> = []
        const total = () => [...model.values()].reduce((n, e) => n + e.memory.length + e.cache.length, 0)
        for (const o of ops) {
          if (o.op === "link") {
            const entry = model.get(o.subject) ?? { memory: [], cache: [] }
            const exit = Effect.runSyncExit(index.link("t", o.subject, o.kind, o.ref))
            if (entry[o.kind].includes(o.ref)) {
              assert.strictEqual(exit._tag, "Success")
            } else if (total() >= max) {
              assert.strictEqual(exit._tag, "Failure")
            } else {
              assert.strictEqual(exit._tag, "Success")
              entry[o.kind].push(o.ref)
              model.set(o.subject, entry)
              if (o.kind === "cache") order.push([o.subject, o.ref])
            }
          } else if (o.op === "forget") {
            const entry = model.get(o.subject)
            const expected = entry === undefined ? 0 : entry.memory.length + entry.cache.length
            assert.strictEqual(Effect.runSync(index.forget("t", o.subject)), expected)
            model.delete(o.subject)
            for (let i = order.length - 1; i >= 0; i--) if (order[i]![0] === o.subject) order.splice(i, 1)
          } else {
            const evicted = Effect.runSync(index.evictOldestCache)
            const oldest = order.shift()
            assert.deepStrictEqual(evicted, oldest === undefined ? Option.none() : Option.some(oldest[1]))
            if (oldest !== undefined) {
              const entry = model.get(oldest[0])!
              entry.cache.splice(entry.cache.indexOf(oldest[1]), 1)
            }
          }
          assert.isAtMost(total(), max)
          for (const subject of ["a", "b", "c"]) {
            for (const kind of ["memory", "cache"] as const) {
              assert.deepStrictEqual(Effect.runSync(index.refs("t", subject, kind)), model.get(subject)?.[kind] ?? [])
            }
          }
        }
      }),
      { numRuns: 300 }
    )
  })
})

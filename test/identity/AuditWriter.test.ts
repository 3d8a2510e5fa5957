/**
 * The audit log's writer (group commit, src/identity/internal/AuditWriter.ts) on the memory store, where the store
 * operations can be counted and made to fail: concurrent records share one append; a failed batch fails its
 * `record` callers and keeps its submitted entries queued for the next flush; the queue is bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import type { AuditStoreShape } from "../../src/identity/index.ts"
import { Audit, AuditStore, IdentityStoreError } from "../../src/identity/index.ts"
import { makeMemoryAuditStore } from "../../src/identity/internal/AuditStoreMemory.ts"

const entry = (i: number) => ({
  tenant: "t1",
  actor: "user:1",
  action: "key.create",
  resource: `key/${i}`,
  status: "success" as const
})

/** The memory store, with each `appendAll` yielding first (as a network store would) and counted; `failFirst` fails that many. */
const countingStore = (failFirst = 0) => {
  const inner = makeMemoryAuditStore(1_000)
  const counts = { appendAll: 0 }
  let failures = failFirst
  const store: AuditStoreShape = {
    ...inner,
    appendAll: (records) =>
      Effect.andThen(Effect.yieldNow, () => {
        counts.appendAll++
        if (failures > 0) {
          failures--
          return Effect.fail(new IdentityStoreError({ operation: "appendAll", message: "connection reset" }))
        }
        return inner.appendAll(records)
      })
  }
  return { store, counts, inner }
}

describe("Audit writer (group commit)", () => {
  it.effect("written in batches: 100 concurrent records share a few store appends, each acknowledged with its own entry", () => {
    const { counts, inner, store } = countingStore()
    return Effect.gen(function*() {
      const audit = yield* Audit
      const written = yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => audit.record(entry(i)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(written.map((r) => r.resource), Array.from({ length: 100 }, (_, i) => `key/${i}`))
      assert.isAtMost(counts.appendAll, 5)
      assert.strictEqual(inner.unsafeEntries.length, 100)
      assert.deepInclude(yield* audit.verify(), { _tag: "Intact", checked: 100 })
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(Layer.succeed(AuditStore, store)))))
  })

  it.effect("a failed batch fails its record callers and keeps its submitted entries queued for the next flush", () => {
    const { inner, store } = countingStore(1)
    return Effect.gen(function*() {
      const audit = yield* Audit
      yield* audit.submit(entry(0))
      const failed = yield* Effect.exit(audit.record(entry(1)))
      // the submit's detached flush met the failure: the submitted entry is still queued, the record failed
      assert.isTrue(Exit.isFailure(failed) || inner.unsafeEntries.length > 0)
      const ok = yield* audit.record(entry(2))
      yield* audit.flush
      const resources = inner.unsafeEntries.map((r) => r.resource)
      assert.include(resources, "key/0")
      assert.include(resources, "key/2")
      assert.strictEqual(ok.resource, "key/2")
      assert.deepInclude(yield* audit.verify(), { _tag: "Intact" })
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(Layer.succeed(AuditStore, store)))))
  })

  it.effect("written in batches: the queue is bounded (maxPending); past it record and submit fail StoreFull", () => {
    const { store } = countingStore()
    return Effect.gen(function*() {
      const audit = yield* Audit
      const exits = yield* Effect.forEach(
        Array.from({ length: 5 }, (_, i) => i),
        (i) => Effect.exit(audit.submit(entry(i)))
      )
      const full = exits.filter((e) => Exit.isFailure(e))
      assert.isAtLeast(full.length, 1)
      const first = full[0]
      if (first !== undefined && Exit.isFailure(first)) {
        const reason = first.cause.reasons[0]
        assert.isTrue(reason !== undefined && reason._tag === "Fail" && reason.error._tag === "StoreFull")
      }
    }).pipe(Effect.provide(Audit.layerWith({ maxPending: 2 }).pipe(Layer.provide(Layer.succeed(AuditStore, store)))))
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { afterAll } from "vitest"
import { Audit, AuditStore, KeyProvider, Privacy, SubjectKeys } from "../../src/identity/index.ts"
import { makeMemoryAuditStore } from "../../src/identity/internal/AuditStoreMemory.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { entryOf, privacyConformance, privacyLayer } from "./PrivacyConformance.ts"

describe("Privacy conformance: memory", () => {
  privacyConformance(() =>
    Effect.sync(() => ({ audit: AuditStore.layerMemory(), subjectKeys: SubjectKeys.layerMemory() }))
  )

  it.effect("property: after an erase, any single mutation of a stored entry is still detected by verify", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 8 }),
          fc.constantFrom("actor", "resource", "sealed", "metadata", "status", "prevHash", "at"),
          async (seq, field) => {
            const check = await Effect.runPromise(Effect.gen(function*() {
              const store = makeMemoryAuditStore(1000)
              const layer = privacyLayer({
                audit: Layer.succeed(AuditStore, store),
                subjectKeys: SubjectKeys.layerMemory()
              })
              return yield* Effect.gen(function*() {
                const audit = yield* Audit
                for (let i = 0; i < 4; i++) {
                  yield* audit.record(entryOf("t", "alice", i))
                  yield* audit.record(entryOf("t", "bob", i))
                }
                yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" }) // entry 8: privacy.erase
                assert.strictEqual((yield* audit.verify())._tag, "Intact")
                const e = store.unsafeEntries[seq]!
                const mutated: Record<string, unknown> = { ...e }
                if (field === "at") mutated["at"] = e.at + 1
                else if (field === "status") mutated["status"] = e.status === "success" ? "failure" : "success"
                else if (field === "metadata") mutated["metadata"] = { forged: true }
                else if (field === "sealed") {
                  mutated["sealed"] = e.sealed === undefined
                    ? "x"
                    : `${e.sealed.slice(0, -2)}AA`
                } else mutated[field] = `${String(e[field])}x`
                store.unsafeEntries[seq] = mutated as typeof e // a cast: a tampered record of the same shape
                return yield* audit.verify()
              }).pipe(Effect.provide(layer))
            }))
            assert.deepInclude(check, { _tag: "Broken", expectedSeq: seq })
          }
        ),
        { numRuns: 40 }
      )
    ))

  it.effect("only Audit is required: an absent service is a zero count with a note naming it", () =>
    Effect.gen(function*() {
      yield* (yield* Audit).record(entryOf("t", "alice", 0))
      const report = yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" })
      assert.deepStrictEqual(report.items.map((i) => [i.where, i.count]), [
        ["audit", 0],
        ["keys", 0],
        ["memory", 0],
        ["cache", 0]
      ])
      assert.include(report.items[0]!.note, "no SubjectKeys store")
      assert.include(report.items[1]!.note, "no KeyStore")
      assert.include(report.items[2]!.note, "no SubjectIndex")
    }).pipe(
      Effect.provide(Privacy.layer.pipe(Layer.provideMerge(Audit.layer), Layer.provide(AuditStore.layerMemory())))
    ))

  it.effect("with SubjectKeys but no KeyProvider, recording an entry with a subject fails IdentityStoreError rather than store it in clear", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Audit).record(entryOf("t", "alice", 0)))
      assert.strictEqual(error._tag, "IdentityStoreError")
    }).pipe(
      Effect.provide(Audit.layer.pipe(Layer.provide(Layer.merge(AuditStore.layerMemory(), SubjectKeys.layerMemory()))))
    ))

  it.effect("signed checkpoints stay valid across an erase", () =>
    Effect.gen(function*() {
      const audit = yield* Audit
      for (let i = 0; i < 6; i++) yield* audit.record(entryOf("t", "alice", i))
      yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" })
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    }).pipe(Effect.provide(Privacy.layer.pipe(
      Layer.provideMerge(Audit.layerSigned({ every: 2 })),
      Layer.provide(
        Layer.mergeAll(
          AuditStore.layerMemory(),
          SubjectKeys.layerMemory(),
          KeyProvider.layerStatic({ current: "b".repeat(64) })
        )
      )
    ))))
})

describePostgres("Privacy conformance: PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(() => Promise.all(schemas.map(dropSchemaPromise)))
  privacyConformance(() =>
    Effect.sync(() => {
      // two schemas: the two layers are built concurrently, and concurrent `CREATE SCHEMA IF NOT EXISTS` of one
      // name can fail in PostgreSQL
      const schema = uniqueSchema("privacy")
      schemas.push(schema, `${schema}_k`)
      return {
        audit: AuditStore.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)),
        subjectKeys: SubjectKeys.layerPostgres({ schema: `${schema}_k` }).pipe(Layer.provide(pgLayer))
      }
    })
  )
})

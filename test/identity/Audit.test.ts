import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import { afterAll } from "vitest"
import { Audit, AuditStore, GENESIS_HASH, KeyProvider } from "../../src/identity/index.ts"
import { hashEntry } from "../../src/identity/internal/AuditChain.ts"
import { makeMemoryAuditStore } from "../../src/identity/internal/AuditStoreMemory.ts"
import { Events, type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { auditConformance } from "./AuditConformance.ts"
import { failureOf } from "./support.ts"

describe("Audit conformance: memory", () => {
  auditConformance(() =>
    Effect.sync(() => {
      const store = makeMemoryAuditStore(1000)
      return {
        layer: Layer.succeed(AuditStore, store),
        edit: (seq, patch) =>
          Effect.sync(() => {
            store.unsafeEntries[seq] = { ...store.unsafeEntries[seq]!, ...patch }
          }),
        remove: (seq) => Effect.sync(() => void store.unsafeEntries.splice(seq, 1))
      }
    })
  )

  it.effect("telemetry for each entry: every appended entry emits troupe.audit.recorded (tenant, action, status only)", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("audit-events", [Events.auditRecorded], (e) => void seen.push(e))
      const audit = yield* Audit
      yield* audit.record({
        tenant: "acme",
        actor: "user:1",
        action: "key.create",
        resource: "key:9",
        status: "success"
      })
      yield* audit.record({
        tenant: "acme",
        actor: "user:2",
        action: "access.denied",
        resource: "GET /admin/config",
        status: "denied"
      })
      assert.deepStrictEqual(seen.map((e) => [e.measurements["seq"], e.metadata]), [
        [0, { tenant: "acme", action: "key.create", status: "success" }],
        [1, { tenant: "acme", action: "access.denied", status: "denied" }]
      ])
    }).pipe(
      Effect.provide(
        Audit.layer.pipe(Layer.provide(AuditStore.layerMemory()), Layer.provideMerge(TelemetryHub.layer()))
      )
    ))

  it.effect("layerMemory is bounded: at capacity record fails StoreFull, nothing is dropped silently", () =>
    Effect.gen(function*() {
      const audit = yield* Audit
      const e = { tenant: "t", actor: "a", action: "x", resource: "r", status: "success" as const }
      yield* audit.record(e)
      yield* audit.record(e)
      const exit = yield* Effect.exit(audit.record(e))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "StoreFull")
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(AuditStore.layerMemory({ maxEntries: 2 }))))))
})

describe("Audit checkpoints (memory hooks)", () => {
  const run = (every: number) =>
    Effect.gen(function*() {
      const store = makeMemoryAuditStore(1000)
      const layer = Audit.layerSigned({ every }).pipe(
        Layer.provideMerge(
          Layer.merge(Layer.succeed(AuditStore, store), KeyProvider.layerStatic({ current: "d".repeat(64) }))
        )
      )
      const audit = yield* Audit.pipe(Effect.provide(layer))
      for (let i = 0; i < 9; i++) {
        yield* audit.record({ tenant: "t", actor: "a", action: "x", resource: `r${i}`, status: "success" })
      }
      return { store, audit }
    })

  it.effect("a forged checkpoint fails checkpoint-signature; a removed one checkpoint-missing", () =>
    Effect.gen(function*() {
      const { audit, store } = yield* run(3)
      assert.deepStrictEqual(store.unsafeCheckpoints.map((c) => c.seq), [2, 5, 8])
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
      const original = store.unsafeCheckpoints[1]!
      store.unsafeCheckpoints[1] = { ...original, hash: "f".repeat(64) }
      assert.deepInclude(yield* audit.verify(), { _tag: "Broken", expectedSeq: 5, reason: "checkpoint-signature" })
      store.unsafeCheckpoints.splice(1, 1)
      assert.deepInclude(yield* audit.verify(), { _tag: "Broken", expectedSeq: 5, reason: "checkpoint-missing" })
      assert.deepInclude(yield* audit.verify({ from: 6 }), { _tag: "Intact", checked: 3 })
    }))

  it.effect("property: a rewrite from any entry that recomputes every later hash is named at the first checkpoint at or after it", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 7 }), async (from) => {
          const check = await Effect.runPromise(Effect.gen(function*() {
            const { audit, store } = yield* run(4) // 9 entries, checkpoints at 3 and 7
            let prev = from === 0 ? GENESIS_HASH : store.unsafeEntries[from - 1]!.hash
            for (let seq = from; seq < store.unsafeEntries.length; seq++) {
              const body = {
                ...store.unsafeEntries[seq]!,
                resource: seq === from ? "forged" : store.unsafeEntries[seq]!.resource,
                prevHash: prev
              }
              store.unsafeEntries[seq] = { ...body, hash: hashEntry(prev, body) }
              prev = store.unsafeEntries[seq]!.hash
            }
            return yield* audit.verify()
          }))
          assert.deepInclude(check, { _tag: "Broken", expectedSeq: from <= 3 ? 3 : 7, reason: "checkpoint" })
        }),
        { numRuns: 16 }
      )
    ))

  it.effect("a checkpoint under an unknown key id is a forged checkpoint", () =>
    Effect.gen(function*() {
      const { audit, store } = yield* run(4)
      store.unsafeCheckpoints[0] = { ...store.unsafeCheckpoints[0]!, keyId: "0123456789abcdef" }
      assert.deepInclude(yield* audit.verify(), { _tag: "Broken", expectedSeq: 3, reason: "checkpoint-signature" })
    }))
})

describePostgres("Audit conformance: PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(() => Promise.all(schemas.map(dropSchemaPromise)))
  auditConformance(() =>
    Effect.sync(() => {
      const schema = uniqueSchema("audit")
      schemas.push(schema)
      const table = `"${schema}".troupe_audit`
      const run = (statement: string, params: ReadonlyArray<unknown>) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(statement, params)
        }).pipe(Effect.provide(pgLayer))
      return {
        layer: AuditStore.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)),
        edit: (seq, patch) =>
          run(`UPDATE ${table} SET record = record || $2::jsonb WHERE seq = $1`, [seq, JSON.stringify(patch)]),
        remove: (seq) => run(`DELETE FROM ${table} WHERE seq = $1`, [seq])
      }
    })
  )
})

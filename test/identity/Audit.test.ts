import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll } from "vitest"
import { Audit, AuditStore } from "../../src/identity/index.ts"
import { makeMemoryAuditStore } from "../../src/identity/internal/AuditStoreMemory.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { auditConformance } from "./AuditConformance.ts"
import { failureOf } from "./support.ts"

describe("Audit conformance: memory", () => {
  auditConformance(() =>
    Effect.sync(() => {
      const store = makeMemoryAuditStore(1000)
      return {
        layer: Layer.succeed(AuditStore.AuditStore, store),
        edit: (seq, patch) => Effect.sync(() => {
          store.unsafeEntries[seq] = { ...store.unsafeEntries[seq]!, ...patch }
        }),
        remove: (seq) => Effect.sync(() => void store.unsafeEntries.splice(seq, 1))
      }
    })
  )

  it.effect("layerMemory is bounded: at capacity record fails StoreFull, nothing is dropped silently", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      const e = { tenant: "t", actor: "a", action: "x", resource: "r", status: "success" as const }
      yield* audit.record(e)
      yield* audit.record(e)
      const exit = yield* Effect.exit(audit.record(e))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "StoreFull")
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(AuditStore.layerMemory({ maxEntries: 2 }))))))
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
        edit: (seq, patch) => run(`UPDATE ${table} SET record = record || $2::jsonb WHERE seq = $1`, [seq, JSON.stringify(patch)]),
        remove: (seq) => run(`DELETE FROM ${table} WHERE seq = $1`, [seq])
      }
    })
  )
})

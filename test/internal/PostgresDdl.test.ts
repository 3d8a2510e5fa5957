/**
 * `createTables` (src/internal/PostgresDdl.ts): racing starts on a new schema all succeed. PostgreSQL's
 * `CREATE … IF NOT EXISTS` alone is not safe against itself (a unique violation on the catalog when two sessions
 * create the same schema or table at once); every store's start-up goes through the shared DDL lock.
 */
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, expect, it } from "vitest"
import { makePostgresBudgetStore } from "../../src/budget/internal/PostgresBudgetStore.ts"
import { makePostgresCostsStore } from "../../src/costs/internal/PostgresCostsStore.ts"
import { makePostgresDlqStore } from "../../src/dlq/internal/PostgresDlqStore.ts"
import { makePostgresAuditStore } from "../../src/identity/internal/AuditStorePostgres.ts"
import { makePostgresKeyStore } from "../../src/identity/internal/KeyStorePostgres.ts"
import { makePostgres as makePostgresSubjectKeys } from "../../src/identity/SubjectKeys.ts"
import { createTables } from "../../src/internal/PostgresDdl.ts"
import { Checkpoints, RunJournal } from "../../src/llmagent/index.ts"
import { ToolLedger } from "../../src/llmagent/Journal.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const schemas: Array<string> = []
const fresh = (label: string) => {
  const schema = uniqueSchema(label)
  schemas.push(schema)
  return schema
}

afterAll(async () => {
  for (const schema of schemas) await dropSchemaPromise(schema)
})

const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.runPromise(effect.pipe(Effect.provide(pgLayer)))

describePostgres("createTables (PostgreSQL DDL lock)", () => {
  it("racing starts on a new schema all succeed: 8 sessions creating the same schema and table at once", async () => {
    for (let round = 0; round < 3; round++) {
      const schema = fresh(`ddl${round}`)
      await run(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* Effect.all(
          Array.from({ length: 8 }, () =>
            createTables(sql, [
              `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
              `CREATE TABLE IF NOT EXISTS "${schema}".t (id text PRIMARY KEY)`,
              `CREATE INDEX IF NOT EXISTS t_id ON "${schema}".t (id)`
            ])),
          { concurrency: "unbounded" }
        )
        const rows = yield* sql<{ n: string }>`
          SELECT count(*)::text AS n FROM information_schema.tables WHERE table_schema = ${schema}`
        expect(rows[0]?.n).toBe("1")
      }))
    }
  }, 30_000)

  it("racing starts on a new schema all succeed: every PostgreSQL store built at once on one schema", async () => {
    const schema = fresh("stores")
    await run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Effect.all([
        makePostgresBudgetStore(sql, schema),
        makePostgresCostsStore(sql, schema, 10_000),
        makePostgresDlqStore(sql, schema),
        makePostgresKeyStore(sql, schema),
        makePostgresAuditStore(sql, schema),
        makePostgresSubjectKeys(sql, schema),
        makePostgresBudgetStore(sql, schema),
        makePostgresCostsStore(sql, schema, 10_000)
      ], { concurrency: "unbounded" })
      yield* Layer.build(Layer.mergeAll(
        RunJournal.layerPostgres({ schema }),
        ToolLedger.layerPostgres({ schema }),
        Checkpoints.layerPostgres({ schema })
      )).pipe(Effect.scoped)
    }))
  }, 30_000)
})

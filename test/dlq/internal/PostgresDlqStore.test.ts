/**
 * The PostgreSQL DLQ backend's own rules, beyond the conformance suite: a table made by an earlier version (no
 * `redrives` or `claimed_at` column) gains them at start, and its rows are still claimed and redriven (their count
 * read from the letter JSON until their first change).
 */
import { assert, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll } from "vitest"
import type { DeadLetter } from "../../../src/dlq/index.ts"
import { DeadLetters } from "../../../src/dlq/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../../support/postgres.ts"

const letterOf = (id: string, redrives: number): DeadLetter => ({
  id,
  kind: "request",
  source: "s",
  input: { q: id },
  error: { tag: "Error", message: "500" },
  attempts: 1,
  firstFailedAt: 1,
  deadAt: 1,
  status: "dead",
  redrives
})

describePostgres("PostgresDlqStore", () => {
  const schemas: Array<string> = []
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })

  it.effect("a table of the earlier layout (no redrives or claimed_at column) gains them at start; its rows are still claimed and redriven once", () => {
    const schema = uniqueSchema("dlq_old")
    schemas.push(schema)
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = `"${schema}".troupe_dead_letters`
      yield* sql.unsafe(`CREATE SCHEMA "${schema}"`)
      yield* sql.unsafe(
        `CREATE TABLE ${table} (id text PRIMARY KEY, seq bigserial NOT NULL, status text NOT NULL, letter text NOT NULL)`
      )
      for (const letter of [letterOf("old-0", 0), letterOf("old-2", 2)]) {
        yield* sql.unsafe(`INSERT INTO ${table} (id, status, letter) VALUES ($1, $2, $3)`, [
          letter.id,
          letter.status,
          JSON.stringify(letter)
        ])
      }
      const dlq = Context.get(
        yield* Layer.build(DeadLetters.layerPostgres({ schema, redrive: () => Effect.void })),
        DeadLetters
      )
      assert.deepStrictEqual(yield* dlq.redrive("old-0"), { id: "old-0", result: "redriven" })
      assert.deepStrictEqual(yield* dlq.redrive("old-2"), { id: "old-2", result: "redriven" })
      assert.deepStrictEqual(yield* dlq.redrive("old-2"), { id: "old-2", result: "skipped" })
      assert.deepStrictEqual((yield* dlq.list()).map((l) => [l.id, l.status, l.redrives]), [
        ["old-0", "redriven", 1],
        ["old-2", "redriven", 3]
      ])
      const columns = yield* sql.unsafe<{ redrives: number; claimed_at: string | null }>(
        `SELECT redrives, claimed_at FROM ${table} ORDER BY seq`
      )
      assert.deepStrictEqual(columns.map((c) => [c.redrives, c.claimed_at]), [[1, null], [3, null]])
    }).pipe(Effect.scoped, Effect.provide(pgLayer))
  })
})

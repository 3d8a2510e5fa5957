/** PostgreSQL `AuditStore` over Effect's `SqlClient` (`@effect/sql-pg`). @internal */
import { Effect, Option, Schema } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables } from "../../internal/PostgresDdl.ts"
import { AuditRecord } from "../AuditEntry.ts"
import type { AuditStoreShape } from "../AuditStore.ts"
import { AuditCheckpoint } from "./AuditCheckpoint.ts"
import { checkSchema, storeError } from "./KeyStorePostgres.ts"

const decodeRecord = Schema.decodeUnknownEffect(AuditRecord)
const decodeCheckpoint = Schema.decodeUnknownEffect(AuditCheckpoint)
/** A PostgreSQL unique violation (SQLSTATE 23505) anywhere in the error's cause chain. */
const isUniqueViolation = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const fields = current as { readonly code?: unknown; readonly cause?: unknown } // inspected, not trusted
    if (fields.code === "23505") return true
    current = fields.cause
  }
  return false
}
const parsed = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value)

export const makePostgresAuditStore = (sql: SqlClient.SqlClient, schemaName: string) =>
  Effect.gen(function*() {
    const schema = yield* checkSchema(schemaName)
    const table = `"${schema}".troupe_audit`
    const checkpointTable = `"${schema}".troupe_audit_checkpoint`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${table} (seq bigint PRIMARY KEY, tenant text NOT NULL, actor text NOT NULL, ` +
      `action text NOT NULL, resource text NOT NULL, status text NOT NULL, at double precision NOT NULL, record jsonb NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${checkpointTable} (seq bigint PRIMARY KEY, record jsonb NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS troupe_audit_tenant ON ${table} (tenant, at)`
    ]).pipe(Effect.mapError(storeError("init")))
    const decodeRows = (operation: string) => (rows: ReadonlyArray<{ readonly record: unknown }>) =>
      Effect.forEach(rows, (row) => decodeRecord(typeof row.record === "string" ? JSON.parse(row.record) : row.record))
        .pipe(
          Effect.mapError(storeError(operation))
        )
    const select = (operation: string, where: string, params: ReadonlyArray<unknown>, limit?: number) =>
      sql.unsafe<{ record: unknown }>(
        `SELECT record FROM ${table} WHERE ${where} ORDER BY seq${
          limit === undefined ? "" : ` LIMIT ${Math.floor(limit)}`
        }`,
        params
      ).pipe(Effect.mapError(storeError(operation)), Effect.flatMap(decodeRows(operation)))
    const shape: AuditStoreShape = {
      appendCheckpoint: (c) =>
        sql.unsafe(`INSERT INTO ${checkpointTable} (seq, record) VALUES ($1, $2::jsonb)`, [c.seq, JSON.stringify(c)])
          .pipe(
            Effect.mapError(storeError("appendCheckpoint")),
            Effect.asVoid
          ),
      checkpoints: (from, to) =>
        sql.unsafe<{ record: unknown }>(
          `SELECT record FROM ${checkpointTable} WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
          [from, to]
        ).pipe(
          Effect.mapError(storeError("checkpoints")),
          Effect.flatMap((rows) => Effect.forEach(rows, (row) => decodeCheckpoint(parsed(row.record)))),
          Effect.mapError(storeError("checkpoints"))
        ),
      // Append only at the next position: the INSERT selects nothing unless seq = count(*), so a gap inserts no row.
      append: (r) =>
        sql.unsafe<{ seq: unknown }>(
          `INSERT INTO ${table} (seq, tenant, actor, action, resource, status, at, record) ` +
            `SELECT $1, $2, $3, $4, $5, $6, $7, $8::jsonb WHERE $1 = (SELECT COALESCE(MAX(seq) + 1, 0) FROM ${table}) RETURNING seq`,
          [r.seq, r.tenant, r.actor, r.action, r.resource, r.status, r.at, JSON.stringify(r)]
        ).pipe(
          Effect.mapError(storeError("append")),
          Effect.flatMap((rows) =>
            rows.length === 1
              ? Effect.void
              : Effect.fail(storeError("append")(new Error(`position ${r.seq} is not the next position`)))
          )
        ),
      // One statement: the rows are inserted only when the first position is the next one (else 0 rows: a conflict);
      // a concurrent writer inserting the same positions meanwhile violates the primary key: a conflict too.
      appendAll: (records) => {
        if (records.length === 0) return Effect.succeed("appended" as const)
        const first = records[0]!.seq
        if (records.some((r, i) => r.seq !== first + i)) {
          return Effect.fail(storeError("appendAll")(new Error("positions not consecutive")))
        }
        const params: Array<unknown> = [first]
        const rows = records.map((r) => {
          const at = params.length + 1
          params.push(r.seq, r.tenant, r.actor, r.action, r.resource, r.status, r.at, JSON.stringify(r))
          return `($${at}::bigint, $${at + 1}::text, $${at + 2}::text, $${at + 3}::text, $${at + 4}::text, ` +
            `$${at + 5}::text, $${at + 6}::double precision, $${at + 7}::jsonb)`
        })
        return sql.unsafe<{ seq: unknown }>(
          `INSERT INTO ${table} (seq, tenant, actor, action, resource, status, at, record) ` +
            `SELECT * FROM (VALUES ${rows.join(", ")}) AS v ` +
            `WHERE $1::bigint = (SELECT COALESCE(MAX(seq) + 1, 0) FROM ${table}) RETURNING seq`,
          params
        ).pipe(
          Effect.map((inserted) => (inserted.length === records.length ? "appended" as const : "conflict" as const)),
          Effect.catch((error) =>
            isUniqueViolation(error)
              ? Effect.succeed("conflict" as const)
              : Effect.fail(storeError("appendAll")(error))
          )
        )
      },
      last: sql.unsafe<{ record: unknown }>(`SELECT record FROM ${table} ORDER BY seq DESC LIMIT 1`).pipe(
        Effect.mapError(storeError("last")),
        Effect.flatMap(decodeRows("last")),
        Effect.map((rows) => Option.fromUndefinedOr(rows[0]))
      ),
      range: (from, to) => select("range", "seq >= $1 AND seq < $2", [from, to]),
      query: (f) => {
        const clauses = ["tenant = $1"]
        const params: Array<unknown> = [f.tenant]
        const add = (column: string, op: string, value: unknown) => {
          params.push(value)
          clauses.push(`${column} ${op} $${params.length}`)
        }
        if (f.actor !== undefined) add("actor", "=", f.actor)
        if (f.action !== undefined) add("action", "=", f.action)
        if (f.resource !== undefined) add("resource", "=", f.resource)
        if (f.status !== undefined) add("status", "=", f.status)
        if (f.since !== undefined) add("at", ">=", f.since)
        if (f.until !== undefined) add("at", "<", f.until)
        return select("query", clauses.join(" AND "), params, Math.max(0, f.limit ?? 1000))
      }
    }
    return shape
  })

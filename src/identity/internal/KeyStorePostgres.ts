/** PostgreSQL `KeyStore` over Effect's `SqlClient` (`@effect/sql-pg`). @internal */
import { Effect, Option, Schema } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables, SCHEMA_NAME } from "../../internal/PostgresDdl.ts"
import { IdentityStoreError } from "../IdentityError.ts"
import { KeyRecord } from "../KeyRecord.ts"
import type { KeyStoreShape } from "../KeyStore.ts"

export const storeError = (operation: string) => (cause: unknown): IdentityStoreError =>
  new IdentityStoreError({ operation, message: cause instanceof Error ? cause.message : String(cause) })

/** Validates a schema name so it may be spliced into DDL (identifiers cannot be bound parameters). */
export const checkSchema = (schema: string): Effect.Effect<string, IdentityStoreError> =>
  SCHEMA_NAME.test(schema)
    ? Effect.succeed(schema)
    : Effect.fail(
      new IdentityStoreError({ operation: "init", message: `invalid schema name (expected ${SCHEMA_NAME.source})` })
    )

const decodeRecord = Schema.decodeUnknownEffect(KeyRecord)

export const makePostgresKeyStore = (
  sql: SqlClient.SqlClient,
  schemaName: string
): Effect.Effect<KeyStoreShape, IdentityStoreError> =>
  Effect.gen(function*() {
    const schema = yield* checkSchema(schemaName)
    const table = `"${schema}".troupe_keys`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, tenant text NOT NULL, principal_id text NOT NULL, ` +
      `seq bigserial NOT NULL, record jsonb NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS troupe_keys_tenant ON ${table} (tenant, principal_id, seq)`
    ]).pipe(Effect.mapError(storeError("init")))
    const decodeRows = (operation: string) => (rows: ReadonlyArray<{ readonly record: unknown }>) =>
      Effect.forEach(rows, (row) => decodeRecord(typeof row.record === "string" ? JSON.parse(row.record) : row.record))
        .pipe(
          Effect.mapError(storeError(operation))
        )
    const shape: KeyStoreShape = {
      insert: (record) =>
        sql.unsafe(`INSERT INTO ${table} (id, tenant, principal_id, record) VALUES ($1, $2, $3, $4::jsonb)`, [
          record.id,
          record.tenant,
          record.principal.id,
          JSON.stringify(record)
        ]).pipe(Effect.asVoid, Effect.mapError(storeError("insert"))),
      get: (id) =>
        sql.unsafe<{ record: unknown }>(`SELECT record FROM ${table} WHERE id = $1`, [id]).pipe(
          Effect.mapError(storeError("get")),
          Effect.flatMap(decodeRows("get")),
          Effect.map((rows) => Option.fromUndefinedOr(rows[0]))
        ),
      update: (tenant, id, patch) =>
        sql.unsafe<{ record: unknown }>(
          `UPDATE ${table} SET record = record || $3::jsonb WHERE tenant = $1 AND id = $2 RETURNING record`,
          [tenant, id, JSON.stringify(patch)]
        ).pipe(
          Effect.mapError(storeError("update")),
          Effect.flatMap(decodeRows("update")),
          Effect.map((rows) => Option.fromUndefinedOr(rows[0]))
        ),
      remove: (tenant, id) =>
        sql.unsafe<{ id: string }>(`DELETE FROM ${table} WHERE tenant = $1 AND id = $2 RETURNING id`, [tenant, id])
          .pipe(
            Effect.mapError(storeError("remove")),
            Effect.map((rows) => rows.length > 0)
          ),
      list: (tenant, principalId) =>
        (principalId === undefined
          ? sql.unsafe<{ record: unknown }>(`SELECT record FROM ${table} WHERE tenant = $1 ORDER BY seq`, [tenant])
          : sql.unsafe<{ record: unknown }>(
            `SELECT record FROM ${table} WHERE tenant = $1 AND principal_id = $2 ORDER BY seq`,
            [tenant, principalId]
          )).pipe(Effect.mapError(storeError("list")), Effect.flatMap(decodeRows("list")))
    }
    return shape
  })

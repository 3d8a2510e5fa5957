/**
 * The PostgreSQL DLQ backend: one table `troupe_dead_letters` in `schema` (id primary key, an arrival sequence, the
 * letter's version — `status`, `redrives`, `claimed_at` — in columns of their own and the letter as JSON text).
 * Insert is `ON CONFLICT DO NOTHING`, compare-and-set an `UPDATE … WHERE status = $s AND redrives = $r AND
 * claimed_at IS NOT DISTINCT FROM $c` (the row is locked and the condition re-checked), so two processes never both
 * claim a letter, nor does a claim from a stale read overwrite a newer letter; the letter itself is never parsed.
 * A table made by an earlier version gains the `redrives` and `claimed_at` columns (`ADD COLUMN IF NOT EXISTS`);
 * on its rows (`redrives` NULL until their first change) the count is read from the letter JSON instead. @internal
 */
import { Effect, Schema } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables, SCHEMA_NAME } from "../../internal/PostgresDdl.ts"
import { DeadLetter } from "../DeadLetter.ts"
import { DlqStoreError } from "../DlqError.ts"
import type { DlqStoreShape } from "./DlqStore.ts"

const decodeLetter = Schema.decodeUnknownEffect(Schema.fromJsonString(DeadLetter))

const storeError = (operation: string, id?: string) => (cause: unknown): DlqStoreError =>
  new DlqStoreError({
    operation,
    detail: cause instanceof Error ? cause.message : String(cause),
    ...(id !== undefined ? { id } : {})
  })

/** A PostgreSQL store in `schemaName` (created with its table when missing). */
export const makePostgresDlqStore = (
  sql: SqlClient.SqlClient,
  schemaName: string
): Effect.Effect<DlqStoreShape, DlqStoreError> =>
  Effect.gen(function*() {
    if (!SCHEMA_NAME.test(schemaName)) {
      return yield* new DlqStoreError({
        operation: "init",
        detail: `invalid schema name (expected ${SCHEMA_NAME.source})`
      })
    }
    const table = `"${schemaName}".troupe_dead_letters`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schemaName}"`,
      `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, seq bigserial NOT NULL, status text NOT NULL, letter text NOT NULL)`,
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS redrives integer`,
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS claimed_at bigint`
    ]).pipe(Effect.mapError(storeError("init")))
    const decode = (operation: string, json: string, id?: string) =>
      decodeLetter(json).pipe(Effect.mapError(storeError(operation, id)))
    return {
      put: (letter) =>
        sql.unsafe<{ id: string }>(
          `INSERT INTO ${table} (id, status, redrives, claimed_at, letter) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [letter.id, letter.status, letter.redrives, letter.claimedAt ?? null, JSON.stringify(letter)]
        ).pipe(Effect.map((rows) => rows.length === 1), Effect.mapError(storeError("put"))),
      get: (id) =>
        sql.unsafe<{ letter: string }>(`SELECT letter FROM ${table} WHERE id = $1`, [id]).pipe(
          Effect.mapError(storeError("get")),
          Effect.flatMap((rows) =>
            rows[0] === undefined ? Effect.succeed(undefined) : decode("get", rows[0].letter, id)
          )
        ),
      all: () =>
        sql.unsafe<{ letter: string }>(`SELECT letter FROM ${table} ORDER BY seq`).pipe(
          Effect.mapError(storeError("all")),
          Effect.flatMap((rows) => Effect.forEach(rows, (row) => decode("all", row.letter)))
        ),
      swap: (expected, next) =>
        sql.unsafe<{ id: string }>(
          `UPDATE ${table} SET status = $3, letter = $4, redrives = $5, claimed_at = $6
           WHERE id = $1 AND status = $2
             AND (CASE WHEN redrives IS NULL THEN (letter::jsonb ->> 'redrives')::int ELSE redrives END) = $7
             AND claimed_at IS NOT DISTINCT FROM $8::bigint
           RETURNING id`,
          [
            next.id,
            expected.status,
            next.status,
            JSON.stringify(next),
            next.redrives,
            next.claimedAt ?? null,
            expected.redrives,
            expected.claimedAt ?? null
          ]
        ).pipe(Effect.map((rows) => rows.length === 1), Effect.mapError(storeError("swap"))),
      remove: (ids) =>
        ids.length === 0 ? Effect.succeed(0) : sql.unsafe<{ id: string }>(
          `DELETE FROM ${table} WHERE id = ANY($1) RETURNING id`,
          [ids as Array<string>] // a text[] parameter
        ).pipe(Effect.map((rows) => rows.length), Effect.mapError(storeError("remove")))
    }
  })

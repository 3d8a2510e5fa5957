/**
 * The PostgreSQL `Costs` store: rows plus rollups, in `schema`.
 * - `troupe_costs`: one row per record (`at` epoch ms, the ten dimension columns, `cost` and `saved` USD), the
 *   audit trail you can query with SQL; indexed by `at`.
 * - `troupe_cost_rollups`: one row per period bucket and combination of dimension values (`period`, `start`,
 *   `dims` the canonical JSON field of `CostsStore.rowField`, `cost`, `count`, `saved`), upserted by every record.
 * Tables made by an earlier version gain the `routed` and `saved` columns (`ADD COLUMN IF NOT EXISTS`).
 * A record is one statement (the row insert in a CTE, then the three rollup upserts with `ON CONFLICT … DO
 * UPDATE`), so it is atomic, and concurrent records lock the rollup rows in one order (hour, day, month): no
 * deadlock. Rollups are upserted rather than a materialised view because a view answers only as of its last
 * `REFRESH` (a full recompute over the rows), while stats must see a record as soon as it returns; the price is one
 * upsert of three small rows per record. A query reads the rollup rows of one bucket; the forecast the sums of its
 * days in one query. @internal
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables, SCHEMA_NAME } from "../../internal/PostgresDdl.ts"
import { CostsStoreError } from "../CostsError.ts"
import type { CostsStoreShape, CostTotal } from "./CostsStore.ts"
import { dimensionValues, dimsOfField, periodStart, rowField } from "./CostsStore.ts"

const storeError = (operation: string) => (cause: unknown): CostsStoreError =>
  new CostsStoreError({ operation, detail: cause instanceof Error ? cause.message : String(cause) })

/** A PostgreSQL store in `schemaName` (created with its tables when missing). */
export const makePostgresCostsStore = (
  sql: SqlClient.SqlClient,
  schemaName: string
): Effect.Effect<CostsStoreShape, CostsStoreError> =>
  Effect.gen(function*() {
    if (!SCHEMA_NAME.test(schemaName)) {
      return yield* new CostsStoreError({
        operation: "init",
        detail: `invalid schema name (expected ${SCHEMA_NAME.source})`
      })
    }
    const rows = `"${schemaName}".troupe_costs`
    const rollups = `"${schemaName}".troupe_cost_rollups`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schemaName}"`,
      `CREATE TABLE IF NOT EXISTS ${rows} (id bigserial PRIMARY KEY, at bigint NOT NULL, tenant text, principal text, ` +
      `key text, project text, agent text, model text, provider text, cached boolean, hedge boolean, ` +
      `cost double precision NOT NULL)`,
      `ALTER TABLE ${rows} ADD COLUMN IF NOT EXISTS routed boolean`,
      `ALTER TABLE ${rows} ADD COLUMN IF NOT EXISTS saved double precision NOT NULL DEFAULT 0`,
      `CREATE INDEX IF NOT EXISTS troupe_costs_at ON ${rows} (at)`,
      `CREATE TABLE IF NOT EXISTS ${rollups} (period text NOT NULL, start bigint NOT NULL, dims text NOT NULL, ` +
      `cost double precision NOT NULL, count bigint NOT NULL, PRIMARY KEY (period, start, dims))`,
      `ALTER TABLE ${rollups} ADD COLUMN IF NOT EXISTS saved double precision NOT NULL DEFAULT 0`
    ]).pipe(Effect.mapError(storeError("init")))
    // $1 the time, $2…$11 the dimension values in the canonical order (`dimensionValues`), $12 the cost, $13…$15 the
    // hour, day and month starts, $16 the canonical row field, $17 what was saved
    const record =
      `WITH r AS (INSERT INTO ${rows} (at, tenant, principal, key, project, agent, model, provider, cached, hedge, ` +
      `routed, cost, saved) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, ` +
      `$9::boolean, $10::boolean, $11::boolean, $12::double precision, $17::double precision)) ` +
      `INSERT INTO ${rollups} AS u (period, start, dims, cost, count, saved) VALUES ` +
      `('hour', $13::bigint, $16::text, $12::double precision, 1, $17::double precision), ` +
      `('day', $14::bigint, $16::text, $12::double precision, 1, $17::double precision), ` +
      `('month', $15::bigint, $16::text, $12::double precision, 1, $17::double precision) ` +
      `ON CONFLICT (period, start, dims) DO UPDATE SET cost = u.cost + EXCLUDED.cost, count = u.count + 1, ` +
      `saved = u.saved + EXCLUDED.saved`
    const shape: CostsStoreShape = {
      add: (e, now) =>
        sql.unsafe(record, [
          now,
          ...dimensionValues(e),
          e.cost,
          periodStart("hour", now),
          periodStart("day", now),
          periodStart("month", now),
          rowField(e),
          e.saved ?? 0
        ]).pipe(Effect.asVoid, Effect.mapError(storeError("record"))),
      rows: (period, start) =>
        sql.unsafe<{ dims: string; cost: number | string; count: number | string; saved: number | string }>(
          `SELECT dims, cost, count, saved FROM ${rollups} WHERE period = $1 AND start = $2`,
          [period, start]
        ).pipe(
          Effect.mapError(storeError("stats")),
          Effect.map((found) =>
            found.map((r) => ({
              dims: dimsOfField(r.dims),
              cost: Number(r.cost),
              count: Number(r.count),
              saved: Number(r.saved)
            }))
          )
        ),
      totals: (period, starts) =>
        starts.length === 0 ?
          Effect.succeed([]) :
          sql.unsafe<{ start: number | string; total: number | string; count: number | string }>(
            `SELECT start, sum(cost) AS total, sum(count) AS count FROM ${rollups} WHERE period = $1 AND start = ANY($2::bigint[]) GROUP BY start`,
            [period, starts as Array<number>] // a bigint[] parameter
          ).pipe(
            Effect.mapError(storeError("forecast")),
            Effect.map((found) => {
              const byStart = new Map(
                found.map((r) => [Number(r.start), { total: Number(r.total), count: Number(r.count) }])
              )
              return starts.map((s): CostTotal => byStart.get(s) ?? { total: 0, count: 0 })
            })
          )
    }
    return shape
  })

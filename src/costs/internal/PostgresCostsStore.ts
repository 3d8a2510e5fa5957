/**
 * The PostgreSQL `Costs` store: rows plus rollups, in `schema`.
 * - `troupe_costs`: one row per record (`at` epoch ms, the ten dimension columns, `cost` and `saved` USD), the
 *   audit trail you can query with SQL; indexed by `at`.
 * - `troupe_cost_rollups`: one row per period bucket and combination of dimension values (`period`, `start`,
 *   `dims` the canonical JSON field of `CostsStore.rowField`, `cost`, `count`, `saved`), upserted by every record.
 * Tables made by an earlier version gain the `routed` and `saved` columns (`ADD COLUMN IF NOT EXISTS`).
 * A record whose combination already has a rollup row in each of its three buckets is one statement (the row
 * insert in a CTE, then the three rollup upserts with `ON CONFLICT … DO UPDATE`, both only when the three rollup
 * rows exist), so it is atomic, and concurrent records lock the rollup rows in one order (hour, day, month).
 * Otherwise it is one transaction: a transaction-scoped advisory lock on each bucket that lacks the combination (in
 * the same order), then one statement that inserts the row and upserts the three rollups, each into the
 * combination's own row when it exists or the bucket holds fewer than `maxRowsPerBucket` rows, else into the
 * bucket's `overflow` row (every dimension absent; totals stay exact) — so, as on the other backends, a bucket
 * holds at most `maxRowsPerBucket` combinations, however many records race to add new ones (rollup rows are never
 * deleted, so a row seen once stays). A transaction holding rollup row locks waits on no advisory lock: no
 * deadlock. Rollups are upserted rather than a materialised view because a view answers only as of its last
 * `REFRESH` (a full recompute over the rows), while stats must see a record as soon as it returns; the price is one
 * upsert of three small rows per record. A query reads the rollup rows of one bucket (at most
 * `maxRowsPerBucket` + 1); the forecast the sums of its days in one query. @internal
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables, SCHEMA_NAME } from "../../internal/PostgresDdl.ts"
import { CostsStoreError } from "../CostsError.ts"
import type { CostsStoreShape, CostTotal } from "./CostsStore.ts"
import { dimensionValues, dimsOfField, OVERFLOW_FIELD, periodStart, rowField } from "./CostsStore.ts"

const storeError = (operation: string) => (cause: unknown): CostsStoreError =>
  new CostsStoreError({ operation, detail: cause instanceof Error ? cause.message : String(cause) })

const PERIODS = ["hour", "day", "month"] as const

/**
 * A PostgreSQL store in `schemaName` (created with its tables when missing), at most `maxRows` combinations per
 * bucket.
 */
export const makePostgresCostsStore = (
  sql: SqlClient.SqlClient,
  schemaName: string,
  maxRows: number
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
    // hour, day and month starts, $16 the canonical row field, $17 what was saved; $18 (bounded) the row bound
    const insertRow =
      `INSERT INTO ${rows} (at, tenant, principal, key, project, agent, model, provider, cached, hedge, ` +
      `routed, cost, saved) SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, ` +
      `$9::boolean, $10::boolean, $11::boolean, $12::double precision, $17::double precision`
    const buckets = `(VALUES ('hour', $13::bigint, 1), ('day', $14::bigint, 2), ('month', $15::bigint, 3)) ` +
      `AS v(period, start, ord)`
    const upsert = `ON CONFLICT (period, start, dims) DO UPDATE SET cost = u.cost + EXCLUDED.cost, ` +
      `count = u.count + 1, saved = u.saved + EXCLUDED.saved RETURNING 1`
    // the common case: the combination has its row in all three buckets; else nothing is written and the answer
    // names the buckets that have it (see `bounded`)
    const existing =
      `WITH e AS (SELECT coalesce(array_agg(period), '{}') AS present FROM ${rollups} WHERE dims = $16::text AND ` +
      `(period, start) IN (('hour', $13::bigint), ('day', $14::bigint), ('month', $15::bigint))), ` +
      `r AS (${insertRow} WHERE (SELECT cardinality(present) = 3 FROM e)), ` +
      `w AS (INSERT INTO ${rollups} AS u (period, start, dims, cost, count, saved) ` +
      `SELECT v.period, v.start, $16::text, $12::double precision, 1, $17::double precision FROM ${buckets} ` +
      `WHERE (SELECT cardinality(present) = 3 FROM e) ORDER BY v.ord ${upsert}) ` +
      `SELECT (SELECT count(*) FROM w) AS written, (SELECT present FROM e) AS present`
    // under the advisory locks of the buckets that lack the combination: its own row while it exists or the bucket
    // holds fewer than $18 rows, else the bucket's overflow row
    const bounded = `WITH r AS (${insertRow}) ` +
      `INSERT INTO ${rollups} AS u (period, start, dims, cost, count, saved) ` +
      `SELECT v.period, v.start, CASE WHEN EXISTS (SELECT 1 FROM ${rollups} x WHERE x.period = v.period AND ` +
      `x.start = v.start AND x.dims = $16::text) OR (NOT EXISTS (SELECT 1 FROM ${rollups} x WHERE ` +
      `x.period = v.period AND x.start = v.start AND x.dims = '${OVERFLOW_FIELD}') AND (SELECT count(*) FROM ` +
      `(SELECT 1 FROM ${rollups} x WHERE x.period = v.period AND x.start = v.start LIMIT $18::bigint) c) < ` +
      `$18::bigint) THEN $16::text ELSE '${OVERFLOW_FIELD}' END, $12::double precision, 1, ` +
      `$17::double precision FROM ${buckets} ORDER BY v.ord ${upsert}`
    // one lock per bucket, taken in the array's order (hour, day, month)
    const lockBuckets = `SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest($1::text[]) AS k`
    const shape: CostsStoreShape = {
      add: (e, now) => {
        const starts = [periodStart("hour", now), periodStart("day", now), periodStart("month", now)] as const
        const field = rowField(e)
        const params = [now, ...dimensionValues(e), e.cost, ...starts, field, e.saved ?? 0]
        return sql.unsafe<{ written: number | string; present: ReadonlyArray<string> }>(existing, params).pipe(
          Effect.flatMap((answer) => {
            const present = answer[0]?.present ?? []
            if (Number(answer[0]?.written ?? 0) === 3) return Effect.void
            // a bucket that has the combination keeps it (rollup rows are never deleted): only the others are locked
            const locks = PERIODS.flatMap((period, i) =>
              present.includes(period) ? [] : [`${rollups}:${period}:${starts[i]}`]
            )
            return sql.withTransaction(Effect.gen(function*() {
              // each statement sees what the previous holders of a bucket's lock committed
              yield* sql.unsafe(`SET TRANSACTION ISOLATION LEVEL READ COMMITTED`)
              yield* sql.unsafe(lockBuckets, [locks])
              yield* sql.unsafe(bounded, [...params, maxRows])
            }))
          }),
          Effect.mapError(storeError("record"))
        )
      },
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

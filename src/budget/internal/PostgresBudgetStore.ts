/**
 * The PostgreSQL budget store: one transaction per operation. The budget rows of a call's scopes are locked in
 * scope order (`SELECT … ORDER BY scope FOR UPDATE`, so concurrent reservations never deadlock), lapsed holds are
 * deleted and given back, the period is rolled forward, and the reservation is written or refused — all or none.
 * A settle takes its reservation's open row before the scope rows, and a reservation sweeps forgotten open rows
 * after it holds its scope rows, skipping those another transaction holds (`FOR UPDATE SKIP LOCKED`: a settle a
 * millisecond before its deadline is ending that row), so a settle and a reservation never wait on each other in
 * a cycle. The alert state is the highest fraction fired (`fired`, see `ScopeRules.ts`), beside the index `alerted`
 * of earlier versions; a table of an earlier version gains the `fired` column when the store starts.
 * Tables (in `schema`): `troupe_budgets` (one row per scope, micro-dollars as `bigint`), `troupe_budget_holds`
 * (live holds by reservation and scope, with their amounts: settle and release end these, whatever amount the caller
 * names) and `troupe_budget_open` (one row per open reservation with its expiry: settle and release are once per
 * id, and by the reservation life of `BudgetStore.ts` a row from `expires_at + LATE_SETTLE_MS` on is forgotten —
 * settle and release do nothing — whether or not a later reservation has deleted it yet). @internal
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { createTables, SCHEMA_NAME } from "../../internal/PostgresDdl.ts"
import type { BudgetPeriod } from "../Budget.ts"
import { periodStart } from "../Budget.ts"
import { BudgetStoreError } from "../BudgetError.ts"
import type { BudgetStoreShape, ReserveOutcome, StoreAlert, StoreSpec, StoreStatus } from "./BudgetStore.ts"
import { LATE_SETTLE_MS } from "./BudgetStore.ts"
import type { ScopeState } from "./ScopeRules.ts"
import { alertedIndex, changeSpec, fireAlerts, firedOf, rollPeriod } from "./ScopeRules.ts"

interface Row {
  readonly scope: string
  readonly limit_micros: string | number
  readonly period: string
  readonly alert_at: string
  readonly start: string | number
  readonly spent: string | number
  readonly reserved: string | number
  readonly alerted: number
  /** null in a row of an earlier version */
  readonly fired: string | number | null
}

interface State extends ScopeState {
  reserved: number
}

const storeError = (operation: string) => (cause: unknown): BudgetStoreError =>
  new BudgetStoreError({ operation, detail: cause instanceof Error ? cause.message : String(cause) })

const stateOf = (row: Row): State => {
  const alertAt = row.alert_at.split(",").filter((t) => t !== "").map(Number)
  return {
    spec: {
      scope: row.scope,
      limit: Number(row.limit_micros),
      period: row.period as BudgetPeriod, // written by `set` from a decoded BudgetSpec
      alertAt
    },
    start: Number(row.start),
    spent: Number(row.spent),
    reserved: Number(row.reserved),
    fired: firedOf(alertAt, row.alerted, row.fired === null ? undefined : Number(row.fired))
  }
}

const COLUMNS = "scope, limit_micros, period, alert_at, start, spent, reserved, alerted, fired"

export const makePostgresBudgetStore = (
  sql: SqlClient.SqlClient,
  schemaName: string
): Effect.Effect<BudgetStoreShape, BudgetStoreError> =>
  Effect.gen(function*() {
    if (!SCHEMA_NAME.test(schemaName)) {
      return yield* new BudgetStoreError({
        operation: "init",
        detail: `invalid schema name (expected ${SCHEMA_NAME.source})`
      })
    }
    const budgets = `"${schemaName}".troupe_budgets`
    const holds = `"${schemaName}".troupe_budget_holds`
    const open = `"${schemaName}".troupe_budget_open`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schemaName}"`,
      `CREATE TABLE IF NOT EXISTS ${budgets} (scope text PRIMARY KEY, limit_micros bigint NOT NULL, period text NOT NULL, ` +
      `alert_at text NOT NULL, start bigint NOT NULL, spent bigint NOT NULL DEFAULT 0, reserved bigint NOT NULL DEFAULT 0, ` +
      `alerted integer NOT NULL DEFAULT 0, fired double precision)`,
      `ALTER TABLE ${budgets} ADD COLUMN IF NOT EXISTS fired double precision`,
      `CREATE TABLE IF NOT EXISTS ${holds} (id text NOT NULL, scope text NOT NULL, amount bigint NOT NULL, ` +
      `expires_at bigint NOT NULL, PRIMARY KEY (id, scope))`,
      `CREATE INDEX IF NOT EXISTS troupe_budget_holds_expiry ON ${holds} (scope, expires_at)`,
      `CREATE TABLE IF NOT EXISTS ${open} (id text PRIMARY KEY, expires_at bigint NOT NULL)`
    ]).pipe(Effect.mapError(storeError("init")))

    /**
     * Locks the scopes' rows, gives back lapsed holds and (unless `roll` is false: `set` rolls by the new spec) rolls
     * periods forward, in the caller's transaction. Every caller saves the states it answers.
     */
    const lock = (scopes: ReadonlyArray<string>, now: number, roll = true) =>
      Effect.gen(function*() {
        const rows = yield* sql.unsafe<Row>(
          `SELECT ${COLUMNS} FROM ${budgets} WHERE scope = ANY($1) ORDER BY scope FOR UPDATE`,
          [scopes as Array<string>] // a text[] parameter
        )
        const states = new Map(rows.map((r) => [r.scope, stateOf(r)]))
        if (states.size === 0) return states
        const lapsed = yield* sql.unsafe<{ scope: string; amount: string | number }>(
          `DELETE FROM ${holds} WHERE scope = ANY($1) AND expires_at <= $2 RETURNING scope, amount`,
          [[...states.keys()], now]
        )
        for (const hold of lapsed) {
          const s = states.get(hold.scope)
          if (s !== undefined) s.reserved -= Number(hold.amount)
        }
        if (roll) { for (const s of states.values()) rollPeriod(s, now) }
        return states
      })
    const save = (s: State) =>
      sql.unsafe(
        `UPDATE ${budgets} SET start = $2, spent = $3, reserved = $4, alerted = $5, fired = $6 WHERE scope = $1`,
        [s.spec.scope, s.start, s.spent, s.reserved, alertedIndex(s.spec.alertAt, s.fired), s.fired]
      )
    const inTransaction = <A>(
      operation: string,
      effect: Effect.Effect<A, unknown>
    ): Effect.Effect<A, BudgetStoreError> => sql.withTransaction(effect).pipe(Effect.mapError(storeError(operation)))
    const status = (s: State): StoreStatus => ({
      ...s.spec,
      periodStart: s.spec.period === "total" ? 0 : s.start,
      spent: s.spent,
      reserved: s.reserved
    })

    const finish = (operation: "settle" | "release") =>
    (
      request: {
        readonly id: string
        readonly scopes: ReadonlyArray<string>
        readonly actual?: number
        readonly now: number
      }
    ) =>
      inTransaction(
        operation,
        Effect.gen(function*() {
          const opened = yield* sql.unsafe<{ expires_at: string | number }>(
            `DELETE FROM ${open} WHERE id = $1 RETURNING expires_at`,
            [request.id]
          )
          // gone, or forgotten already (a day past its expiry) though no reservation has deleted its row yet
          if (opened.length === 0 || request.now >= Number(opened[0]!.expires_at) + LATE_SETTLE_MS) return []
          const states = yield* lock(request.scopes, request.now)
          const held = yield* sql.unsafe<{ scope: string; amount: string | number }>(
            `DELETE FROM ${holds} WHERE id = $1 RETURNING scope, amount`,
            [request.id]
          )
          for (const hold of held) {
            const s = states.get(hold.scope)
            if (s !== undefined) s.reserved -= Number(hold.amount)
          }
          const alerts: Array<StoreAlert> = []
          for (const s of states.values()) {
            if (operation === "settle") {
              s.spent += request.actual ?? 0
              fireAlerts(s, "spend", alerts)
            }
            yield* save(s)
          }
          return alerts
        })
      )

    const shape: BudgetStoreShape = {
      set: (spec, now) =>
        inTransaction(
          "set",
          Effect.gen(function*() {
            // a new budget's row (nothing when it exists), then the row's state under its stored spec, changed
            yield* sql.unsafe(
              `INSERT INTO ${budgets} (scope, limit_micros, period, alert_at, start, alerted, fired) ` +
                `VALUES ($1, $2, $3, $4, $5, 0, 0) ON CONFLICT (scope) DO NOTHING`,
              [spec.scope, spec.limit, spec.period, spec.alertAt.join(","), periodStart(spec.period, now)]
            )
            const states = yield* lock([spec.scope], now, false)
            for (const s of states.values()) {
              changeSpec(s, spec, now)
              yield* sql.unsafe(
                `UPDATE ${budgets} SET limit_micros = $2, period = $3, alert_at = $4 WHERE scope = $1`,
                [spec.scope, spec.limit, spec.period, spec.alertAt.join(",")]
              )
              yield* save(s)
            }
          })
        ),
      get: (scope, now) =>
        inTransaction(
          "get",
          Effect.gen(function*() {
            const states = yield* lock([scope], now)
            const s = states.get(scope)
            if (s === undefined) return undefined
            yield* save(s)
            return status(s)
          })
        ),
      scopes: (limit) =>
        sql.unsafe<{ scope: string }>(`SELECT scope FROM ${budgets} ORDER BY scope LIMIT $1`, [limit]).pipe(
          Effect.map((rows) => rows.map((r) => r.scope)),
          Effect.mapError(storeError("list"))
        ),
      remove: (scope) =>
        inTransaction(
          "remove",
          Effect.gen(function*() {
            yield* sql.unsafe(`DELETE FROM ${holds} WHERE scope = $1`, [scope])
            yield* sql.unsafe(`DELETE FROM ${budgets} WHERE scope = $1`, [scope])
          })
        ),
      reserve: (request) =>
        inTransaction(
          "reserve",
          Effect.gen(function*() {
            const states = yield* lock(request.scopes, request.now)
            const charged: Array<State> = []
            for (const scope of request.scopes) {
              const s = states.get(scope)
              if (s === undefined) continue
              if (s.spent + s.reserved + request.amount > s.spec.limit) {
                const alerts = fireAlerts(s, "exhausted") ?? []
                for (const t of states.values()) yield* save(t)
                const refused: ReserveOutcome = {
                  _tag: "Refused",
                  scope,
                  limit: s.spec.limit,
                  spent: s.spent,
                  reserved: s.reserved,
                  alerts
                }
                return refused
              }
              charged.push(s)
            }
            for (const s of charged) {
              s.reserved += request.amount
              yield* sql.unsafe(`INSERT INTO ${holds} (id, scope, amount, expires_at) VALUES ($1, $2, $3, $4)`, [
                request.id,
                s.spec.scope,
                request.amount,
                request.expiresAt
              ])
            }
            for (const s of states.values()) yield* save(s)
            yield* sql.unsafe(`INSERT INTO ${open} (id, expires_at) VALUES ($1, $2)`, [request.id, request.expiresAt])
            // reservations LATE_SETTLE_MS past expiry can no longer be settled: forget them, skipping the rows a
            // settle holds (it took its open row before the scope rows this transaction holds: waiting would deadlock)
            yield* sql.unsafe(
              `DELETE FROM ${open} WHERE id IN (SELECT id FROM ${open} WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`,
              [request.now - LATE_SETTLE_MS]
            )
            const reserved: ReserveOutcome = { _tag: "Reserved", scopes: charged.map((s) => s.spec.scope) }
            return reserved
          })
        ),
      settle: (request) => finish("settle")(request),
      release: (request) => Effect.asVoid(finish("release")(request))
    }
    return shape
  })

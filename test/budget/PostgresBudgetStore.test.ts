/**
 * Rules of the PostgreSQL budget store beyond the conformance suite: a settle and a reservation racing on a scope
 * never deadlock, and tables of an earlier version (the alert state an index into `alertAt`) keep working.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { LATE_SETTLE_MS } from "../../src/budget/internal/BudgetStore.ts"
import { makePostgresBudgetStore } from "../../src/budget/internal/PostgresBudgetStore.ts"
import { databaseUrl, describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const JAN_15 = Date.UTC(2026, 0, 15, 12, 0, 0)

describePostgres("PostgresBudgetStore", () => {
  const schemas: Array<string> = []
  const fresh = (label: string): string => {
    const schema = uniqueSchema(label)
    schemas.push(schema)
    return schema
  }
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })

  it.effect("a settle near its one-day deadline racing a reservation on the same scope does not deadlock", () => {
    const schema = fresh("budget_deadlock")
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* makePostgresBudgetStore(sql, schema)
      const expiresAt = JAN_15 + 60_000
      yield* store.set({ scope: "key:a", limit: 1e12, period: "total", alertAt: [] }, JAN_15)
      yield* store.set({ scope: "tenant:b", limit: 1e12, period: "total", alertAt: [] }, JAN_15)
      yield* store.reserve({ id: "x", scopes: ["key:a", "tenant:b"], amount: 400, expiresAt, now: JAN_15 })
      // another session, holding a scope row's lock as a long transaction of another process would
      const outside = yield* Layer.build(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))
      const other = yield* Effect.provideContext(SqlClient.SqlClient, outside)
      const locked = yield* Deferred.make<void>()
      const unlock = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(other.withTransaction(Effect.gen(function*() {
        yield* other.unsafe(`SELECT 1 FROM "${schema}".troupe_budgets WHERE scope = 'key:a' FOR UPDATE`)
        yield* Deferred.succeed(locked, void 0)
        yield* Deferred.await(unlock)
      })))
      yield* Deferred.await(locked)
      /** Sessions of this test waiting on a lock. */
      const waiting = sql.unsafe<{ n: string | number }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`%${schema}%`]
      ).pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)))
      const until = (done: Effect.Effect<boolean, unknown>) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5_000 && !(yield* done); i++) yield* Effect.yieldNow
        })
      // the settle, a millisecond before the reservation is forgotten, takes its open row and waits on key:a
      const settle = yield* Effect.forkChild(
        store.settle({
          id: "x",
          scopes: ["key:a", "tenant:b"],
          amount: 400,
          actual: 300,
          now: expiresAt + LATE_SETTLE_MS - 1
        })
      )
      yield* until(Effect.map(waiting, (n) => n >= 1))
      // a reservation on tenant:b a millisecond later sweeps the open rows past their deadline, the settle's among them
      const reserve = yield* Effect.forkChild(
        store.reserve({
          id: "y",
          scopes: ["tenant:b"],
          amount: 100,
          expiresAt: JAN_15 + 2 * LATE_SETTLE_MS,
          now: expiresAt + LATE_SETTLE_MS
        })
      )
      yield* until(Effect.map(waiting, (n) => n >= 2 || reserve.pollUnsafe() !== undefined))
      yield* Deferred.succeed(unlock, void 0)
      yield* Fiber.join(holder)
      const settled = yield* Fiber.await(settle)
      const reserved = yield* Fiber.await(reserve)
      assert.isTrue(Exit.isSuccess(settled), `settle: ${JSON.stringify(settled)}`)
      assert.isTrue(Exit.isSuccess(reserved), `reserve: ${JSON.stringify(reserved)}`)
      const a = yield* store.get("key:a", expiresAt + LATE_SETTLE_MS)
      const b = yield* store.get("tenant:b", expiresAt + LATE_SETTLE_MS)
      assert.deepStrictEqual([a?.spent, a?.reserved, b?.spent, b?.reserved], [300, 0, 300, 100])
    }).pipe(Effect.scoped, Effect.provide(pgLayer))
  }, 30_000)

  it.effect("tables of an earlier version keep working: its alert state (an index into alertAt) is read as a fraction", () => {
    const schema = fresh("budget_legacy")
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // the tables as an earlier version made them; 0.5 and 0.8 fired (alerted = 2) at $8.50 of $10 this month
      yield* sql.unsafe(`CREATE SCHEMA "${schema}"`)
      yield* sql.unsafe(
        `CREATE TABLE "${schema}".troupe_budgets (scope text PRIMARY KEY, limit_micros bigint NOT NULL, ` +
          `period text NOT NULL, alert_at text NOT NULL, start bigint NOT NULL, spent bigint NOT NULL DEFAULT 0, ` +
          `reserved bigint NOT NULL DEFAULT 0, alerted integer NOT NULL DEFAULT 0)`
      )
      yield* sql.unsafe(
        `INSERT INTO "${schema}".troupe_budgets (scope, limit_micros, period, alert_at, start, spent, alerted) ` +
          `VALUES ('tenant:acme', 10000000, 'month', '0.5,0.8,1', $1, 8500000, 2)`,
        [Date.UTC(2026, 0, 1)]
      )
      const budgets = yield* Effect.provide(Budgets, Budgets.layerPostgres({ schema }))
      const spend = (usd: number) =>
        Effect.flatMap(budgets.reserve({ scopes: ["tenant:acme"], amount: usd }), (r) => budgets.settle(r, usd))
      assert.deepStrictEqual((yield* spend(0.1)).map((a) => a.threshold), [])
      yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.25, 0.5, 0.75, 0.8, 1] })
      assert.deepStrictEqual((yield* spend(0.1)).map((a) => a.threshold), [])
      assert.deepStrictEqual((yield* spend(1.3)).map((a) => a.threshold), [1])
    }).pipe(Effect.provide(pgLayer), (body) => Effect.andThen(TestClock.setTime(JAN_15), body))
  })
})

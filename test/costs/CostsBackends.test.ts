/**
 * `Costs` on Redis and PostgreSQL: the conformance suite on each (a unique key prefix / schema per run, cleaned
 * up; skipped without a server unless `CI=true`), and what only a shared store shows: the Redis layout (a hash per
 * bucket, expiring, bounded per bucket), the PostgreSQL rows beside the rollups, and the options checks.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { afterAll } from "vitest"
import { Costs } from "../../src/costs/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { costsConformance } from "./CostsConformance.ts"

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 30, 0)
const redisLayer = NodeRedis.layer({ url: redisUrl })

describeRedis("Costs on Redis", () => {
  const prefixes: Array<string> = []
  const fresh = () => {
    const prefix = uniquePrefix("costs")
    prefixes.push(prefix)
    return prefix
  }
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(Effect.provide(redisLayer))
    )
  })
  costsConformance({
    label: "redis",
    layer: (options) => Costs.layerRedis({ prefix: fresh(), ...options }).pipe(Layer.provide(redisLayer))
  })

  describe("Costs (redis layout)", () => {
    it.effect("a record is a hash per period bucket (<prefix><period>:<start>), each expiring its period's retention", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        const prefix = fresh()
        yield* Effect.gen(function*() {
          const costs = yield* Costs
          yield* costs.record({ cost: 0.5, tenant: "acme" })
          const redis = yield* Redis.Redis
          const hour = `${prefix}hour:${Date.UTC(2026, 0, 15, 12)}`
          const day = `${prefix}day:${Date.UTC(2026, 0, 15)}`
          const month = `${prefix}month:${Date.UTC(2026, 0, 1)}`
          for (const [key, ttl] of [[hour, 3_600_000], [day, 86_400_000], [month, 2 * 86_400_000]] as const) {
            const fields = yield* redis.send<ReadonlyArray<string>>("HKEYS", key)
            assert.includeMembers([...fields], ["t", "n"], key)
            assert.strictEqual(fields.length, 4)
            const pttl = yield* redis.send<number>("PTTL", key)
            assert.isTrue(pttl > 0 && pttl <= ttl, `${key} ${pttl}`)
          }
        }).pipe(Effect.provide(
          Costs.layerRedis({ prefix, retention: { hour: "1 hour", day: "1 day", month: "2 days" } }).pipe(
            Layer.provideMerge(redisLayer)
          )
        ))
      }))

    it.effect("a bucket holds at most maxRowsPerBucket combinations; the rest fold into one row, totals stay exact", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        yield* Effect.gen(function*() {
          const costs = yield* Costs
          for (let i = 0; i < 10; i++) yield* costs.record({ cost: 1, tenant: `t${i}` })
          const s = yield* costs.stats({ period: "day", groupBy: "tenant" })
          assert.strictEqual(s.total, 10)
          assert.strictEqual(s.count, 10)
          assert.deepStrictEqual(s.groups, { t0: 1, t1: 1, "-": 8 })
        }).pipe(
          Effect.provide(Costs.layerRedis({ prefix: fresh(), maxRowsPerBucket: 2 }).pipe(Layer.provide(redisLayer)))
        )
      }))

    it.effect("a failing store surfaces as CostsStoreError from record, stats and forecast", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        const prefix = fresh()
        yield* Effect.gen(function*() {
          const redis = yield* Redis.Redis
          // a string where the hash buckets go: every command on them is a WRONGTYPE error
          for (
            const key of [
              `hour:${Date.UTC(2026, 0, 15, 12)}`,
              `day:${Date.UTC(2026, 0, 15)}`,
              `month:${Date.UTC(2026, 0, 1)}`
            ]
          ) {
            yield* redis.send("SET", `${prefix}${key}`, "x")
          }
          const costs = yield* Costs
          for (const attempt of [costs.record({ cost: 1 }), costs.stats({ period: "day" }), costs.forecast()]) {
            const exit = yield* Effect.exit(attempt)
            assert.isTrue(Exit.isFailure(exit))
            if (Exit.isFailure(exit)) {
              const error = exit.cause.reasons[0]
              assert.isTrue(error !== undefined && error._tag === "Fail" && error.error._tag === "CostsStoreError")
            }
          }
        }).pipe(Effect.provide(Costs.layerRedis({ prefix }).pipe(Layer.provideMerge(redisLayer))))
      }))

    it.effect("an option not of its type fails the layer with InvalidOptions naming the path", () =>
      Effect.gen(function*() {
        // ill-typed on purpose: options from configuration
        const exit = yield* Effect.exit(
          Layer.build(
            Costs.layerRedis({ maxRowsPerBucket: 0, retention: { hour: -1 } }).pipe(Layer.provide(redisLayer))
          )
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons[0]
          assert.isTrue(
            error !== undefined && error._tag === "Fail" && error.error._tag === "InvalidOptions" &&
              error.error.path === "maxRowsPerBucket"
          )
        }
      }).pipe(Effect.scoped))
  })
})

describePostgres("Costs on PostgreSQL", () => {
  const schemas: Array<string> = []
  const fresh = () => {
    const schema = uniqueSchema("costs")
    schemas.push(schema)
    return schema
  }
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })
  costsConformance({
    label: "postgres",
    layer: (options) => Costs.layerPostgres({ schema: fresh(), ...options }).pipe(Layer.provide(pgLayer))
  })

  describe("Costs (postgres layout)", () => {
    it.effect("a record is a row in troupe_costs and an upsert of its three rollup rows in troupe_cost_rollups", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        const schema = fresh()
        yield* Effect.gen(function*() {
          const costs = yield* Costs
          yield* costs.record({ cost: 0.5, tenant: "acme", cached: false })
          yield* costs.record({ cost: 0.25, tenant: "acme", cached: false })
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql.unsafe<{ tenant: string; cached: boolean; at: string }>(
            `SELECT tenant, cached, at FROM "${schema}".troupe_costs ORDER BY id`
          )
          assert.deepStrictEqual(rows.map((r) => [r.tenant, r.cached, Number(r.at)]), [["acme", false, JAN_15_NOON], [
            "acme",
            false,
            JAN_15_NOON
          ]])
          const rollups = yield* sql.unsafe<{ period: string; cost: number; count: string }>(
            `SELECT period, cost, count FROM "${schema}".troupe_cost_rollups ORDER BY period`
          )
          assert.deepStrictEqual(rollups.map((r) => [r.period, r.cost, Number(r.count)]), [["day", 0.75, 2], [
            "hour",
            0.75,
            2
          ], ["month", 0.75, 2]])
        }).pipe(Effect.provide(Costs.layerPostgres({ schema }).pipe(Layer.provideMerge(pgLayer))))
      }))

    it.effect("concurrent records on one bucket all count (the rollup upsert is atomic)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        yield* Effect.gen(function*() {
          const costs = yield* Costs
          yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
            costs.record({ cost: 0.25, tenant: `t${i % 2}` }), { concurrency: 8 })
          const s = yield* costs.stats({ period: "month", groupBy: "tenant" })
          assert.strictEqual(s.count, 40)
          assert.deepStrictEqual(s.groups, { t0: 5, t1: 5 })
        }).pipe(Effect.provide(Costs.layerPostgres({ schema: fresh() }).pipe(Layer.provide(pgLayer))))
      }))

    it.effect("a failing store surfaces as CostsStoreError from record, stats and forecast", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        const schema = fresh()
        yield* Effect.gen(function*() {
          const costs = yield* Costs
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(`DROP TABLE "${schema}".troupe_cost_rollups`)
          for (const attempt of [costs.record({ cost: 1 }), costs.stats({ period: "day" }), costs.forecast()]) {
            const exit = yield* Effect.exit(attempt)
            assert.isTrue(Exit.isFailure(exit))
            if (Exit.isFailure(exit)) {
              const error = exit.cause.reasons[0]
              assert.isTrue(error !== undefined && error._tag === "Fail" && error.error._tag === "CostsStoreError")
            }
          }
        }).pipe(Effect.provide(Costs.layerPostgres({ schema }).pipe(Layer.provideMerge(pgLayer))))
      }))

    it.effect("a schema name outside [a-z_][a-z0-9_]* fails the layer with CostsStoreError", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Layer.build(Costs.layerPostgres({ schema: "Bad-Name" }).pipe(Layer.provide(pgLayer)))
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons[0]
          assert.isTrue(error !== undefined && error._tag === "Fail" && error.error._tag === "CostsStoreError")
        }
      }).pipe(Effect.scoped))
  })
})

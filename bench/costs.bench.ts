/**
 * Costs benchmarks (issue 15), each interleaved with its floor in the same run:
 * - `costs.record`: one `Costs.record` on the memory backend (three period buckets, one dimension row each), beside
 *   `costs.record.floor-map-increment` (three `Map` increments, the least a per-period ledger can do) — target ≤ 1 µs.
 * - `costs.record.redis`: one `Costs.record` on Redis (one Lua script: `HINCRBYFLOAT` / `HINCRBY` on the hour, day
 *   and month hashes, `PEXPIRE` each), beside `costs.record.redis.floor-hincrby` (one plain `HINCRBY`, one round trip).
 * - `costs.record.postgres`: one `Costs.record` on PostgreSQL (one statement: the row insert and the three rollup
 *   upserts), beside `costs.record.postgres.floor-insert` (one plain `INSERT` of a row).
 */
import { NodeRedis } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { Costs, makeMemory } from "../src/costs/index.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
const databaseUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const entry = {
  cost: 0.001,
  tenant: "acme",
  principal: "ada",
  key: "k1",
  model: "openai:gpt-4o-mini",
  provider: "openai"
}

const recordLoop = (costs: Costs["Service"], ops: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < ops; i++) yield* costs.record(entry)
  }).pipe(Effect.orDie)

const memoryRows = (): Promise<Array<BenchRow>> => {
  const OPS = 10_000
  return timeInterleaved(
    Effect.gen(function*() {
      const costs = yield* makeMemory()
      const map = new Map<string, number>()
      const batches: ReadonlyArray<InterleavedBatch> = [
        {
          id: "costs.record.floor-map-increment",
          ops: OPS,
          batch: Effect.sync(() => {
            for (let i = 0; i < OPS; i++) {
              map.set("hour", (map.get("hour") ?? 0) + 0.001)
              map.set("day", (map.get("day") ?? 0) + 0.001)
              map.set("month", (map.get("month") ?? 0) + 0.001)
            }
          }),
          note: "three Map increments (hour, day, month), in a loop (interleaved with costs.record)"
        },
        {
          id: "costs.record",
          ops: OPS,
          baseline: "costs.record.floor-map-increment",
          batch: recordLoop(costs, OPS),
          note:
            "memory: record with 6 dimensions into the hour, day and month buckets, sequential in one fiber (target <= 1 µs)"
        }
      ]
      return batches
    }),
    { samples: 30, warmup: 5 }
  )
}

const redisRows = async (): Promise<Array<BenchRow>> => {
  const prefix = `troupe-bench:costs:${process.pid}:`
  const redisLayer = NodeRedis.layer({ url: redisUrl })
  const rt = ManagedRuntime.make(Layer.merge(Costs.layerRedis({ prefix }).pipe(Layer.provide(redisLayer)), redisLayer))
  const up = await rt.runPromise(Effect.exit(Redis.Redis.use((r) => r.send("PING"))))
  if (up._tag === "Failure") {
    process.stderr.write(`  (skipping Redis costs rows: no Redis at ${redisUrl})\n`)
    await rt.dispose()
    return []
  }
  const OPS = 25
  const rows = await timeInterleaved(
    Effect.gen(function*() {
      const costs = yield* Effect.promise(() => rt.runPromise(Costs.use(Effect.succeed)))
      const redis = yield* Effect.promise(() => rt.runPromise(Redis.Redis.use(Effect.succeed)))
      const batches: ReadonlyArray<InterleavedBatch> = [
        {
          id: "costs.record.redis.floor-hincrby",
          ops: OPS,
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) yield* redis.send("HINCRBY", `${prefix}floor`, "n", "1")
          }).pipe(Effect.orDie),
          note: "Redis: one plain HINCRBY, sequential in one fiber (interleaved with costs.record.redis)"
        },
        {
          id: "costs.record.redis",
          ops: OPS,
          baseline: "costs.record.redis.floor-hincrby",
          batch: recordLoop(costs, OPS),
          note:
            "Redis: record with 6 dimensions, one Lua script on the hour, day and month hashes, sequential in one fiber"
        }
      ]
      return batches
    }),
    { samples: 60, warmup: 5 }
  )
  await rt.runPromise(
    Redis.Redis.use((r) =>
      Effect.flatMap(
        r.send<ReadonlyArray<string>>("KEYS", `${prefix}*`),
        (keys) => (keys.length > 0 ? r.send("DEL", ...keys) : Effect.void)
      )
    )
  )
  await rt.dispose()
  return rows
}

const postgresRows = async (): Promise<Array<BenchRow>> => {
  const schema = `troupe_bench_costs_${process.pid}`
  const pg = PgClient.layer({ url: Redacted.make(databaseUrl) })
  const rt = ManagedRuntime.make(Costs.layerPostgres({ schema }).pipe(Layer.provideMerge(pg)))
  const up = await rt.runPromise(Effect.exit(Costs.useSync(() => undefined)))
  if (up._tag === "Failure") {
    process.stderr.write(`  (skipping PostgreSQL costs rows: no PostgreSQL at ${databaseUrl})\n`)
    await rt.dispose()
    return []
  }
  const OPS = 20
  const rows = await timeInterleaved(
    Effect.gen(function*() {
      const costs = yield* Effect.promise(() => rt.runPromise(Costs.useSync((c) => c)))
      const sql = yield* Effect.promise(() => rt.runPromise(SqlClient.SqlClient.useSync((s) => s)))
      yield* sql.unsafe(
        `CREATE TABLE IF NOT EXISTS "${schema}".plain (id bigserial PRIMARY KEY, at bigint NOT NULL, cost double precision NOT NULL)`
      )
      const batches: ReadonlyArray<InterleavedBatch> = [
        {
          id: "costs.record.postgres.floor-insert",
          ops: OPS,
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) {
              yield* sql.unsafe(`INSERT INTO "${schema}".plain (at, cost) VALUES ($1, $2)`, [Date.now(), 0.001])
            }
          }).pipe(Effect.orDie),
          note:
            "PostgreSQL: one plain INSERT of a row, sequential in one fiber (interleaved with costs.record.postgres)"
        },
        {
          id: "costs.record.postgres",
          ops: OPS,
          baseline: "costs.record.postgres.floor-insert",
          batch: recordLoop(costs, OPS),
          note:
            "PostgreSQL: record with 6 dimensions, one statement (row insert + three rollup upserts), sequential in one fiber"
        }
      ]
      return batches
    }),
    { samples: 30, warmup: 3 }
  )
  await rt.runPromise(SqlClient.SqlClient.use((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
  await rt.dispose()
  return rows
}

export default async (): Promise<
  ReadonlyArray<BenchRow>
> => [...await memoryRows(), ...await redisRows(), ...await postgresRows()]

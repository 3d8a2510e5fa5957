/**
 * Identity benchmarks (issue 13): `auth.validate` of an issued key, beside `floor.hmac-sha256` (one node:crypto
 * HMAC-SHA-256 of a key-sized string, the floor every validation pays). Sequential, one fiber, `timeEffectBatch`.
 * - memory `KeyStore`: a valid key and an unknown one (same work by design), and a valid key through the validation
 *   cache (`Keys.make({ cache })`);
 * - PostgreSQL `KeyStore`: a valid key uncached (one `SELECT` per validation) and cached, beside
 *   `auth.validate.postgres.floor-select` (one plain `SELECT 1` round trip).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { createHmac } from "node:crypto"
import { Keys, KeyStore } from "../src/identity/index.ts"
import { type BenchRow, timeBatch, timeEffectBatch } from "./harness.ts"

const OPS = 2_000
const PG_OPS = 200
const pepper = Redacted.make("bench-pepper-0123456789abcdef0123456789")
const databaseUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

const validations = (keys: Keys["Service"], key: string, ops: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < ops; i++) yield* keys.validate(key)
  })

const postgresRows = async (): Promise<ReadonlyArray<BenchRow>> => {
  const schema = `troupe_bench_keys_${process.pid}`
  const pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 2 })
  const rt = ManagedRuntime.make(Layer.merge(KeyStore.layerPostgres({ schema }).pipe(Layer.provide(pg)), pg))
  const up = await rt.runPromise(
    Effect.exit(Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) => sql`SELECT 1`))
  )
  if (up._tag === "Failure") {
    process.stderr.write(`  (skipping PostgreSQL auth rows: no PostgreSQL at ${databaseUrl})\n`)
    await rt.dispose()
    return []
  }
  try {
    const [plain, cached] = await rt.runPromise(Effect.all([Keys.make({ pepper }), Keys.make({ pepper, cache: {} })]))
    const created = await rt.runPromise(
      plain.create({ principal: { kind: "user", id: "bench", tenant: "bench" }, name: "b", scopes: ["*"] })
    )
    const key = Redacted.value(created.key)
    const sql = await rt.runPromise(Effect.service(SqlClient.SqlClient))
    const floor = await timeEffectBatch(
      "auth.validate.postgres.floor-select",
      Effect.orDie(Effect.gen(function*() {
        for (let i = 0; i < PG_OPS; i++) yield* sql`SELECT 1`
      })),
      { ops: PG_OPS, note: "one plain SELECT 1 round trip, sequential" }
    )
    const uncached = await timeEffectBatch("auth.validate.postgres", Effect.orDie(validations(plain, key, PG_OPS)), {
      ops: PG_OPS,
      baseline: "auth.validate.postgres.floor-select",
      note: "valid key, PostgreSQL KeyStore (one SELECT per validation), sequential in one fiber"
    })
    const hit = await timeEffectBatch("auth.validate.postgres.cached", Effect.orDie(validations(cached, key, OPS)), {
      ops: OPS,
      baseline: "auth.validate.postgres",
      note: "valid key, PostgreSQL KeyStore behind the validation cache (5 s), sequential in one fiber"
    })
    return [floor, uncached, hit]
  } finally {
    await rt.runPromise(
      Effect.flatMap(
        Effect.service(SqlClient.SqlClient),
        (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      )
    ).catch(() => undefined)
    await rt.dispose()
  }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const keys = await Effect.runPromise(Keys.make({ pepper }).pipe(Effect.provide(KeyStore.layerMemory())))
  const cachedKeys = await Effect.runPromise(
    Keys.make({ pepper, cache: {} }).pipe(Effect.provide(KeyStore.layerMemory()))
  )
  const created = await Effect.runPromise(
    keys.create({ principal: { kind: "user", id: "bench", tenant: "bench" }, name: "b", scopes: ["*"] })
  )
  const createdCached = await Effect.runPromise(
    cachedKeys.create({ principal: { kind: "user", id: "bench", tenant: "bench" }, name: "b", scopes: ["*"] })
  )
  const key = Redacted.value(created.key)
  const unknown = key.slice(0, 8) + (key[8] === "A" ? "B" : "A") + key.slice(9)
  const floor = await timeBatch("floor.hmac-sha256", (ops) => {
    for (let i = 0; i < ops; i++) createHmac("sha256", "bench-pepper-0123456789abcdef0123456789").update(key).digest()
  }, { ops: OPS, note: "node:crypto HMAC-SHA-256 of a 75-character key" })
  const valid = await timeEffectBatch("auth.validate", Effect.orDie(validations(keys, key, OPS)), {
    ops: OPS,
    baseline: "floor.hmac-sha256",
    note: "valid key, memory KeyStore, sequential in one fiber"
  })
  const miss = await timeEffectBatch(
    "auth.validate.unknown",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) yield* Effect.exit(keys.validate(unknown))
    }),
    { ops: OPS, baseline: "floor.hmac-sha256", note: "unknown public id (dummy-hash compare), memory KeyStore" }
  )
  const cached = await timeEffectBatch(
    "auth.validate.cached",
    Effect.orDie(validations(cachedKeys, Redacted.value(createdCached.key), OPS)),
    { ops: OPS, baseline: "auth.validate", note: "valid key through the validation cache, memory KeyStore" }
  )
  return [floor, valid, miss, cached, ...(await postgresRows())]
}

/**
 * The audit log on PostgreSQL, beside a plain INSERT on the same server in the same run:
 * - `audit.record.postgres`: `Audit.record` (Schema decode, redaction, SHA-256 chain link, append at the next
 *   position, waiting for the store's acknowledgement), sequential in one fiber;
 * - `audit.insert.postgres.baseline`: a plain `INSERT` of the same JSON row into a table without the chain;
 * - `audit.record.postgres.c32` beside `audit.insert.postgres.c32`: the same from 32 concurrent fibers — one chain
 *   serialises the entries, and the writer's group commit appends what queued meanwhile in one statement.
 * Skipped (with a message) without a server at DATABASE_URL.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { Audit, AuditStore } from "../src/identity/index.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const schema = `troupe_bench_audit_${process.pid}`
  const pg = PgClient.layer({ url: Redacted.make(url) })
  const rt = ManagedRuntime.make(
    Audit.layer.pipe(Layer.provideMerge(AuditStore.layerPostgres({ schema })), Layer.provideMerge(pg))
  )
  const up = await rt.runPromise(Effect.exit(Audit.useSync(() => undefined)))
  if (up._tag === "Failure") {
    process.stderr.write(`  (skipping audit rows: no PostgreSQL at ${url})\n`)
    await rt.dispose()
    return []
  }
  const OPS = 20
  const CONCURRENT_OPS = 320
  const entry = (i: number) => ({
    tenant: "bench",
    actor: "user:bench",
    action: "key.create",
    resource: `key/${i}`,
    status: "success" as const,
    ip: "127.0.0.1",
    userAgent: "bench",
    metadata: { n: i }
  })
  const rows = await timeInterleaved(
    Effect.gen(function*() {
      const audit = yield* Effect.promise(() => rt.runPromise(Audit.useSync((a) => a)))
      const sql = yield* Effect.promise(() => rt.runPromise(SqlClient.SqlClient.useSync((s) => s)))
      yield* sql.unsafe(
        `CREATE TABLE IF NOT EXISTS "${schema}".plain (id bigserial PRIMARY KEY, record jsonb NOT NULL)`
      )
      let n = 0
      const batches: ReadonlyArray<InterleavedBatch> = [
        {
          id: "audit.insert.postgres.baseline",
          ops: OPS,
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) {
              yield* sql.unsafe(`INSERT INTO "${schema}".plain (record) VALUES ($1::jsonb)`, [
                JSON.stringify(entry(n++))
              ])
            }
          }).pipe(Effect.orDie),
          note:
            "PostgreSQL: a plain INSERT of one JSON row, sequential in one fiber (interleaved with audit.record.postgres)"
        },
        {
          id: "audit.record.postgres",
          ops: OPS,
          baseline: "audit.insert.postgres.baseline",
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) yield* audit.record(entry(n++))
          }).pipe(Effect.orDie),
          note:
            "PostgreSQL: Audit.record (decode, redact, SHA-256 link, append at the next position, acknowledged), sequential"
        },
        {
          id: "audit.insert.postgres.c32",
          ops: CONCURRENT_OPS,
          batch: Effect.forEach(
            Array.from({ length: CONCURRENT_OPS }, () => 0),
            () => sql.unsafe(`INSERT INTO "${schema}".plain (record) VALUES ($1::jsonb)`, [JSON.stringify(entry(n++))]),
            { concurrency: 32, discard: true }
          ).pipe(Effect.orDie),
          note: "PostgreSQL: plain INSERTs of one JSON row from 32 concurrent fibers (the client's pool), cost per row"
        },
        {
          id: "audit.record.postgres.c32",
          ops: CONCURRENT_OPS,
          baseline: "audit.insert.postgres.c32",
          batch: Effect.forEach(Array.from({ length: CONCURRENT_OPS }, () => 0), () => audit.record(entry(n++)), {
            concurrency: 32,
            discard: true
          }).pipe(Effect.orDie),
          note:
            "PostgreSQL: Audit.record from 32 concurrent fibers, each acknowledged once durable; one chain, so entries are appended in batches (group commit), cost per entry"
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

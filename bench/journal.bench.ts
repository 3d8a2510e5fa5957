/**
 * Journal benchmarks (issue 16 §1), interleaved with their baseline in the same run:
 * - `journal.step.postgres`: one journaled agent step (`Journal.model`, an activity of a durable run on
 *   `ClusterWorkflowEngine` over PostgreSQL, whose body is trivial), per step of a 10-step run — beside
 *   `journal.insert-baseline`, one plain `INSERT` on the same server and client.
 * Recovery time after SIGKILL is measured by test/llmagent/JournalProcesses.test.ts (see the README).
 */
import { NodeCrypto } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { Workflow } from "effect/workflow"
import { Journal } from "../src/llmagent/index.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const databaseUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const STEPS = 10

const Run = Workflow.make("JournalBenchRun", {
  payload: { runId: Schema.String },
  success: Schema.Int,
  idempotencyKey: (p) => p.runId
})
const RunLive = Run.toLayer(Effect.fn(function*() {
  let n = 0
  for (let i = 0; i < STEPS; i++) {
    n += yield* Journal.model({ step: `${i}`, success: Schema.Int, call: Effect.succeed(i) })
  }
  return n
}))

export default async (): Promise<Array<BenchRow>> => {
  const db = `troupe_bench_journal_${process.pid}`
  const admin = (s: string) =>
    Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(s)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))
      )
    )
  try {
    await admin(`CREATE DATABASE "${db}"`)
  } catch {
    process.stderr.write(`  (skipping journal rows: no PostgreSQL at ${databaseUrl})\n`)
    return []
  }
  const u = new URL(databaseUrl)
  u.pathname = `/${db}`
  const Live = RunLive.pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provideMerge(
      SingleRunner.layer({ runnerStorage: "sql", shardingConfig: { entityMessagePollInterval: "100 millis" } })
    ),
    Layer.provide(NodeCrypto.layerDigest),
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(u.toString()), maxConnections: 8 }))
  )
  let seq = 0
  try {
    return await timeInterleaved(
      Effect.gen(function*() {
        const ctx = yield* Layer.build(Live)
        const sql = Layer.succeedContext(ctx)
        yield* Effect.flatMap(SqlClient.SqlClient, (s) => s.unsafe(`CREATE TABLE bench_plain (id int, v text)`)).pipe(
          Effect.provide(sql)
        )
        const batches: ReadonlyArray<InterleavedBatch> = [
          {
            id: "journal.insert-baseline",
            ops: STEPS,
            batch: Effect.flatMap(SqlClient.SqlClient, (s) =>
              Effect.forEach(
                Array.from({ length: STEPS }, (_, i) => i),
                (i) => s.unsafe(`INSERT INTO bench_plain (id, v) VALUES ($1, $2)`, [i, "x"]),
                { discard: true }
              )).pipe(Effect.provide(sql)),
            note: "one plain INSERT on the same PostgreSQL server and client, sequential"
          },
          {
            id: "journal.step.postgres",
            ops: STEPS,
            baseline: "journal.insert-baseline",
            batch: Run.execute({ runId: `b${++seq}` }).pipe(Effect.provide(sql)),
            note:
              "per journaled step (Journal.model activity) of a 10-step durable run, ClusterWorkflowEngine on PostgreSQL"
          }
        ]
        return batches
      }),
      { samples: 8, warmup: 2 }
    )
  } finally {
    await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)
  }
}

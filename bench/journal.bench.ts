/**
 * Journal benchmarks (issue 16 §1):
 * - `journal.step.postgres` beside `journal.insert-baseline`, interleaved in the same rounds, on the same
 *   PostgreSQL server, database, `PgClient` pool and `synchronous_commit`, each timed one operation at a time:
 *   one journaled agent step (`Journal.model` with a trivial body, timed inside the body of a fresh 10-step durable
 *   run on `ClusterWorkflowEngine`) and one plain autocommit `INSERT`, both sequential.
 *   A step is several writes, not one: the activity message (`INSERT … ON CONFLICT DO NOTHING`, autocommit), the
 *   storage read of new messages (`UPDATE … SET last_read … RETURNING`, autocommit) and the reply (`BEGIN`, `UPDATE
 *   cluster_messages SET processed`, `INSERT INTO cluster_replies`, `COMMIT`): 6 round trips and 3 commits, against
 *   the INSERT's 1 and 1 (counted from the server's statement log).
 * - `journal.recovery`: recovery after SIGKILL, measured as the test does it (test/llmagent/JournalProcesses.test.ts):
 *   a worker process (test/llmagent/support/journalWorker.ts, 20 runs of 100 steps against the loopback fake
 *   provider) is killed with SIGKILL at a random point, and a new one is spawned once the killed one's connections
 *   are gone; the figure is the time from spawning the new process until the first step of a resumed run is
 *   journaled (a new `Complete` activity reply in PostgreSQL, polled every 5 ms), median of 7 kills.
 */
import { NodeCrypto } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { Workflow } from "effect/workflow"
import { fileURLToPath } from "node:url"
import { Journal } from "../src/llmagent/index.ts"
import {
  backendsGone,
  journaledCount,
  median,
  spawnWorker,
  startProvider,
  type Worker
} from "../test/llmagent/support/crashHarness.ts"
import type { BenchRow } from "./harness.ts"

const databaseUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const STEPS = 10
const ROUNDS = 30
const WARMUP = 3
const RECOVERY_KILLS = 7

/** Nanoseconds of each journaled step, filled by the run body while `recording`. */
const stepTimes: Array<number> = []
let recording = false

const Run = Workflow.make("JournalBenchRun", {
  payload: { runId: Schema.String },
  success: Schema.Int,
  idempotencyKey: (p) => p.runId
})
const RunLive = Run.toLayer(Effect.fn(function*() {
  let n = 0
  for (let i = 0; i < STEPS; i++) {
    const start = process.hrtime.bigint()
    n += yield* Journal.model({ step: `${i}`, success: Schema.Int, call: Effect.succeed(i) })
    if (recording) stepTimes.push(Number(process.hrtime.bigint() - start))
  }
  return n
}))

const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
}
const round = (n: number): number => Math.round(n * 1000) / 1000

const urlOf = (name: string) => {
  const u = new URL(databaseUrl)
  u.pathname = `/${name}`
  return u.toString()
}

const admin = (s: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(s)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))
    )
  )

/** The step and INSERT rows: per operation, interleaved round by round. */
const stepRows = (url: string): Promise<Array<BenchRow>> => {
  const Live = RunLive.pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provideMerge(
      SingleRunner.layer({ runnerStorage: "sql", shardingConfig: { entityMessagePollInterval: "100 millis" } })
    ),
    Layer.provide(NodeCrypto.layerDigest),
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 8 }))
  )
  const program = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [commit] = yield* sql.unsafe<{ synchronous_commit: string }>(`SHOW synchronous_commit`)
    yield* sql.unsafe(`CREATE TABLE bench_plain (id int, v text)`)
    const inserts: Array<number> = []
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      recording = round >= WARMUP
      for (let i = 0; i < STEPS; i++) {
        const start = process.hrtime.bigint()
        yield* sql.unsafe(`INSERT INTO bench_plain (id, v) VALUES ($1, $2)`, [i, "x"])
        if (recording) inserts.push(Number(process.hrtime.bigint() - start))
      }
      // a fresh run id every round: a run executed again only replays its stored result
      yield* Run.execute({ runId: `b${round}` })
    }
    recording = false
    const sync = `synchronous_commit=${commit?.synchronous_commit ?? "?"}`
    const rows: Array<BenchRow> = [
      {
        id: "journal.insert-baseline",
        unit: "ns/op",
        median: round(quantile(inserts, 0.5)),
        p99: round(quantile(inserts, 0.99)),
        note:
          `one plain autocommit INSERT (1 round trip, 1 commit), same server, database and PgClient pool as the steps, ` +
          `sequential, timed one by one; ${sync}`
      },
      {
        id: "journal.step.postgres",
        unit: "ns/op",
        median: round(quantile(stepTimes, 0.5)),
        p99: round(quantile(stepTimes, 0.99)),
        baseline: "journal.insert-baseline",
        note:
          "one journaled step (Journal.model, trivial body) of a fresh 10-step durable run, ClusterWorkflowEngine " +
          "on PostgreSQL, timed one by one inside the run; a step writes the activity message, marks it read and " +
          `writes its reply: 6 round trips, 3 commits; ${sync}`
      }
    ]
    return rows
  })
  return Effect.runPromise(program.pipe(Effect.provide(Live), Effect.scoped))
}

/** The recovery row: spawn → first journaled step of a resumed run, over `RECOVERY_KILLS` SIGKILLs. */
const recoveryRow = async (url: string): Promise<BenchRow> => {
  const worker = fileURLToPath(new URL("../test/llmagent/support/journalWorker.ts", import.meta.url))
  const provider = await startProvider({ modelMs: 15, toolMs: 10 })
  const waitFor = (w: Worker, above: number) =>
    Effect.gen(function*() {
      for (;;) {
        const n = yield* journaledCount
        if (n > above) return n
        if (w.child.exitCode !== null) throw new Error("the worker exited before resuming")
        yield* Effect.sleep("5 millis")
      }
    })
  const program = Effect.gen(function*() {
    const resumed: Array<number> = [], ready: Array<number> = [], firstRequest: Array<number> = []
    let w = spawnWorker([worker, url, provider.url, "1", "20", "100"])
    yield* waitFor(w, 40)
    for (let inc = 2; inc <= RECOVERY_KILLS + 1; inc++) {
      yield* Effect.sleep(`${100 + Math.floor(Math.random() * 300)} millis`)
      w.kill()
      yield* Effect.promise(() => w.done)
      yield* backendsGone("troupe-journal-worker")
      const before = yield* journaledCount
      w = spawnWorker([worker, url, provider.url, String(inc), "20", "100"])
      const readyAt = w.ready.then(() => Date.now())
      yield* waitFor(w, before)
      resumed.push(Date.now() - w.spawnedAt)
      ready.push((yield* Effect.promise(() => readyAt)) - w.spawnedAt)
      const first = provider.requests.find((r) => r.inc === inc)
      if (first !== undefined) firstRequest.push(first.at - w.spawnedAt)
    }
    w.kill()
    yield* Effect.promise(() => w.done)
    return { resumed, ready, firstRequest }
  })
  try {
    const { firstRequest, ready, resumed } = await Effect.runPromise(
      program.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })))
    )
    process.stderr.write(`  journal.recovery samples (ms): ${resumed.join(", ")}\n`)
    return {
      id: "journal.recovery",
      unit: "ms",
      median: median(resumed),
      p99: Math.max(...resumed),
      note: `recovery after SIGKILL: from spawning the new process (the killed one's connections gone) until the ` +
        `first step of a resumed run is journaled (Complete activity reply in PostgreSQL, polled every 5 ms); median ` +
        `of ${resumed.length} kills of a worker running 20 durable runs (p99 column: the slowest); medians of its ` +
        `parts: layers built ${median(ready)} ms, first provider request ${median(firstRequest)} ms`
    }
  } finally {
    await provider.close()
  }
}

export default async (): Promise<Array<BenchRow>> => {
  const db = `troupe_bench_journal_${process.pid}`
  try {
    await admin(`CREATE DATABASE "${db}"`)
    await admin(`CREATE DATABASE "${db}_recovery"`)
  } catch {
    process.stderr.write(`  (skipping journal rows: no PostgreSQL at ${databaseUrl})\n`)
    return []
  }
  try {
    const steps = await stepRows(urlOf(db))
    return [...steps, await recoveryRow(urlOf(`${db}_recovery`))]
  } finally {
    await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)
    await admin(`DROP DATABASE IF EXISTS "${db}_recovery" WITH (FORCE)`)
  }
}

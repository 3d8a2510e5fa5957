/**
 * Worker process of the SIGKILL test (test/llmagent/JournalProcesses.test.ts): starts (or resumes) `runs` durable
 * runs of `steps` steps on `ClusterWorkflowEngine` over PostgreSQL database `db`, prints one JSON line when all are
 * complete. Each step is a journaled model call to a scripted provider that counts requests and paid calls (one per
 * idempotency key) in PostgreSQL, then a non-idempotent tool that counts its executions.
 * Usage: node journalWorker.ts <databaseUrl> <runs> <steps>
 */
import { NodeCrypto } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { Workflow } from "effect/workflow"
import { Journal } from "../../../src/llmagent/index.ts"

const [url = "", runsArg = "10", stepsArg = "3"] = process.argv.slice(2)
const runs = Number(runsArg), steps = Number(stepsArg)

const Run = Workflow.make("JournalSoakRun", {
  payload: { runId: Schema.String, steps: Schema.Int },
  success: Schema.Array(Schema.String),
  idempotencyKey: (p) => p.runId
})

const RunLive = Run.toLayer(Effect.fn(function*({ runId, steps }) {
  const sql = yield* SqlClient.SqlClient
  const out: Array<string> = []
  for (let i = 1; i <= steps; i++) {
    const key = `${runId}/${i}`
    out.push(
      yield* Journal.model({
        step: `${i}`,
        success: Schema.String,
        // the scripted provider: every request counted, paid once per idempotency key
        call: sql.unsafe(
          `INSERT INTO provider_calls (key, requests) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET requests = provider_calls.requests + 1`,
          [key]
        ).pipe(Effect.andThen(Effect.sleep("15 millis")), Effect.as(`answer ${key}`), Effect.orDie)
      })
    )
    out.push(
      yield* Journal.tool({
        step: `${i}`,
        tool: "charge",
        key,
        idempotent: false,
        success: Schema.String,
        run: sql.unsafe(
          `INSERT INTO tool_runs (key, runs) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET runs = tool_runs.runs + 1`,
          [key]
        ).pipe(Effect.andThen(Effect.sleep("10 millis")), Effect.as(`charged ${key}`), Effect.orDie)
      }).pipe(Effect.catchTag("ToolOutcomeUnknown", (e) => Effect.succeed(`unknown ${e.key}`)), Effect.orDie)
    )
  }
  return out
}))

const Pg = PgClient.layer({ url: Redacted.make(url), maxConnections: 8 })
const Engine = ClusterWorkflowEngine.layer.pipe(
  Layer.provideMerge(SingleRunner.layer({
    runnerStorage: "sql",
    shardingConfig: { entityMessagePollInterval: "100 millis", shardLockExpiration: "5 seconds" }
  })),
  Layer.provide(NodeCrypto.layerDigest)
)
const Live = RunLive.pipe(
  Layer.provideMerge(Engine),
  Layer.provideMerge(Journal.ToolLedger.layerPostgres()),
  Layer.provideMerge(Pg)
)

const t0 = Date.now()
const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS provider_calls (key text PRIMARY KEY, requests int NOT NULL)`)
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS tool_runs (key text PRIMARY KEY, runs int NOT NULL)`)
  process.stdout.write(JSON.stringify({ ready: true, ms: Date.now() - t0 }) + "\n")
  const ids = yield* Effect.forEach(
    Array.from({ length: runs }, (_, i) => ({ runId: `run-${i}`, steps })),
    (p) => Run.execute(p, { discard: true }),
    { concurrency: 16 }
  )
  for (const id of ids) {
    for (let r = yield* Run.poll(id); Option.isNone(r) || r.value._tag !== "Complete"; r = yield* Run.poll(id)) {
      yield* Effect.sleep("50 millis")
    }
  }
  process.stdout.write(JSON.stringify({ done: true, ms: Date.now() - t0 }) + "\n")
})
Effect.runPromise(program.pipe(Effect.provide(Live))).then(() => process.exit(0), (e) => {
  process.stderr.write(String(e) + "\n")
  process.exit(1)
})

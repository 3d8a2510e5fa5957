/**
 * Worker process of the SIGKILL test (test/llmagent/JournalProcesses.test.ts) and of the `journal.recovery` bench
 * row: starts (or resumes) `runs` durable runs of `steps` steps on `ClusterWorkflowEngine` over PostgreSQL database
 * `db`, prints one JSON line when all are complete. Each step is a journaled model call (`Journal.model`, a request
 * to the loopback fake provider of crashHarness.ts, key `<run>/model/<i>`), then a non-idempotent tool
 * (`Journal.tool`, whose run is a request `<run>/tool/<i>` to the same provider). Requests carry the worker's
 * incarnation `inc`, so the provider, outside this process, logs which incarnation sent each one.
 * Usage: node journalWorker.ts <databaseUrl> <providerUrl> <inc> <runs> <steps>
 */
import { NodeCrypto } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Workflow } from "effect/workflow"
import { Journal } from "../../../src/llmagent/index.ts"

const [url = "", provider = "", inc = "0", runsArg = "10", stepsArg = "3"] = process.argv.slice(2)
const runs = Number(runsArg), steps = Number(stepsArg)

/** One request to the fake provider; its answer text. */
const request = (kind: "model" | "tool", key: string) =>
  Effect.tryPromise((signal) =>
    fetch(`${provider}/${kind}?key=${encodeURIComponent(key)}&inc=${inc}`, { signal }).then((r) => r.text())
  ).pipe(Effect.orDie)

const Run = Workflow.make("JournalSoakRun", {
  payload: { runId: Schema.String, steps: Schema.Int },
  success: Schema.Array(Schema.String),
  idempotencyKey: (p) => p.runId
})

const RunLive = Run.toLayer(Effect.fn(function*({ runId, steps }) {
  const out: Array<string> = []
  for (let i = 1; i <= steps; i++) {
    out.push(
      yield* Journal.model({ step: `${i}`, success: Schema.String, call: request("model", `${runId}/model/${i}`) })
    )
    out.push(
      yield* Journal.tool({
        step: `${i}`,
        tool: "charge",
        key: `${runId}/${i}`,
        idempotent: false,
        success: Schema.String,
        run: request("tool", `${runId}/tool/${i}`)
      }).pipe(Effect.catchTag("ToolOutcomeUnknown", (e) => Effect.succeed(`unknown ${e.key}`)), Effect.orDie)
    )
  }
  return out
}))

// the test waits for this application's backends to be gone before it reads the journal after a kill
const Pg = PgClient.layer({ url: Redacted.make(url), maxConnections: 8, applicationName: "troupe-journal-worker" })
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

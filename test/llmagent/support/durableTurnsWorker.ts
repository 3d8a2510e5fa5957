/**
 * Worker process of the SIGKILL test of durable `LlmAgents` turns (test/llmagent/JournalProcesses.test.ts): runs one
 * durable turn for each of `agents` agents (`shop:<i>`, input `task-<i>`) on `ClusterWorkflowEngine` over
 * PostgreSQL database `db`, with the `RunJournal` and the `ToolLedger` in PostgreSQL. A turn is three model calls:
 * step 1 calls `charge` (not idempotent), step 2 calls `lookup` (idempotent), step 3 answers. Every model call is a
 * request `task-<i>/model/<step>` to the loopback fake provider of crashHarness.ts, every tool run a request
 * `task-<i>/tool/<step>` (charge is step 1, lookup step 2); requests carry the worker's incarnation `inc`.
 *
 * On start it builds the layers (which resume the runs a killed incarnation left unfinished), prints `ready`, starts
 * the turns of agents that have no run in the journal yet, and prints `done` once every agent's run has an outcome.
 * Usage: node durableTurnsWorker.ts <databaseUrl> <providerUrl> <inc> <agents>
 */
import { NodeCrypto } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Action, type AgentLoop, Tool } from "../../../src/agent/index.ts"
import type { LlmRequest, LlmResponse } from "../../../src/llm/index.ts"
import { Journal, LlmAgent, LlmAgents, RunJournal } from "../../../src/llmagent/index.ts"

const [url = "", provider = "", inc = "0", agentsArg = "6"] = process.argv.slice(2)
const agents = Number(agentsArg)
const t0 = Date.now()

/** One request to the fake provider; its answer text. */
const call = (kind: "model" | "tool", key: string) =>
  Effect.tryPromise((signal) =>
    fetch(`${provider}/${kind}?key=${encodeURIComponent(key)}&inc=${inc}`, { signal }).then((r) => r.text())
  ).pipe(Effect.orDie)

const stepOf = (request: LlmRequest): number => {
  let n = 1
  for (let i = request.messages.length - 1; i >= 0 && request.messages[i]?.role !== "user"; i--) {
    if (request.messages[i]?.role === "assistant") n++
  }
  return n
}
const taskOf = (request: LlmRequest): string => {
  for (const m of request.messages) if (m.role === "user") return m.content
  return ""
}
const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }

const program = Effect.gen(function*() {
  const llm: AgentLoop.ModelClient<never> = {
    generate: (request) =>
      Effect.gen(function*() {
        const step = stepOf(request), task = taskOf(request)
        yield* call("model", `${task}/model/${step}`)
        const reply = (text: string, use?: { name: string; args: Record<string, string> }): LlmResponse => ({
          provider: "scripted",
          model: "fast",
          text,
          toolCalls: use === undefined ? [] : [{ id: `call-${step}`, name: use.name, arguments: use.args }],
          finishReason: use === undefined ? "stop" : "tool-calls",
          usage
        })
        if (step === 1) return reply("", { name: "charge", args: { order: task } })
        if (step === 2) return reply("", { name: "lookup", args: { order: task } })
        return reply(`done ${task}`)
      }),
    stream: () => {
      throw new Error("durable turns do not stream")
    }
  }
  const tool = (name: "charge" | "lookup") =>
    Tool.fromAction(Action.make({
      name,
      description: name,
      params: Schema.Struct({ order: Schema.String }),
      output: Schema.String,
      retries: 0,
      run: ({ order }) => Effect.as(call("tool", `${order}/tool/${name === "charge" ? 1 : 2}`), `${name} ${order}`)
    }))
  const Shop = LlmAgent.make({
    name: "shop",
    model: "fast",
    llm,
    memory: "none",
    tools: [tool("charge"), tool("lookup")],
    durable: { idempotentTools: ["lookup"] }
  })
  const service = yield* LlmAgents.make({ agents: [Shop] })
  const journal = yield* RunJournal
  process.stdout.write(JSON.stringify({ ready: true, ms: Date.now() - t0 }) + "\n")
  for (let i = 0; i < agents; i++) {
    const started = yield* journal.list({ agentId: `shop:${i}`, limit: 1 })
    if (started.length === 0) {
      yield* Effect.forkChild(Effect.ignore(service.ask(`shop:${i}`, `task-${i}`)), { startImmediately: true })
    }
  }
  while (true) {
    const runs = yield* journal.list({ agent: "shop", limit: agents * 4 })
    const finished = new Set(runs.filter((r) => r.outcome !== undefined).map((r) => r.agentId))
    if (finished.size >= agents) break
    yield* Effect.sleep("50 millis")
  }
  process.stdout.write(JSON.stringify({ done: true, ms: Date.now() - t0 }) + "\n")
})

// the test waits for this application's backends to be gone before it reads the journal after a kill
const Pg = PgClient.layer({ url: Redacted.make(url), maxConnections: 8, applicationName: "troupe-journal-worker" })
const Engine = ClusterWorkflowEngine.layer.pipe(
  Layer.provideMerge(SingleRunner.layer({
    runnerStorage: "sql",
    shardingConfig: { entityMessagePollInterval: "100 millis", shardLockExpiration: "5 seconds" }
  })),
  Layer.provide(NodeCrypto.layerDigest)
)
const Live = Layer.mergeAll(Engine, Journal.ToolLedger.layerPostgres(), RunJournal.layerPostgres()).pipe(
  Layer.provideMerge(Pg)
)

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Live))).then(() => process.exit(0), (e) => {
  process.stderr.write(String(e) + "\n")
  process.exit(1)
})

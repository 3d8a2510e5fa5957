/**
 * A gateway process with a run journal, for the `troupe replay` test (test/cli/ReplayCommand.test.ts): builds
 * `Gateway.layer` (port 0, admin key `replay-admin`) over `Troupe.layerTest` with `RunJournal.layerMemory`, runs one
 * durable `LlmAgents` turn (a scripted model that calls `charge` and then answers), prints
 * `{"url": …, "runId": …}` and serves until killed.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { WorkflowEngine } from "effect/workflow"
import { Action, type AgentLoop, Tool } from "../../../src/agent/index.ts"
import { Troupe } from "../../../src/app/index.ts"
import { Gateway } from "../../../src/gateway/index.ts"
import type { LlmResponse } from "../../../src/llm/index.ts"
import { Journal, LlmAgent, LlmAgents, RunJournal } from "../../../src/llmagent/index.ts"

const usage = { inputTokens: 12, outputTokens: 4, totalTokens: 16 }
const reply = (text: string, toolCalls: LlmResponse["toolCalls"]): LlmResponse => ({
  provider: "scripted",
  model: "fast",
  text,
  toolCalls,
  finishReason: toolCalls.length > 0 ? "tool-calls" : "stop",
  usage
})
const llm: AgentLoop.ModelClient<never> = {
  generate: (request) =>
    Effect.succeed(
      request.messages.at(-1)?.role === "tool"
        ? reply("refunded order o-7", [])
        : reply("", [{ id: "c1", name: "charge", arguments: { amount: 5 } }])
    ),
  stream: () => {
    throw new Error("unused")
  }
}
const charge = Tool.fromAction(Action.make({
  name: "charge",
  description: "Charges the card",
  params: Schema.Struct({ amount: Schema.Number }),
  output: Schema.String,
  retries: 0,
  run: ({ amount }) => Effect.succeed(`charged ${amount}`)
}))
const Shop = LlmAgent.make({ name: "shop", model: "fast", llm, memory: "none", tools: [charge], durable: true })

const layer = Layer.mergeAll(
  Gateway.layer({ port: 0 }),
  LlmAgents.layer({ agents: [Shop] })
).pipe(
  Layer.provideMerge(
    Layer.mergeAll(RunJournal.layerMemory(), WorkflowEngine.layerMemory, Journal.ToolLedger.layerMemory())
  ),
  Layer.provide(
    Troupe.layerTest({
      pipeline: { retry: false },
      config: { defaults: { gateway: { auth: { adminKey: "replay-admin" } } } }
    })
  )
)

Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const context = yield* Layer.build(layer)
  const answer = yield* Context.get(context, LlmAgents).ask("shop:1", "refund o-7")
  process.stdout.write(JSON.stringify({ url: Context.get(context, Gateway).address.url, runId: answer.runId }) + "\n")
  return yield* Effect.never
}))).catch((e) => {
  process.stderr.write(String(e) + "\n")
  process.exit(1)
})

/**
 * Supervised LLM agents, offline: agents addressed by id, streaming turns, turns queued in arrival order, a crash
 * restarted by the supervisor with the conversation reloaded from memory, and an idle agent stopping and coming back.
 *
 * Run: `npx node examples/llm-agent-server.ts` (exits 0).
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { Action, Tool } from "../src/agent/index.ts"
import { type LlmRequest, ScriptedProvider } from "../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../src/llmagent/index.ts"
import { layerMemory } from "../src/memory/index.ts"

const say = (text: string) => Effect.sync(() => console.log(text))
const lastUser = (request: LlmRequest) => request.messages.filter((m) => m.role === "user").at(-1)?.content ?? ""

const LookupOrder = Action.make({
  name: "lookup_order",
  description: "Finds an order by number",
  params: Schema.Struct({ order: Schema.String }),
  output: Schema.Struct({ order: Schema.String, status: Schema.String }),
  run: ({ order }) => Effect.succeed({ order, status: "shipped" }).pipe(Effect.delay("100 millis"))
})

// the offline model: looks orders up, remembers what the user said, and blows up (a defect) on "crash"
const provider = ScriptedProvider.makeUnsafe({
  chunkSize: 8,
  chunkLatency: "20 millis",
  rules: [
    {
      when: { lastUser: /order (\d+)/ },
      reply: (req) => ({
        toolCalls: [{ name: "lookup_order", arguments: { order: /order (\d+)/.exec(lastUser(req))?.[1] ?? "?" } }]
      })
    },
    {
      when: { tool: "lookup_order" },
      reply: (req) => ({ text: `Your order is ${JSON.parse(req.messages.at(-1)?.content ?? "{}").status}.` })
    },
    {
      when: { lastUser: /what did I ask/ },
      reply: (req) => ({
        text: `You asked: ${
          req.messages.filter((m) => m.role === "user").map((m) => `"${m.content}"`).slice(0, -1).join(", ")
        }`
      })
    }
  ],
  fallback: (req) => ({ text: `Noted: ${lastUser(req)}` })
})
const llm = {
  generate: (request: LlmRequest) =>
    lastUser(request).includes("crash") ? Effect.die(new Error("model client bug")) : provider.generate(request),
  stream: (request: LlmRequest) =>
    lastUser(request).includes("crash") ? Stream.die(new Error("model client bug")) : provider.stream(request)
}

// LlmAgent<string, ProviderError, ConversationMemory>: its requirements are in its type
const Support = LlmAgent.make({
  name: "support",
  instructions: "You help customers with their orders.",
  model: "fast",
  llm,
  tools: [Tool.fromAction(LookupOrder)],
  idleTimeout: "300 millis"
})

const program = Effect.gen(function*() {
  const agents = yield* LlmAgents

  yield* say("── a streamed turn of support:alice")
  yield* agents.askStream("support:alice", "Where is order 1234?").pipe(
    Stream.runForEach((event) =>
      event._tag === "TextDelta" ?
        Effect.sync(() => process.stdout.write(event.delta))
        : event._tag === "ToolCallStarted" ?
        say(`   → ${event.name}(${JSON.stringify(event.arguments)})`)
        : event._tag === "Finished" ?
        say(`\n   (${event.steps} steps, ${event.usage.totalTokens} tokens)`)
        : Effect.void
    )
  )

  yield* say("── three turns sent at once to support:bob run one at a time, in order")
  const answers = yield* Effect.forEach(
    ["I like tea", "I live in Oslo", "what did I ask?"],
    (text) => agents.ask("support:bob", text),
    {
      concurrency: "unbounded"
    }
  )
  for (const answer of answers) yield* say(`   ${answer.text}`)

  yield* say("── a turn crashes support:bob; its supervisor restarts it with the history reloaded from memory")
  const before = yield* agents.status("support:bob")
  const crashed = yield* Effect.flip(agents.ask("support:bob", "crash please"))
  yield* say(`   ${crashed._tag}: ${crashed.message}`)
  yield* Effect.sleep("10 millis")
  const after = yield* agents.status("support:bob")
  yield* say(
    `   pid ${before.pid} → ${after.pid}, incarnation ${after.incarnation}, history reloaded: ${after.historyAtStart} messages`
  )
  yield* say(`   ${(yield* agents.ask("support:bob", "what did I ask?")).text}`)

  yield* say("── idle agents hibernate and stop; the next turn brings them back")
  yield* Effect.sleep("400 millis")
  yield* say(`   live after the idle timeout: [${(yield* agents.live).join(", ")}]`)
  yield* agents.ask("support:alice", "Thanks!")
  const alice = yield* agents.status("support:alice")
  yield* say(
    `   support:alice is back: incarnation ${alice.incarnation}, history at start ${alice.historyAtStart} messages`
  )
})

const Agents = LlmAgents.layer({ agents: [Support] }).pipe(Layer.provide(layerMemory()))

Effect.runPromise(program.pipe(Effect.provide(Agents))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

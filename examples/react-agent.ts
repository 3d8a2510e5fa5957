/**
 * A tool-using agent (ReAct loop), offline: the scripted model asks for the weather in two cities (the two tool
 * calls run in parallel), then for a calculation, then answers — streamed as it arrives. A second turn of the same
 * conversation (kept in ConversationMemory) asks about a city the weather tool does not know: the tool error goes
 * back to the model, which answers gracefully.
 *
 * Run: node examples/react-agent.ts
 */
import { Console, Effect, Schema, Stream } from "effect"
import { Action, AgentLoop, Tool } from "../src/agent/index.ts"
import type { LlmRequest } from "../src/llm/index.ts"
import { ScriptedProvider } from "../src/llm/index.ts"
import { layerMemory } from "../src/memory/index.ts"

const Calculator = Action.make({
  name: "calculator",
  description: "Computes a op b",
  params: Schema.Struct({ op: Schema.Literals(["add", "sub", "mul", "div"]), a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  retries: 0,
  run: ({ op, a, b }) =>
    op === "div" && b === 0
      ? Effect.fail("division by zero")
      : Effect.succeed(op === "add" ? a + b : op === "sub" ? a - b : op === "mul" ? a * b : a / b)
})

const temperatures: Readonly<Record<string, number>> = { Oslo: 4, Lisbon: 19, Nairobi: 24 }

const Weather = Action.make({
  name: "get_weather",
  description: "Current weather of a city",
  params: Schema.Struct({ city: Schema.String }),
  output: Schema.Struct({ city: Schema.String, tempC: Schema.Finite, sky: Schema.String }),
  retries: 0,
  run: ({ city }) => {
    const tempC = temperatures[city]
    return tempC === undefined
      ? Effect.fail(`no weather station in ${city}`)
      : Effect.succeed({ city, tempC, sky: tempC > 15 ? "sunny" : "overcast" }).pipe(Effect.delay("120 millis"))
  }
})

/** The tool results at the end of the conversation, parsed. */
const results = (
  request: LlmRequest
): Array<{ readonly name?: string; readonly value: unknown; readonly isError: boolean }> => {
  const out: Array<{ readonly name?: string; readonly value: unknown; readonly isError: boolean }> = []
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]
    if (m?.role !== "tool") break
    out.unshift({
      ...(m.name !== undefined ? { name: m.name } : {}),
      value: JSON.parse(m.content),
      isError: m.isError ?? false
    })
  }
  return out
}

const model = ScriptedProvider.makeUnsafe({
  latency: "150 millis",
  chunkLatency: "25 millis",
  chunkSize: 6,
  rules: [
    {
      when: { lastUser: /weather in Oslo and in Lisbon/ },
      reply: {
        text: "Let me look both up.",
        toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }, {
          name: "get_weather",
          arguments: { city: "Lisbon" }
        }]
      }
    },
    {
      when: { lastUser: /Atlantis/ },
      reply: { toolCalls: [{ name: "get_weather", arguments: { city: "Atlantis" } }] }
    },
    {
      when: { toolResult: "no weather station" },
      reply: { text: "I could not find a weather station in Atlantis — it may be under water." }
    },
    {
      when: { tool: "get_weather" },
      reply: (request) => {
        // the get_weather tool's output, as the example's action returns it
        const [oslo, lisbon] = results(request).map((r) => r.value as { readonly tempC: number })
        return {
          toolCalls: [{ name: "calculator", arguments: { op: "sub", a: lisbon?.tempC ?? 0, b: oslo?.tempC ?? 0 } }]
        }
      }
    },
    {
      when: { tool: "calculator" },
      reply: (request) => ({
        text: `Lisbon is ${String(results(request)[0]?.value)} °C warmer than Oslo today — pack a jacket for the north.`
      })
    }
  ]
})

/** Whether streamed text left the cursor mid-line. */
let midLine = false
const line = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(`${midLine ? "\n" : ""}${text}\n`)
    midLine = false
  })

const show = (event: AgentLoop.AgentLoopEvent): Effect.Effect<void> => {
  switch (event._tag) {
    case "StepStarted":
      return line(`── step ${event.step}`)
    case "TextDelta":
      return Effect.sync(() => {
        process.stdout.write(midLine ? event.delta : `  ${event.delta}`)
        midLine = true
      })
    case "ToolCallStarted":
      return line(`  → ${event.name}(${JSON.stringify(event.arguments)})`)
    case "ToolCallFinished":
      return line(
        `  ← ${event.name} after ${event.durationMillis} ms: ${
          event.result._tag === "ToolSuccess"
            ? JSON.stringify(event.result.output)
            : `tool error ${event.result.error.message}`
        }`
      )
    case "StepFinished":
      return Effect.void
    case "Finished":
      return line(
        `── ${event.stopReason} after ${event.steps} steps, ${event.usage.totalTokens} tokens (${event.usage.inputTokens} in, ${event.usage.outputTokens} out)`
      )
  }
}

const program = Effect.gen(function*() {
  const agent = yield* AgentLoop.make({
    llm: model,
    model: "scripted-react",
    systemPrompt: "You answer weather questions using your tools.",
    tools: [Tool.fromAction(Calculator), Tool.fromAction(Weather)],
    concurrency: 2,
    toolTimeout: "5 seconds",
    maxSteps: 6,
    agent: "weather-bot"
  })
  for (
    const question of ["What's the weather in Oslo and in Lisbon, and how much warmer is Lisbon?", "And in Atlantis?"]
  ) {
    yield* Console.log(`\nuser: ${question}`)
    yield* agent.runStream({ input: question, conversationId: "demo" }).pipe(Stream.runForEach(show))
  }
}).pipe(Effect.provide(layerMemory()))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

/**
 * An agent with two tools, driven by a scripted sequence of model tool calls (no LLM: the agent loop is issue 6).
 *
 * Run: node examples/tool-agent.ts
 */
import { Effect, Schema } from "effect"
import { Action, Tool, ToolRunner } from "../src/agent/index.ts"

const Add = Action.make({
  name: "add",
  description: "Adds two numbers",
  params: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  run: ({ a, b }) => Effect.succeed(a + b)
})

const Lookup = Action.make({
  name: "lookup_city",
  description: "Finds a city's population",
  params: Schema.Struct({ city: Schema.String, country: Schema.optionalKey(Schema.String) }),
  output: Schema.Struct({ city: Schema.String, population: Schema.Finite }),
  run: ({ city }) =>
    city === "Atlantis"
      ? Effect.fail(`no such city: ${city}`)
      : Effect.succeed({ city, population: city.length * 100_000 }),
  retries: 0
})

const program = Effect.gen(function*() {
  const tools = [Tool.fromAction(Add, { strict: true }), Tool.fromAction(Lookup, { strict: true })]
  const runner = yield* ToolRunner.make({ tools, policy: { deny: ["shell"] }, concurrency: 2, timeout: "5 seconds" })
  console.log("tools offered to the model:")
  for (const d of runner.definitions) console.log(`  ${d.name}: ${JSON.stringify(d.parameters)}`)

  const script = [
    { id: "call_1", name: "add", params: "{\"a\": 2, \"b\": 40}" },
    { id: "call_2", name: "lookup_city", params: { city: "Lisbon", country: null } },
    { id: "call_3", name: "add", params: { a: "two", b: 1 } },
    { id: "call_4", name: "lookup_city", params: { city: "Atlantis", country: null } },
    { id: "call_5", name: "shell", params: { cmd: "rm -rf /" } }
  ]
  for (const call of script) {
    const result = yield* runner.handle(call)
    console.log(
      `${call.id} ${call.name} ->`,
      result._tag === "ToolSuccess" ? JSON.stringify(result.output) : `tool error ${JSON.stringify(result.error)}`
    )
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

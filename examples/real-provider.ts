/**
 * A real LLM provider, when a key is set: `OPENAI_API_KEY` (OpenAI-compatible; `OPENAI_BASE_URL` and `OPENAI_MODEL`
 * optional, so Groq/OpenRouter/vLLM work too) or `ANTHROPIC_API_KEY` (`ANTHROPIC_MODEL` optional). It asks one
 * question with `generate`, streams a second answer as it arrives, and lets the model call a tool once.
 *
 * Without a key it says it is skipping the real provider and runs the same program on the offline `scripted`
 * provider — so `node examples/real-provider.ts` is safe in CI and never touches the network there.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Redacted, Stream } from "effect"
import type { LlmProviderShape, LlmRequest } from "../src/llm/index.ts"
import { AnthropicProvider, OpenAiCompatibleProvider, ScriptedProvider } from "../src/llm/index.ts"

const openAiKey = process.env["OPENAI_API_KEY"]
const anthropicKey = process.env["ANTHROPIC_API_KEY"]

const tools: LlmRequest["tools"] = [{
  name: "get_weather",
  description: "The current temperature in a city, in °C",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}]

const choose = Effect.gen(function*() {
  if (openAiKey !== undefined && openAiKey !== "") {
    const baseUrl = process.env["OPENAI_BASE_URL"]
    const provider = yield* OpenAiCompatibleProvider.make({
      apiKey: Redacted.make(openAiKey),
      ...(baseUrl !== undefined ? { baseUrl } : {}),
      timeout: "60 seconds"
    })
    return { provider, model: process.env["OPENAI_MODEL"] ?? "gpt-4o-mini" }
  }
  if (anthropicKey !== undefined && anthropicKey !== "") {
    const provider = yield* AnthropicProvider.make({ apiKey: Redacted.make(anthropicKey), timeout: "60 seconds" })
    return { provider, model: process.env["ANTHROPIC_MODEL"] ?? "claude-3-5-haiku-latest" }
  }
  yield* Console.log(
    "No OPENAI_API_KEY or ANTHROPIC_API_KEY set: skipping the real provider, running the scripted one."
  )
  const provider = ScriptedProvider.makeUnsafe({
    rules: [
      { when: { lastUser: "weather" }, reply: { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] } },
      {
        when: { tool: "get_weather" },
        reply: (req) => ({ text: `It is ${JSON.parse(req.messages.at(-1)?.content ?? "{}").tempC} °C in Oslo.` })
      },
      {
        when: "always",
        reply: { text: "Actors crash, supervisors restart them; the system heals itself and keeps serving." }
      }
    ],
    latency: "150 millis",
    chunkLatency: "30 millis",
    chunkSize: 6
  })
  return { provider, model: "scripted-1" }
})

const run = (provider: LlmProviderShape, model: string) =>
  Effect.gen(function*() {
    yield* Console.log(`provider: ${provider.name} (${provider.api}), model: ${model}`)

    const answer = yield* provider.generate({
      model,
      messages: [{ role: "user", content: "In one sentence: what does an OTP supervisor do?" }],
      params: { maxTokens: 100, temperature: 0 }
    })
    yield* Console.log(`generate -> ${answer.text}`)
    yield* Console.log(
      `  usage: ${answer.usage.inputTokens} in + ${answer.usage.outputTokens} out, finish: ${answer.finishReason}`
    )

    process.stdout.write("stream   -> ")
    yield* provider.stream({
      model,
      messages: [{ role: "user", content: "In two short sentences: why do actor systems let processes crash?" }],
      params: { maxTokens: 120 }
    }).pipe(Stream.runForEach((part) =>
      Effect.sync(() => {
        if (part._tag === "TextDelta") process.stdout.write(part.delta)
        if (part._tag === "Finish") process.stdout.write(`\n  usage: ${part.usage.totalTokens} tokens\n`)
      })
    ))

    const question: LlmRequest = {
      model,
      messages: [{ role: "user", content: "What's the weather in Oslo? Use the tool." }],
      tools
    }
    const first = yield* provider.generate(question)
    const call = first.toolCalls[0]
    if (call === undefined) {
      yield* Console.log(`tools    -> the model answered without the tool: ${first.text}`)
      return
    }
    yield* Console.log(`tools    -> model called ${call.name}(${JSON.stringify(call.arguments)})`)
    const final = yield* provider.generate({
      ...question,
      messages: [
        ...question.messages,
        { role: "assistant", content: first.text, toolCalls: first.toolCalls },
        { role: "tool", toolCallId: call.id, name: call.name, content: JSON.stringify({ tempC: -3 }) }
      ]
    })
    yield* Console.log(`tools    -> ${final.text}`)
  })

const program = Effect.gen(function*() {
  const { provider, model } = yield* choose
  yield* run(provider, model)
}).pipe(
  Effect.catch((e) => Console.error(`failed: ${e.message}`)),
  Effect.provide(NodeHttpClient.layerUndici)
)

await Effect.runPromise(program)

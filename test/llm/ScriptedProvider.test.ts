/** The scripted provider: rules, tool-call turns, deterministic ids, usage estimate, latency on TestClock, errors. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { LlmRequest } from "../../src/llm/index.ts"
import { ProviderOverloaded, ScriptedProvider, StreamAccumulator } from "../../src/llm/index.ts"

const ask = (text: string): LlmRequest => ({ model: "scripted-1", messages: [{ role: "user", content: text }] })

const weather = ScriptedProvider.makeUnsafe({
  rules: [
    {
      when: { lastUser: /weather in (\w+)/i },
      reply: (req) => {
        const city = /weather in (\w+)/i.exec(req.messages.at(-1)?.content ?? "")?.[1] ?? "?"
        return { text: "Let me check.", toolCalls: [{ name: "get_weather", arguments: { city } }] }
      }
    },
    { when: { tool: "get_weather" }, reply: (req) => ({ text: `Result: ${req.messages.at(-1)?.content}` }) },
    {
      when: { lastUser: "outage" },
      reply: {
        error: new ProviderOverloaded({ provider: "scripted", description: "scripted outage", retryable: true })
      }
    }
  ]
})

describe("ScriptedProvider", () => {
  it.effect("matches the last user message and makes deterministic tool calls", () =>
    Effect.gen(function*() {
      const r = yield* weather.generate(ask("What's the weather in Oslo?"))
      assert.strictEqual(r.text, "Let me check.")
      assert.deepStrictEqual(r.toolCalls, [{ id: "call_0_0", name: "get_weather", arguments: { city: "Oslo" } }])
      assert.strictEqual(r.finishReason, "tool-calls")
      assert.strictEqual(r.provider, "scripted")
      const again = yield* weather.generate(ask("What's the weather in Oslo?"))
      assert.deepStrictEqual(again, r)
    }))

  it.effect("answers tool results with the tool rule (second turn)", () =>
    Effect.gen(function*() {
      const request: LlmRequest = {
        model: "scripted-1",
        messages: [
          { role: "user", content: "weather in Oslo" },
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "call_0_0", name: "get_weather", arguments: { city: "Oslo" } }]
          },
          { role: "tool", toolCallId: "call_0_0", content: "{\"tempC\":-3}" }
        ]
      }
      const r = yield* weather.generate(request)
      assert.strictEqual(r.text, "Result: {\"tempC\":-3}")
      assert.strictEqual(r.finishReason, "stop")
      assert.deepStrictEqual(r.toolCalls, [])
    }))

  it.effect("falls back to an echo, with usage estimated at ~4 chars per token", () =>
    Effect.gen(function*() {
      const r = yield* weather.generate(ask("hello there"))
      assert.strictEqual(r.text, "I am a scripted model. You said: \"hello there\"")
      assert.strictEqual(r.usage.inputTokens, Math.ceil("hello there".length / 4) + 3)
      assert.strictEqual(r.usage.outputTokens, Math.ceil(r.text.length / 4))
      assert.strictEqual(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens)
    }))

  it.effect("a rule can script a provider failure", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(weather.generate(ask("simulate an outage")))
      assert.strictEqual(e._tag, "ProviderOverloaded")
      const s = yield* Effect.flip(Stream.runCollect(weather.stream(ask("simulate an outage"))))
      assert.strictEqual(s._tag, "ProviderOverloaded")
    }))

  it.effect("latency runs on the Clock: nothing before TestClock reaches it", () =>
    Effect.gen(function*() {
      const slow = ScriptedProvider.makeUnsafe({ latency: "2 seconds" })
      const fiber = yield* Effect.forkChild(slow.generate(ask("hi")), { startImmediately: true })
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const r = yield* Fiber.join(fiber)
      assert.include(r.text, "hi")
    }))

  it.effect("streams chunks with chunk latency, ending in Finish; the parts fold back to the answer", () =>
    Effect.gen(function*() {
      const p = ScriptedProvider.makeUnsafe({ latency: "100 millis", chunkLatency: "10 millis", chunkSize: 8 })
      const fiber = yield* Effect.forkChild(Stream.runCollect(p.stream(ask("stream me"))), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      const parts = yield* Fiber.join(fiber)
      const acc = new StreamAccumulator()
      parts.forEach((x) => acc.add(x))
      const direct = yield* p.generate(ask("stream me")).pipe(
        Effect.forkChild,
        Effect.tap(() => TestClock.adjust("100 millis")),
        Effect.flatMap(Fiber.join)
      )
      assert.deepStrictEqual(acc.response(), direct)
      assert.isAbove(parts.filter((x) => x._tag === "TextDelta").length, 3)
      assert.strictEqual(parts.at(-1)?._tag, "Finish")
    }))

  it.effect("streamed tool calls: start, delta, complete call", () =>
    Effect.gen(function*() {
      const parts = yield* Stream.runCollect(weather.stream(ask("weather in Bergen")))
      const tags = parts.map((x) => x._tag).filter((t) => t !== "TextDelta")
      assert.deepStrictEqual(tags, ["ToolCallStart", "ToolCallDelta", "ToolCall", "Finish"])
    }))

  it.effect("options are validated: a bad matcher is InvalidProviderOptions naming the field", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        ScriptedProvider.make({ rules: [{ when: { lastUser: 42 } as never, reply: { text: "x" } }] })
      )
      assert.strictEqual(e._tag, "InvalidProviderOptions")
      assert.match(e.path, /^rules\[0\]\.when/)
    }))
})

/** effect/ai's LanguageModel over troupe providers: tool loop with a Toolkit, streaming, structured output, errors. */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { Chat, LanguageModel, Tool, Toolkit } from "effect/ai"
import type { Response } from "effect/ai"
import type { LlmRequest, LlmStreamPart } from "../../src/llm/index.ts"
import {
  layerLanguageModel,
  LlmProvider,
  makeLanguageModel,
  OpenAiCompatibleProvider,
  ProviderRateLimited,
  ScriptedProvider
} from "../../src/llm/index.ts"
import { makeStreamPartMapper } from "../../src/llm/LanguageModelBridge.ts"
import { usageFrom } from "../../src/llm/LlmResponse.ts"
import { FakeProviderServer } from "./support/FakeProviderServer.ts"

const GetWeather = Tool.make("GetWeather", {
  description: "Current weather for a city",
  failureMode: "return",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ tempC: Schema.Number })
})
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ GetWeather: ({ city }) => Effect.succeed({ tempC: city === "Oslo" ? -3 : 20 }) })

const seen: Array<LlmRequest> = []
const Scripted = LlmProvider.fromShape(ScriptedProvider.makeUnsafe({
  rules: [
    {
      when: { lastUser: "json please" },
      reply: (req) => ({ text: req.responseFormat?.type === "json" ? "{\"steps\":[\"a\",\"b\"]}" : "no format" })
    },
    {
      when: { lastUser: "rate limit" },
      reply: {
        error: new ProviderRateLimited({
          provider: "scripted",
          description: "429",
          retryable: true,
          retryAfterMillis: 1500
        })
      }
    },
    {
      when: { lastUser: "Oslo" },
      reply: (req) => {
        seen.push(req)
        return { toolCalls: [{ name: "GetWeather", arguments: { city: "Oslo" } }] }
      }
    },
    { when: { tool: "GetWeather" }, reply: (req) => ({ text: `Oslo: ${req.messages.at(-1)?.content}` }) }
  ]
}))
const Model = layerLanguageModel({ model: "scripted-1", params: { temperature: 0 } }).pipe(Layer.provide(Scripted))

describe("LanguageModel bridge", () => {
  it.effect("a Chat tool loop runs the toolkit and feeds results back", () =>
    Effect.gen(function*() {
      const chat = yield* Chat.fromPrompt([{ role: "system", content: "Weather bot." }, {
        role: "user",
        content: "Oslo?"
      }])
      const toolkit = yield* Tools
      const first = yield* chat.generateText({ prompt: [], toolkit })
      assert.strictEqual(first.toolCalls.length, 1)
      assert.deepStrictEqual(first.toolResults.map((r) => r.result), [{ tempC: -3 }])
      const second = yield* chat.generateText({ prompt: [], toolkit })
      assert.strictEqual(second.text, "Oslo: {\"tempC\":-3}")
      assert.strictEqual(second.finishReason, "stop")
      const req = seen.at(-1)
      assert.strictEqual(req?.tools?.[0]?.name, "GetWeather")
      assert.strictEqual(req?.tools?.[0]?.description, "Current weather for a city")
      assert.deepStrictEqual((req?.tools?.[0]?.parameters as { properties?: unknown }).properties, {
        city: { type: "string" }
      })
      assert.deepStrictEqual(req?.params, { temperature: 0 })
    }).pipe(Effect.provide([Model, ToolsLive])))

  it.effect("streamText yields text deltas and a finish part with usage", () =>
    Effect.gen(function*() {
      const parts = yield* LanguageModel.streamText({ prompt: "say something long enough to be chunked" }).pipe(
        Stream.runCollect
      )
      const text = parts.filter((p): p is Response.TextDeltaPart => p.type === "text-delta").map((p) => p.delta).join(
        ""
      )
      assert.include(text, "say something long enough")
      const finish = parts.find((p): p is Response.FinishPart => p.type === "finish")
      assert.isAbove(finish?.usage.outputTokens.total ?? 0, 0)
      assert.deepStrictEqual(parts.map((p) => p.type).filter((t) => t !== "text-delta"), [
        "text-start",
        "text-end",
        "finish"
      ])
    }).pipe(Effect.provide(Model)))

  it.effect("generateObject sends a JSON response format and decodes the answer", () =>
    Effect.gen(function*() {
      const res = yield* LanguageModel.generateObject({
        prompt: "json please",
        schema: Schema.Struct({ steps: Schema.Array(Schema.String) }),
        objectName: "plan"
      })
      assert.deepStrictEqual(res.value, { steps: ["a", "b"] })
    }).pipe(Effect.provide(Model)))

  it.effect("a ProviderError becomes an AiError keeping retryAfter", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(LanguageModel.generateText({ prompt: "rate limit" }))
      assert.strictEqual(e.reason._tag, "RateLimitError")
      assert.isTrue(e.isRetryable)
      assert.strictEqual(Duration.toMillis(e.retryAfter ?? Duration.zero), 1500)
    }).pipe(Effect.provide(Model)))

  it("every tool-params part and the tool-call of one call carry one id, also when the provider's id arrives late", () => {
    const map = makeStreamPartMapper()
    const parts: ReadonlyArray<LlmStreamPart> = [
      { _tag: "ToolCallStart", index: 0, id: "call_0", name: "GetWeather" },
      { _tag: "ToolCallStart", index: 1, id: "call_b", name: "GetWeather" },
      { _tag: "ToolCallDelta", index: 0, id: "call_late", argumentsDelta: "{\"city\":" },
      { _tag: "ToolCallDelta", index: 1, id: "call_b", argumentsDelta: "{}" },
      { _tag: "ToolCallDelta", index: 0, id: "call_late", argumentsDelta: "\"Oslo\"}" },
      { _tag: "ToolCall", index: 0, toolCall: { id: "call_late", name: "GetWeather", arguments: { city: "Oslo" } } },
      { _tag: "ToolCall", index: 1, toolCall: { id: "call_b", name: "GetWeather", arguments: {} } },
      {
        _tag: "Finish",
        provider: "p",
        model: "m",
        finishReason: "tool-calls",
        usage: usageFrom({ inputTokens: 1, outputTokens: 1 })
      }
    ]
    const out = parts.flatMap(map).flatMap((p) => ("id" in p && p.type.startsWith("tool") ? [`${p.type}:${p.id}`] : []))
    assert.deepStrictEqual(out, [
      "tool-params-start:call_0",
      "tool-params-start:call_b",
      "tool-params-delta:call_0",
      "tool-params-delta:call_b",
      "tool-params-delta:call_0",
      "tool-params-end:call_0",
      "tool-call:call_0",
      "tool-params-end:call_b",
      "tool-call:call_b"
    ])
  })

  it.live("streamText over the OpenAI wire: a tool call whose id arrives after its first delta is one call with one id", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => FakeProviderServer.start()),
        (s) => Effect.promise(() => s.close())
      )
      const chunk = (delta: unknown, finish: string | null = null) =>
        JSON.stringify({ id: "c1", model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })
      const body = [
        chunk({ role: "assistant", content: "" }),
        chunk({ tool_calls: [{ index: 0, type: "function", function: { name: "GetWeather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, id: "call_late", function: { arguments: "{\"city\":" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: "\"Oslo\"}" } }] }),
        chunk({}, "tool_calls"),
        "[DONE]"
      ].map((d) => `data: ${d}\n\n`).join("")
      server.enqueue({ kind: "raw", headers: { "content-type": "text/event-stream" }, body })
      const provider = yield* OpenAiCompatibleProvider.make({
        baseUrl: server.baseUrl,
        apiKey: Redacted.make("sk-x"),
        timeout: 5000
      })
      const model = yield* makeLanguageModel(provider, { model: "m" })
      const parts = yield* Stream.runCollect(model.streamText({ prompt: "weather?", toolkit: yield* Tools }))
      const ids = parts.flatMap((p) =>
        p.type === "tool-params-start" || p.type === "tool-params-delta" || p.type === "tool-params-end" ||
          p.type === "tool-call" || p.type === "tool-result"
          ? [p.id]
          : []
      )
      assert.isAbove(ids.length, 4)
      assert.strictEqual(new Set(ids).size, 1, ids.join(", "))
      const result = parts.find((p) => p.type === "tool-result")
      assert.deepStrictEqual(result?.type === "tool-result" ? result.result : undefined, { tempC: -3 })
    }).pipe(Effect.scoped, Effect.provide([ToolsLive, NodeHttpClient.layerUndici])))
})

/** Request decoding (typed errors naming the path), Retry-After parsing, secret scrubbing, token estimates. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  decodeLlmRequest,
  estimateRequestTokens,
  estimateTokens,
  LlmMessage,
  parseRetryAfterMillis,
  scrubSecrets,
  StreamAccumulator
} from "../../src/llm/index.ts"

describe("decodeLlmRequest", () => {
  it.effect("accepts a full request and round-trips messages through the Schema (JSON)", () =>
    Effect.gen(function*() {
      const input = {
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "s" },
          { role: "user", content: "u" },
          { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "f", arguments: { a: 1 } }] },
          { role: "tool", toolCallId: "c1", content: "{}", isError: false }
        ],
        tools: [{ name: "f", parameters: { type: "object" } }],
        toolChoice: { tool: "f" },
        params: { temperature: 0, maxTokens: 10, topP: 1, stop: ["\n"] },
        responseFormat: { type: "json", name: "out", schema: { type: "object" } }
      }
      const request = yield* decodeLlmRequest(input)
      assert.deepStrictEqual(request as unknown, input)
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Schema.Array(LlmMessage))(request.messages)))
      assert.deepStrictEqual(Schema.decodeUnknownSync(Schema.Array(LlmMessage))(json), request.messages)
    }))

  it.effect("a bad field fails with InvalidLlmRequest naming its path; every issue is listed", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(decodeLlmRequest({
        model: "m",
        messages: [{ role: "user", content: "hi" }, {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "c", name: "", arguments: {} }]
        }],
        params: { temperature: 5 }
      }))
      assert.strictEqual(e._tag, "InvalidLlmRequest")
      const issues = e.detail.split("; ")
      assert.isTrue(issues.length >= 2, e.detail)
      assert.isTrue(issues.some((i) => i.startsWith("params.temperature")), e.detail)
      assert.isTrue(issues.some((i) => i.startsWith("messages[1]")), e.detail)
    }))

  it.effect("empty messages and a bad tool name are rejected", () =>
    Effect.gen(function*() {
      const a = yield* Effect.flip(decodeLlmRequest({ model: "m", messages: [] }))
      assert.match(a.path, /^messages/)
      const b = yield* Effect.flip(decodeLlmRequest({
        model: "m",
        messages: [{ role: "user", content: "x" }],
        tools: [{ name: "has space", parameters: {} }]
      }))
      assert.strictEqual(b.path, "tools[0].name")
    }))
})

describe("parseRetryAfterMillis", () => {
  const now = Date.parse("2025-01-01T00:00:00Z")
  it("reads seconds, retry-after-ms (which wins), HTTP-dates, and ignores garbage", () => {
    assert.strictEqual(parseRetryAfterMillis({ "retry-after": "3" }, now), 3000)
    assert.strictEqual(parseRetryAfterMillis({ "Retry-After": "0.5" }, now), 500)
    assert.strictEqual(parseRetryAfterMillis({ "retry-after-ms": "250", "retry-after": "3" }, now), 250)
    assert.strictEqual(parseRetryAfterMillis({ "retry-after": "Wed, 01 Jan 2025 00:00:07 GMT" }, now), 7000)
    assert.strictEqual(parseRetryAfterMillis({ "retry-after": "Tue, 31 Dec 2024 00:00:00 GMT" }, now), 0)
    assert.strictEqual(parseRetryAfterMillis({ "retry-after": "soon" }, now), undefined)
    assert.strictEqual(parseRetryAfterMillis({ "retry-after": "-1" }, now), undefined)
    assert.strictEqual(parseRetryAfterMillis({}, now), undefined)
  })
})

describe("scrubSecrets", () => {
  it("removes given secrets and key-shaped tokens, and truncates", () => {
    assert.strictEqual(scrubSecrets("key abc-secret-1 used", ["abc-secret-1"]), "key <redacted> used")
    assert.strictEqual(scrubSecrets("bad key sk-proj-ABCDEF123456", []), "bad key <redacted>")
    assert.strictEqual(scrubSecrets("x".repeat(600), []).length, 501)
  })
})

describe("token estimates and StreamAccumulator", () => {
  it("estimates ~4 chars per token", () => {
    assert.strictEqual(estimateTokens(""), 0)
    assert.strictEqual(estimateTokens("abcde"), 2)
    assert.strictEqual(estimateRequestTokens({ model: "m", messages: [{ role: "user", content: "abcdefgh" }] }), 2 + 3)
  })
  it("returns undefined until Finish arrives, then orders tool calls by index", () => {
    const acc = new StreamAccumulator()
    acc.add({ _tag: "TextDelta", delta: "a" })
    assert.isUndefined(acc.response())
    acc.add({ _tag: "ToolCall", index: 1, toolCall: { id: "b", name: "f", arguments: {} } })
    acc.add({ _tag: "ToolCall", index: 0, toolCall: { id: "a", name: "f", arguments: {} } })
    acc.add({
      _tag: "Finish",
      provider: "p",
      model: "m",
      finishReason: "tool-calls",
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
    })
    assert.deepStrictEqual(acc.response()?.toolCalls.map((c) => c.id), ["a", "b"])
    assert.strictEqual(acc.response()?.text, "a")
  })
})

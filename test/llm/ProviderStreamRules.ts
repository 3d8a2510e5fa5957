/**
 * The third part of the provider conformance suite, run against every HTTP provider and the fake server: what a
 * provider reads from hostile or unusual answers — an error event classified as the same error over HTTP, usage the
 * provider did not send (estimated and marked), a body trickling bytes after its terminal event (read for at most
 * the grace in all), tool-call indexes that are not indexes, and long texts without spaces (scrubbed in linear time).
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Stream } from "effect"
import { afterAll, beforeAll, beforeEach } from "vitest"
import type { HttpProviderOptions, InvalidProviderOptions, LlmProviderShape, LlmRequest } from "../../src/llm/index.ts"
import { StreamAccumulator } from "../../src/llm/index.ts"
import type { ConformanceTarget } from "./ProviderConformance.ts"
import type { FakeReply } from "./support/FakeProviderServer.ts"
import { FakeProviderServer } from "./support/FakeProviderServer.ts"

const KEY = "sk-test-0123456789abcdef"

const request: LlmRequest = { model: "test-model", messages: [{ role: "user", content: "Weather in Oslo?" }] }

const SSE_HEADERS = { "content-type": "text/event-stream" }

/** One in-stream error per row: what the provider sends, and the class and retryability it is read as. */
interface StreamErrorRow {
  readonly errorType?: string
  readonly code?: string | number
  readonly tag: string
  readonly retryable: boolean
}

const anthropicErrors: ReadonlyArray<StreamErrorRow> = [
  { errorType: "billing_error", tag: "QuotaExhausted", retryable: false },
  { errorType: "not_found_error", tag: "ProviderRejectedRequest", retryable: false },
  { errorType: "request_too_large", tag: "ProviderRejectedRequest", retryable: false },
  { errorType: "authentication_error", tag: "AuthenticationFailed", retryable: false },
  { errorType: "permission_error", tag: "AuthenticationFailed", retryable: false },
  { errorType: "invalid_request_error", tag: "ProviderRejectedRequest", retryable: false },
  { errorType: "rate_limit_error", tag: "ProviderRateLimited", retryable: true },
  { errorType: "api_error", tag: "ProviderServerError", retryable: true },
  { errorType: "overloaded_error", tag: "ProviderOverloaded", retryable: true }
]

const openAiErrors: ReadonlyArray<StreamErrorRow> = [
  { errorType: "insufficient_quota", code: "insufficient_quota", tag: "QuotaExhausted", retryable: false },
  { errorType: "invalid_request_error", code: "invalid_api_key", tag: "AuthenticationFailed", retryable: false },
  { errorType: "invalid_request_error", code: "model_not_found", tag: "ProviderRejectedRequest", retryable: false },
  {
    errorType: "invalid_request_error",
    code: "context_length_exceeded",
    tag: "ContextLengthExceeded",
    retryable: false
  },
  { errorType: "requests", code: "rate_limit_exceeded", tag: "ProviderRateLimited", retryable: true },
  { errorType: "server_error", tag: "ProviderServerError", retryable: true },
  // OpenRouter and vLLM send the HTTP status as a number in `code`
  { code: 402, tag: "QuotaExhausted", retryable: false },
  { code: 400, tag: "ProviderRejectedRequest", retryable: false },
  { code: 502, tag: "ProviderServerError", retryable: true }
]

export const providerStreamRules = (target: ConformanceTarget): void => {
  describe(`${target.label}: hostile and unusual answers`, () => {
    let server: FakeProviderServer
    beforeAll(async () => {
      server = await FakeProviderServer.start()
    })
    afterAll(() => server.close())
    beforeEach(() => server.reset())

    const withProvider = <A, E>(
      f: (p: LlmProviderShape) => Effect.Effect<A, E>,
      options: Partial<HttpProviderOptions> = {}
    ): Effect.Effect<A, E | InvalidProviderOptions> =>
      target.make({ baseUrl: server.baseUrl, apiKey: Redacted.make(KEY), timeout: 2000, ...options }).pipe(
        Effect.flatMap(f),
        Effect.provide(NodeHttpClient.layerUndici)
      )
    const streamed = (p: LlmProviderShape) => Stream.runCollect(p.stream(request))

    it.live("an error event in a stream is classified as the same error over HTTP (quota, billing, auth, permission, not found, too large, invalid request)", () =>
      Effect.gen(function*() {
        const rows = target.wire === "anthropic" ? anthropicErrors : openAiErrors
        for (const row of rows) {
          server.enqueue({ kind: "streamError", ...row, message: `a streamed ${row.errorType ?? row.code}` })
        }
        const errors = yield* withProvider((p) =>
          Effect.forEach(rows, () => Effect.flip(Stream.runDrain(p.stream(request))))
        )
        assert.deepStrictEqual(
          errors.map((e, i) => [rows[i]?.errorType ?? rows[i]?.code, e._tag, e.retryable]),
          rows.map((r) => [r.errorType ?? r.code, r.tag, r.retryable])
        )
      }))

    it.live("a streamed answer without usage is estimated and marked estimated, never 0 real tokens", () =>
      Effect.gen(function*() {
        const text = "a fairly long answer of about forty chars"
        server.enqueue({ kind: "answer", text, omitUsage: true }, { kind: "answer", text, omitUsage: true })
        const parts = yield* withProvider(streamed)
        const acc = new StreamAccumulator()
        parts.forEach((x) => acc.add(x))
        const plain = yield* withProvider((p) => p.generate(request))
        for (const usage of [acc.response()?.usage, plain.usage]) {
          assert.strictEqual(usage?.estimated, true, JSON.stringify(usage))
          assert.isAbove(usage?.inputTokens ?? 0, 0)
          assert.isAbove(usage?.outputTokens ?? 0, 0)
        }
      }))

    it.live("a body trickling keep-alives after its terminal event ends the stream within the grace, counted once, not per read", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "answer", text: "held", endAfter: Number.POSITIVE_INFINITY, keepAliveEvery: 40 })
        const started = Date.now()
        const parts = yield* withProvider((p) => Effect.timeoutOption(streamed(p), "3 seconds"))
        assert.isTrue(Option.isSome(parts), `the stream had not ended after ${Date.now() - started} ms`)
        assert.isBelow(Date.now() - started, 1_500)
        const got = Option.getOrThrow(parts)
        assert.strictEqual(got.map((p) => p._tag === "TextDelta" ? p.delta : "").join(""), "held")
        assert.strictEqual(got.at(-1)?._tag, "Finish")
        assert.isAbove(server.keepAlivesSent, 0)
      }))

    it.live("a 64 KB error body or stream chunk without spaces fails typed at once (scrubbing is linear)", () =>
      Effect.gen(function*() {
        const blob = "0123456789abcdef".repeat(4096)
        const event = target.wire === "anthropic" ? `event: message_start\ndata: ${blob}\n\n` : `data: ${blob}\n\n`
        server.enqueue(
          { kind: "raw", status: 500, headers: { "content-type": "text/plain" }, body: blob },
          { kind: "raw", headers: SSE_HEADERS, body: event },
          { kind: "raw", status: 400, headers: { "content-type": "text/plain" }, body: "m".repeat(65_536) }
        )
        const started = Date.now()
        const errors = yield* withProvider((p) =>
          Effect.all([
            Effect.flip(p.generate(request)),
            Effect.flip(Stream.runDrain(p.stream(request))),
            Effect.flip(p.generate(request))
          ])
        )
        const ms = Date.now() - started
        assert.deepStrictEqual(errors.map((e) => e._tag), [
          "ProviderServerError",
          "MalformedResponse",
          "ProviderRejectedRequest"
        ])
        assert.isBelow(ms, 750, `three 64 KB texts took ${ms} ms to scrub`)
      }))

    if (target.wire === "openai") {
      it.live("a stream whose chunks repeat a 32 KB model name is read at once", () =>
        Effect.gen(function*() {
          const model = "m".repeat(32_768)
          const chunk = (content: string, finish: string | null = null) => ({
            id: "c",
            model,
            choices: [{ index: 0, delta: { content }, finish_reason: finish }]
          })
          const chunks = [...Array.from({ length: 40 }, () => chunk("a")), chunk("b", "stop")]
          const body = [...chunks.map((c) => JSON.stringify(c)), "[DONE]"].map((d) => `data: ${d}\n\n`).join("")
          server.enqueue({ kind: "raw", headers: SSE_HEADERS, body })
          const started = Date.now()
          const parts = yield* withProvider(streamed)
          const ms = Date.now() - started
          assert.strictEqual(parts.at(-1)?._tag, "Finish")
          assert.isBelow(ms, 750, `41 chunks took ${ms} ms`)
        }))

      it.live("a tool call index that is negative, fractional or not a safe integer is a MalformedResponse, never a part", () =>
        Effect.gen(function*() {
          const replies: Array<FakeReply> = [-1, 0.5, 2 ** 60].map((index) => ({
            kind: "raw",
            headers: SSE_HEADERS,
            body: [
              { id: "c", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
              {
                id: "c",
                choices: [{
                  index: 0,
                  delta: { tool_calls: [{ index, id: "call_x", function: { name: "f", arguments: "{}" } }] },
                  finish_reason: "tool_calls"
                }]
              },
              "[DONE]"
            ].map((d) => `data: ${typeof d === "string" ? d : JSON.stringify(d)}\n\n`).join("")
          }))
          server.enqueue(...replies)
          const errors = yield* withProvider((p) =>
            Effect.forEach(replies, () => Effect.flip(Stream.runDrain(p.stream(request))))
          )
          assert.deepStrictEqual(errors.map((e) => [e._tag, e.retryable]), [
            ["MalformedResponse", false],
            ["MalformedResponse", false],
            ["MalformedResponse", false]
          ])
          assert.include(errors[0]?.message ?? "", "index")
        }))
    }
  })
}

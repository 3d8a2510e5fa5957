/**
 * The conformance suite every HTTP provider passes against the loopback `FakeProviderServer`: answers (plain and
 * streamed), tool calls (plain and streamed argument deltas), usage, every error mapping (429 + Retry-After in its
 * three forms, 401, 400 context length / content policy, 500, 503, 529 / overloaded), timeouts (hang, stalled
 * stream), cut streams, malformed JSON, in-stream error events, per-call key override, and cancellation: an
 * interrupted call closes the HTTP connection (the server records the abort).
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Stream } from "effect"
import type { HttpClient } from "effect/http"
import { afterAll, beforeAll, beforeEach } from "vitest"
import type {
  HttpProviderOptions,
  InvalidProviderOptions,
  LlmProviderShape,
  LlmRequest,
  LlmStreamPart
} from "../../src/llm/index.ts"
import { StreamAccumulator } from "../../src/llm/index.ts"
import { FakeProviderServer } from "./support/FakeProviderServer.ts"

export interface ConformanceTarget {
  readonly label: string
  readonly wire: "openai" | "anthropic"
  readonly make: (
    options: HttpProviderOptions
  ) => Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient>
}

const KEY = "sk-test-0123456789abcdef"

const request: LlmRequest = {
  model: "test-model",
  messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Weather in Oslo?" }],
  params: { temperature: 0.5, maxTokens: 100 }
}

const toolRequest: LlmRequest = {
  ...request,
  tools: [{
    name: "get_weather",
    description: "Weather by city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }],
  toolChoice: "auto"
}

const collect = <E>(stream: Stream.Stream<LlmStreamPart, E>) => Stream.runCollect(stream)

export const providerConformance = (target: ConformanceTarget): void => {
  describe(`${target.label} against the fake provider server`, () => {
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

    const headerOf = (name: string): unknown => server.requests[0]?.headers[name]
    const bodyOf = (): Record<string, unknown> => server.requests[0]?.body as Record<string, unknown>

    it.live("generate: text, usage, finish reason, and the wire request", () =>
      withProvider((p) => p.generate(request)).pipe(Effect.map((r) => {
        assert.strictEqual(r.text, "ok")
        assert.strictEqual(r.finishReason, "stop")
        assert.deepStrictEqual(r.usage, { inputTokens: 11, outputTokens: 7, totalTokens: 18 })
        assert.strictEqual(r.model, "test-model")
        assert.strictEqual(r.provider, target.wire)
        const body = bodyOf()
        assert.strictEqual(body["model"], "test-model")
        if (target.wire === "openai") {
          assert.strictEqual(server.requests[0]?.path, "/v1/chat/completions")
          assert.strictEqual(headerOf("authorization"), `Bearer ${KEY}`)
          assert.strictEqual(body["temperature"], 0.5)
          assert.strictEqual(body["max_tokens"], 100)
          assert.deepStrictEqual(body["messages"], [
            { role: "system", content: "Be terse." },
            { role: "user", content: "Weather in Oslo?" }
          ])
        } else {
          assert.strictEqual(server.requests[0]?.path, "/v1/messages")
          assert.strictEqual(headerOf("x-api-key"), KEY)
          assert.strictEqual(headerOf("anthropic-version"), "2023-06-01")
          assert.strictEqual(body["system"], "Be terse.")
          assert.strictEqual(body["max_tokens"], 100)
          assert.deepStrictEqual(body["messages"], [{
            role: "user",
            content: [{ type: "text", text: "Weather in Oslo?" }]
          }])
        }
      })))

    it.live("stream: text deltas then one Finish with usage", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "answer", text: "Cold and clear in Oslo.", usage: { input: 20, output: 6 } })
        const parts = yield* withProvider((p) => collect(p.stream(request)))
        const deltas = parts.filter((x) => x._tag === "TextDelta")
        assert.isAbove(deltas.length, 1)
        const acc = new StreamAccumulator()
        parts.forEach((x) => acc.add(x))
        const response = acc.response()
        assert.strictEqual(response?.text, "Cold and clear in Oslo.")
        assert.deepStrictEqual(response?.usage, { inputTokens: 20, outputTokens: 6, totalTokens: 26 })
        assert.strictEqual(parts.at(-1)?._tag, "Finish")
        assert.strictEqual(parts.filter((x) => x._tag === "Finish").length, 1)
        assert.strictEqual(bodyOf()["stream"], true)
        if (target.wire === "openai") assert.deepStrictEqual(bodyOf()["stream_options"], { include_usage: true })
      }))

    it.live("generate: tool calls with parsed arguments, and the tools on the wire", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "answer", toolCalls: [{ id: "c1", name: "get_weather", arguments: { city: "Oslo" } }] })
        const r = yield* withProvider((p) => p.generate(toolRequest))
        assert.deepStrictEqual(r.toolCalls, [{ id: "c1", name: "get_weather", arguments: { city: "Oslo" } }])
        assert.strictEqual(r.finishReason, "tool-calls")
        const tools = bodyOf()["tools"] as Array<Record<string, unknown>>
        assert.strictEqual(tools.length, 1)
        if (target.wire === "openai") {
          assert.deepStrictEqual(tools[0]?.["function"], {
            name: "get_weather",
            description: "Weather by city",
            parameters: toolRequest.tools?.[0]?.parameters
          })
          assert.strictEqual(bodyOf()["tool_choice"], "auto")
        } else {
          assert.deepStrictEqual(tools[0]?.["input_schema"], toolRequest.tools?.[0]?.parameters)
          assert.deepStrictEqual(bodyOf()["tool_choice"], { type: "auto" })
        }
      }))

    it.live("stream: tool-call start, argument deltas, complete call, Finish(tool-calls)", () =>
      Effect.gen(function*() {
        server.enqueue({
          kind: "answer",
          text: "Checking.",
          toolCalls: [
            { id: "c1", name: "get_weather", arguments: { city: "Oslo" } },
            { id: "c2", name: "get_weather", arguments: { city: "Bergen" } }
          ]
        })
        const parts = yield* withProvider((p) => collect(p.stream(toolRequest)))
        const starts = parts.filter((x) => x._tag === "ToolCallStart")
        assert.deepStrictEqual(starts.map((s) => [s.index, s.id, s.name]), [[0, "c1", "get_weather"], [
          1,
          "c2",
          "get_weather"
        ]])
        const deltas = parts.filter((x) => x._tag === "ToolCallDelta" && x.index === 0)
        assert.isAbove(deltas.length, 1)
        assert.strictEqual(
          deltas.map((d) => d._tag === "ToolCallDelta" ? d.argumentsDelta : "").join(""),
          "{\"city\":\"Oslo\"}"
        )
        const calls = parts.flatMap((x) => x._tag === "ToolCall" ? [x.toolCall] : [])
        assert.deepStrictEqual(calls, [
          { id: "c1", name: "get_weather", arguments: { city: "Oslo" } },
          { id: "c2", name: "get_weather", arguments: { city: "Bergen" } }
        ])
        const finish = parts.at(-1)
        assert.strictEqual(finish?._tag === "Finish" ? finish.finishReason : undefined, "tool-calls")
      }))

    it.live("429 with Retry-After seconds, retry-after-ms, and an HTTP-date", () =>
      Effect.gen(function*() {
        const date = new Date(Date.now() + 30_000).toUTCString()
        server.enqueue(
          { kind: "status", status: 429, headers: { "retry-after": "2" }, body: { error: { message: "slow down" } } },
          { kind: "status", status: 429, headers: { "retry-after-ms": "1500", "retry-after": "9" } },
          { kind: "status", status: 429, headers: { "retry-after": date } }
        )
        const errors = yield* withProvider((p) =>
          Effect.all([
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request))
          ])
        )
        assert.deepStrictEqual(errors.map((e) => e._tag), [
          "ProviderRateLimited",
          "ProviderRateLimited",
          "ProviderRateLimited"
        ])
        const [a, b, c] = errors
        assert.strictEqual(a?._tag === "ProviderRateLimited" ? a.retryAfterMillis : -1, 2000)
        assert.isTrue(a?.retryable)
        assert.strictEqual(a?.status, 429)
        assert.include(a?.message ?? "", "slow down")
        assert.strictEqual(b?._tag === "ProviderRateLimited" ? b.retryAfterMillis : -1, 1500)
        const fromDate = c?._tag === "ProviderRateLimited" ? c.retryAfterMillis ?? -1 : -1
        assert.isTrue(fromDate > 27_000 && fromDate <= 30_000, `date-based delay ${fromDate}`)
      }))

    it.live("an error status on a stream request fails the stream with the mapped error (429 → RateLimited)", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "status", status: 429, headers: { "retry-after": "4" } })
        const e = yield* withProvider((p) => Effect.flip(collect(p.stream(request))))
        assert.strictEqual(e._tag, "ProviderRateLimited")
        assert.strictEqual(e._tag === "ProviderRateLimited" ? e.retryAfterMillis : -1, 4000)
      }))

    it.live("OpenAI-style insufficient_quota 429 is QuotaExhausted, not retryable", () =>
      Effect.gen(function*() {
        server.enqueue({
          kind: "status",
          status: 429,
          body: { error: { message: "quota", code: "insufficient_quota" } }
        })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        assert.strictEqual(e._tag, "QuotaExhausted")
        assert.isFalse(e.retryable)
      }))

    it.live("5xx: 500 is a retryable server error, 503 and 529 are overloaded", () =>
      Effect.gen(function*() {
        server.enqueue(
          { kind: "status", status: 500, body: { error: { message: "boom" } } },
          { kind: "status", status: 503, headers: { "retry-after": "1" } },
          {
            kind: "status",
            status: 529,
            body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }
          }
        )
        const errors = yield* withProvider((p) =>
          Effect.all([
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request))
          ])
        )
        assert.deepStrictEqual(errors.map((e) => [e._tag, e.status, e.retryable]), [
          ["ProviderServerError", 500, true],
          ["ProviderOverloaded", 503, true],
          ["ProviderOverloaded", 529, true]
        ])
        const overloaded = errors[1]
        assert.strictEqual(overloaded?._tag === "ProviderOverloaded" ? overloaded.retryAfterMillis : -1, 1000)
      }))

    it.live("401 is AuthenticationFailed, not retryable, and the key never appears in the error", () =>
      Effect.gen(function*() {
        server.enqueue({
          kind: "status",
          status: 401,
          body: { error: { message: `Incorrect API key provided: ${KEY}` } }
        })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        assert.strictEqual(e._tag, "AuthenticationFailed")
        assert.isFalse(e.retryable)
        const printed = `${e.message} ${JSON.stringify(e)} ${String(e)}`
        assert.notInclude(printed, KEY)
        assert.notInclude(printed, "0123456789abcdef")
        assert.include(e.message, "<redacted>")
      }))

    it.live("400s: context length, content policy, other validation — none retryable", () =>
      Effect.gen(function*() {
        server.enqueue(
          {
            kind: "status",
            status: 400,
            body: target.wire === "openai"
              ? {
                error: {
                  message: "This model's maximum context length is 8192 tokens",
                  code: "context_length_exceeded"
                }
              }
              : {
                type: "error",
                error: { type: "invalid_request_error", message: "prompt is too long: 250000 tokens" }
              }
          },
          {
            kind: "status",
            status: 400,
            body: { error: { message: "flagged by our content policy", code: "content_policy_violation" } }
          },
          { kind: "status", status: 400, body: { error: { message: "temperature: must be <= 2" } } }
        )
        const errors = yield* withProvider((p) =>
          Effect.all([
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request)),
            Effect.flip(p.generate(request))
          ])
        )
        assert.deepStrictEqual(errors.map((e) => [e._tag, e.retryable]), [
          ["ContextLengthExceeded", false],
          ["ContentPolicyViolation", false],
          ["ProviderRejectedRequest", false]
        ])
      }))

    it.live("a hang times out (ProviderTimeout, retryable) and the request is aborted", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "hang" })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)), { timeout: 150 })
        assert.strictEqual(e._tag, "ProviderTimeout")
        assert.isTrue(e.retryable)
        yield* Effect.promise(() => server.waitForAborts(1))
      }))

    it.live("a per-call timeout overrides the provider's", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "hang" })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request, { timeout: "100 millis" })), {
          timeout: 60_000
        })
        assert.strictEqual(e._tag, "ProviderTimeout")
      }))

    it.live("a stalled stream times out between chunks", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "stall", text: "this will stall", afterEvents: 3 })
        const exit = yield* withProvider((p) => Effect.exit(collect(p.stream(request))), { timeout: 200 })
        assert.isTrue(Exit.isFailure(exit))
        const e = yield* Effect.flip(exit)
        assert.strictEqual(e._tag, "ProviderTimeout")
        yield* Effect.promise(() => server.waitForAborts(1))
      }))

    it.live("a stream cut mid-way fails with a retryable ProviderConnectionError", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "cut", text: "this stream is cut", afterEvents: 3 })
        const seen: Array<LlmStreamPart> = []
        const e = yield* withProvider((p) =>
          Effect.flip(p.stream(request).pipe(Stream.runForEach((x) => Effect.sync(() => seen.push(x)))))
        )
        assert.strictEqual(e._tag, "ProviderConnectionError")
        assert.isTrue(e.retryable)
        assert.isFalse(seen.some((x) => x._tag === "Finish"))
      }))

    it.live("a JSON answer cut mid-way fails with a retryable ProviderConnectionError", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "cut", text: "this answer is cut", afterEvents: 0 })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        assert.strictEqual(e._tag, "ProviderConnectionError")
        assert.isTrue(e.retryable)
      }))

    it.live("malformed JSON, plain and streamed, is MalformedResponse", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "malformed" }, { kind: "malformed" })
        const plain = yield* withProvider((p) => Effect.flip(p.generate(request)))
        const streamed = yield* withProvider((p) => Effect.flip(collect(p.stream(request))))
        assert.deepStrictEqual([plain._tag, streamed._tag], ["MalformedResponse", "MalformedResponse"])
        assert.isFalse(plain.retryable)
      }))

    it.live("a well-formed JSON answer of the wrong shape is MalformedResponse naming the field", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "status", status: 200, body: { unexpected: true } })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        assert.strictEqual(e._tag, "MalformedResponse")
        assert.include(e.message, target.wire === "openai" ? "choices" : "content")
      }))

    it.live("an error event inside a stream is mapped (overloaded_error → ProviderOverloaded)", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "streamError", errorType: "overloaded_error", message: "Overloaded" })
        const e = yield* withProvider((p) => Effect.flip(collect(p.stream(request))))
        assert.strictEqual(e._tag, "ProviderOverloaded")
        assert.isTrue(e.retryable)
      }))

    it.live("the per-call API key overrides the provider's", () =>
      Effect.gen(function*() {
        yield* withProvider((p) => p.generate(request, { apiKey: Redacted.make("sk-other-key-000000") }))
        if (target.wire === "openai") assert.strictEqual(headerOf("authorization"), "Bearer sk-other-key-000000")
        else assert.strictEqual(headerOf("x-api-key"), "sk-other-key-000000")
      }))

    it.live("interrupting generate closes the HTTP connection", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "hang" })
        yield* withProvider((p) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.forkChild(p.generate(request), { startImmediately: true })
            yield* Effect.promise(async () => {
              while (server.requests.length === 0) {
                await new Promise((r) => {
                  setTimeout(r, 5)
                })
              }
            })
            yield* Fiber.interrupt(fiber)
          }), { timeout: 60_000 })
        // well before any timeout could fire: the abort is the interruption's
        yield* Effect.promise(() => server.waitForAborts(1, 1000))
        assert.deepStrictEqual(server.aborted.map((c) => c.path), [server.requests[0]?.path])
      }))

    it.live("interrupting a stream consumer mid-way closes the HTTP connection", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "stall", text: "a long answer that never finishes", afterEvents: 4 })
        const first = yield* withProvider(
          (p) =>
            p.stream(request).pipe(Stream.filter((x) => x._tag === "TextDelta"), Stream.take(1), Stream.runCollect),
          { timeout: 60_000 }
        )
        assert.strictEqual(first.length, 1)
        yield* Effect.promise(() => server.waitForAborts(1, 1000))
      }))

    it.live("a bad base URL is InvalidProviderOptions naming the field", () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(withProvider((p) => p.generate(request), { baseUrl: "ftp://nope" }))
        assert.strictEqual(e._tag, "InvalidProviderOptions")
        assert.strictEqual(e._tag === "InvalidProviderOptions" ? e.path : "", "baseUrl")
      }))
  })
}

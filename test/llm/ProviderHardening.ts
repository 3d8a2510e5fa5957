/**
 * The second half of the provider conformance suite (issue 11: secrets and the wire), run against every HTTP
 * provider and the fake server: no key in any message (scrub first, then cut; key-shaped strings masked; control
 * characters and ANSI escapes stripped; no userinfo in a base URL), no redirect followed on any client (undici,
 * node:http, fetch), no trace headers unless asked, the SDKs' retry verdicts (`x-should-retry`, 409,
 * `insufficient_quota`), and request bodies the providers accept.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Redacted, Stream, Tracer } from "effect"
import type { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import type { HttpClient } from "effect/http"
import { afterAll, beforeAll, beforeEach } from "vitest"
import type {
  HttpProviderOptions,
  InvalidProviderOptions,
  LlmProviderShape,
  LlmRequest,
  ProviderError
} from "../../src/llm/index.ts"
import type { ConformanceTarget } from "./ProviderConformance.ts"
import { FakeProviderServer } from "./support/FakeProviderServer.ts"

const KEY = "sk-test-0123456789abcdef"
/** A key with no recognisable prefix: only the known-secret scrub can catch it. */
const PLAIN_KEY = "Zx9Qw7Er5Ty3Ui1OpAsDfGhJ"

const request: LlmRequest = { model: "test-model", messages: [{ role: "user", content: "Weather in Oslo?" }] }

const clients: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["node:http", NodeHttpClient.layerNodeHttp],
  ["fetch", FetchHttpClient.layer]
]

/** Every rendering of an error a log, an event or a span could carry. */
const renderings = (e: ProviderError): string =>
  [e.message, String(e), JSON.stringify(e), Cause.pretty(Cause.fail(e)), e.description].join("\n")

/** Whether `text` holds any `n`-character piece of `secret`. */
const leaksPiece = (text: string, secret: string, n = 6): boolean => {
  for (let i = 0; i + n <= secret.length; i++) if (text.includes(secret.slice(i, i + n))) return true
  return false
}

export const providerHardening = (target: ConformanceTarget): void => {
  describe(`${target.label}: secrets and the wire`, () => {
    let server: FakeProviderServer
    let elsewhere: FakeProviderServer
    beforeAll(async () => {
      server = await FakeProviderServer.start()
      elsewhere = await FakeProviderServer.start()
    })
    afterAll(async () => {
      await server.close()
      await elsewhere.close()
    })
    beforeEach(() => {
      server.reset()
      elsewhere.reset()
    })

    const withProvider = <A, E>(
      f: (p: LlmProviderShape) => Effect.Effect<A, E>,
      options: Partial<HttpProviderOptions> = {},
      client: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
    ): Effect.Effect<A, E | InvalidProviderOptions> =>
      target.make({ baseUrl: server.baseUrl, apiKey: Redacted.make(KEY), timeout: 2000, ...options }).pipe(
        Effect.flatMap(f),
        Effect.provide(client)
      )
    const bodyOf = (): Record<string, unknown> => server.requests[0]?.body as Record<string, unknown>
    const streamed = (p: LlmProviderShape, r: LlmRequest = request) => Effect.flip(Stream.runDrain(p.stream(r)))

    // ---- 1. Secrets ---------------------------------------------------------------------------------------------

    it.live("a non-JSON stream chunk echoing the request is scrubbed before it is cut (no key in any rendering)", () =>
      Effect.gen(function*() {
        const echo = `POST /v1 authorization: Bearer ${KEY} x-api-key: ${KEY} key=${PLAIN_KEY}`
        const line = target.wire === "anthropic" ? `event: message_start\ndata: ${echo}\n\n` : `data: ${echo}\n\n`
        server.enqueue({ kind: "raw", headers: { "content-type": "text/event-stream" }, body: line })
        const e = yield* withProvider((p) => streamed(p), { apiKey: Redacted.make(PLAIN_KEY) })
        assert.strictEqual(e._tag, "MalformedResponse")
        const all = renderings(e)
        assert.notInclude(all, KEY)
        assert.isFalse(leaksPiece(all, PLAIN_KEY), all)
        assert.isFalse(leaksPiece(all, "0123456789abcdef"), all)
      }))

    it.live("a non-JSON 200 body with a prefix-less key past the cut point leaks no piece of it", () =>
      Effect.gen(function*() {
        const body = `<html>${"x".repeat(104)}${PLAIN_KEY} and more proxy text</html>`
        server.enqueue({ kind: "raw", headers: { "content-type": "text/html" }, body })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)), { apiKey: Redacted.make(PLAIN_KEY) })
        assert.strictEqual(e._tag, "MalformedResponse")
        assert.isFalse(leaksPiece(renderings(e), PLAIN_KEY), renderings(e))
      }))

    it.live("key-shaped strings that are not the call's key are masked in error messages", () =>
      Effect.gen(function*() {
        const foreign = [
          "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx",
          "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt",
          "AKIAABCDEFGHIJKLMNOP",
          "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
          "xoxb-123456789012-AbCdEfGhIjKl",
          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
        ]
        server.enqueue({
          kind: "status",
          status: 400,
          body: { error: { message: `bad headers: ${foreign.join(" ")}` } }
        })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        for (const secret of foreign) assert.notInclude(renderings(e), secret)
        assert.include(e.message, "bad headers: <redacted>")
      }))

    it.live("control characters and ANSI escapes from a provider's error body are stripped", () =>
      Effect.gen(function*() {
        const message = "\u001b[31mbad\u001b[0m request\r\n2026-12-02T00:00:00Z INFO forged line\u0007\u202e"
        server.enqueue({ kind: "status", status: 400, body: { error: { message } } })
        const e = yield* withProvider((p) => Effect.flip(p.generate(request)))
        // eslint-disable-next-line no-control-regex
        assert.notMatch(e.message, /[\u0000-\u001f\u007f-\u009f\u202e]/)
        assert.include(e.message, "bad request 2026-12-02T00:00:00Z INFO forged line")
      }))

    it.live("a base URL with userinfo is rejected, naming the field and not echoing the password", () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(
          withProvider((p) => p.generate(request), { baseUrl: `http://user:${PLAIN_KEY}@127.0.0.1:1/v1` })
        )
        assert.strictEqual(e._tag, "InvalidProviderOptions")
        assert.strictEqual(e._tag === "InvalidProviderOptions" ? e.path : "", "baseUrl")
        assert.notInclude(`${e.message} ${JSON.stringify(e)}`, PLAIN_KEY)
      }))

    it.live("a key in the base URL's query string is redacted in the client span (url.full) and kept after the path", () =>
      Effect.gen(function*() {
        const spans: Array<Tracer.Span> = []
        const tracer = Tracer.make({
          span: (options) => {
            const span = new Tracer.NativeSpan(options)
            spans.push(span)
            return span
          }
        })
        server.enqueue({ kind: "status", status: 400, body: { error: { message: `no such key ${PLAIN_KEY}` } } })
        const e = yield* withProvider(
          (p) => Effect.flip(p.generate(request)),
          { baseUrl: `${server.baseUrl}?key=${PLAIN_KEY}&api-version=2024-10-21` }
        ).pipe(Effect.withTracer(tracer))
        const path = target.wire === "openai" ? "/v1/chat/completions" : "/v1/messages"
        assert.strictEqual(server.requests[0]?.path, path)
        assert.strictEqual(server.requests[0]?.url, `${path}?key=${PLAIN_KEY}&api-version=2024-10-21`)
        assert.isFalse(leaksPiece(renderings(e), PLAIN_KEY), renderings(e))
        const client = spans.find((s) => s.attributes.has("url.full"))
        assert.isDefined(client)
        assert.include(String(client?.attributes.get("url.full")), "api-version=2024-10-21")
        for (const span of spans) {
          const seen = JSON.stringify([
            span.name,
            [...span.attributes],
            span.status._tag === "Ended" ? String(span.status.exit) : ""
          ])
          assert.isFalse(leaksPiece(seen, PLAIN_KEY), seen)
        }
      }))

    for (const [label, client] of clients) {
      for (const status of [302, 307, 308]) {
        it.live(`${label}: a ${status} redirect to another origin is not followed (no key, no prompt sent there)`, () =>
          Effect.gen(function*() {
            server.enqueue({
              kind: "status",
              status,
              headers: {
                location: `${elsewhere.baseUrl}${target.wire === "openai" ? "/chat/completions" : "/messages"}`
              }
            })
            const e = yield* withProvider((p) => Effect.flip(p.generate(request)), {}, client)
            assert.strictEqual(e._tag, "ProviderRejectedRequest")
            assert.strictEqual(e.status, status)
            assert.isFalse(e.retryable)
            assert.include(e.message, "redirect")
            assert.strictEqual(elsewhere.requests.length, 0)
            assert.strictEqual(server.requests.length, 1)
          }))
      }
    }

    // ---- 5. The wire --------------------------------------------------------------------------------------------

    it.live("a streamed answer is read to its end after its terminal event: the next stream reuses the keep-alive connection", () =>
      Effect.gen(function*() {
        // each body ends 30 ms after its terminal event: a client that stops at the event aborts the response
        server.defaultReply = { kind: "answer", text: "ok", endAfter: 30 }
        const text = (p: LlmProviderShape) =>
          Stream.runFold(p.stream(request), () => "", (acc, part) => part._tag === "TextDelta" ? acc + part.delta : acc)
        const opened = server.connectionsOpened
        const texts = yield* withProvider((p) => Effect.all(Array.from({ length: 5 }, () => text(p))))
        assert.deepStrictEqual(texts, ["ok", "ok", "ok", "ok", "ok"])
        assert.deepStrictEqual(server.closes.filter((c) => !c.completed), [])
        // one client: its keep-alive connections are reused (undici may open a second while the first is released)
        assert.isAtMost(server.connectionsOpened - opened, 2)
      }))

    it.live("a body held open after its terminal event ends the stream within the grace, with the whole answer", () =>
      Effect.gen(function*() {
        server.enqueue({ kind: "answer", text: "held", endAfter: Number.POSITIVE_INFINITY })
        const started = Date.now()
        const parts = yield* withProvider((p) => Stream.runCollect(p.stream(request)))
        assert.isBelow(Date.now() - started, 1_500)
        assert.strictEqual(parts.map((p) => p._tag === "TextDelta" ? p.delta : "").join(""), "held")
        assert.strictEqual(parts.at(-1)?._tag, "Finish")
      }))

    it.live("no traceparent / b3 headers go to the provider unless propagateTrace is set", () =>
      Effect.gen(function*() {
        yield* withProvider((p) => p.generate(request)).pipe(Effect.withSpan("caller"))
        yield* withProvider((p) => p.generate(request), { propagateTrace: true }).pipe(Effect.withSpan("caller"))
        const [plain, propagated] = server.requests
        assert.isUndefined(plain?.headers["traceparent"])
        assert.isUndefined(plain?.headers["b3"])
        assert.isString(propagated?.headers["traceparent"])
        assert.isString(propagated?.headers["b3"])
      }))

    it.live("x-should-retry wins (true on a 400, false on a 503); 409 is retried; insufficient_quota never is", () =>
      Effect.gen(function*() {
        server.enqueue(
          {
            kind: "status",
            status: 400,
            headers: { "x-should-retry": "true" },
            body: { error: { message: "try again" } }
          },
          { kind: "status", status: 503, headers: { "x-should-retry": "false" } },
          { kind: "status", status: 409, body: { error: { message: "conflict" } } },
          {
            kind: "status",
            status: 429,
            headers: { "x-should-retry": "true" },
            body: { error: { message: "quota", code: "insufficient_quota" } }
          }
        )
        const errors = yield* withProvider((p) =>
          Effect.all(Array.from({ length: 4 }, () => Effect.flip(p.generate(request))))
        )
        assert.deepStrictEqual(errors.map((e) => [e._tag, e.status, e.retryable]), [
          ["ProviderRejectedRequest", 400, true],
          ["ProviderOverloaded", 503, false],
          ["ProviderRejectedRequest", 409, true],
          ["QuotaExhausted", 429, false]
        ])
      }))

    it.live("tool_choice is never sent without tools (none included)", () =>
      Effect.gen(function*() {
        yield* withProvider((p) => p.generate({ ...request, toolChoice: "none" }))
        assert.notProperty(bodyOf(), "tool_choice")
        assert.notProperty(bodyOf(), "tools")
      }))

    if (target.wire === "openai") {
      it.live("a reasoning model gets max_completion_tokens and no temperature / top_p; a chat model keeps them", () =>
        Effect.gen(function*() {
          const params = { temperature: 0.2, topP: 0.9, maxTokens: 300 }
          yield* withProvider((p) => p.generate({ ...request, model: "o3-mini", params }))
          yield* withProvider((p) => p.generate({ ...request, model: "llama-3.1-8b", params }))
          const [reasoning, chat] = server.requests.map((r) => r.body as Record<string, unknown>)
          assert.deepStrictEqual(
            [
              reasoning?.["max_completion_tokens"],
              reasoning?.["max_tokens"],
              reasoning?.["temperature"],
              reasoning?.["top_p"]
            ],
            [300, undefined, undefined, undefined]
          )
          assert.deepStrictEqual([chat?.["max_tokens"], chat?.["temperature"], chat?.["top_p"]], [300, 0.2, 0.9])
        }))

      it.live("more than 4 stop sequences fail typed before anything is sent", () =>
        Effect.gen(function*() {
          const e = yield* withProvider((p) =>
            Effect.flip(p.generate({ ...request, params: { stop: ["a", "b", "c", "d", "e"] } }))
          )
          assert.strictEqual(e._tag, "ProviderRejectedRequest")
          assert.isFalse(e.retryable)
          assert.include(e.message, "params.stop")
          assert.strictEqual(server.requests.length, 0)
          yield* withProvider((p) => p.generate({ ...request, params: { stop: ["a", "b", "c", "d"] } }))
          assert.deepStrictEqual(bodyOf()["stop"], ["a", "b", "c", "d"])
        }))
    } else {
      it.live("temperature above 1 fails typed (not clamped) before anything is sent", () =>
        Effect.gen(function*() {
          const e = yield* withProvider((p) => Effect.flip(p.generate({ ...request, params: { temperature: 1.5 } })))
          assert.strictEqual(e._tag, "ProviderRejectedRequest")
          assert.isFalse(e.retryable)
          assert.include(e.message, "params.temperature")
          assert.strictEqual(server.requests.length, 0)
        }))

      it.live("temperature and top_p are never both sent (temperature wins)", () =>
        Effect.gen(function*() {
          yield* withProvider((p) => p.generate({ ...request, params: { temperature: 0.3, topP: 0.8 } }))
          yield* withProvider((p) => p.generate({ ...request, params: { topP: 0.8 } }))
          const [both, topOnly] = server.requests.map((r) => r.body as Record<string, unknown>)
          assert.deepStrictEqual([both?.["temperature"], both?.["top_p"]], [0.3, undefined])
          assert.deepStrictEqual([topOnly?.["temperature"], topOnly?.["top_p"]], [undefined, 0.8])
        }))

      it.live("an empty user message sends no empty text block; nothing left to send fails typed", () =>
        Effect.gen(function*() {
          yield* withProvider((p) =>
            p.generate({
              ...request,
              messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "" }, {
                role: "user",
                content: "  "
              }, {
                role: "user",
                content: "Weather?"
              }]
            })
          )
          assert.deepStrictEqual(bodyOf()["messages"], [
            { role: "user", content: [{ type: "text", text: "Hi" }, { type: "text", text: "Weather?" }] }
          ])
          const e = yield* withProvider((p) =>
            Effect.flip(p.generate({ ...request, messages: [{ role: "user", content: "" }] }))
          )
          assert.strictEqual(e._tag, "ProviderRejectedRequest")
          assert.include(e.message, "messages")
          assert.strictEqual(server.requests.length, 1)
        }))
    }
  })
}

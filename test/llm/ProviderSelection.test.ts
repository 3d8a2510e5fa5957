/** Provider selection: scripted without keys, the first keyed provider otherwise, Anthropic vs OpenAI-compatible. */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { DefaultConfig, TroupeConfig } from "../../src/config/index.ts"
import { defaultProvider, defaultProviderName, providerFromConfig } from "../../src/llm/index.ts"

const configWith = (providers: Record<string, unknown>) => Schema.decodeUnknownSync(TroupeConfig)({ providers })

describe("defaultProvider", () => {
  it.effect("is the scripted provider when no key is configured (keyless Ollama is not picked)", () =>
    Effect.gen(function*() {
      const config = configWith({ ollama: { baseUrl: "http://127.0.0.1:11434/v1" } })
      assert.isUndefined(defaultProviderName(config))
      const p = yield* defaultProvider(config)
      assert.strictEqual(p.api, "scripted")
      const r = yield* p.generate({ model: "any", messages: [{ role: "user", content: "hi" }] })
      assert.include(r.text, "hi")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("picks openai first, then anthropic, then others by name; empty keys do not count", () =>
    Effect.gen(function*() {
      const both = configWith({
        anthropic: { baseUrl: "http://127.0.0.1:1/v1", apiKey: Redacted.make("sk-ant-x") },
        openai: { baseUrl: "http://127.0.0.1:1/v1", apiKey: Redacted.make("sk-x") }
      })
      assert.strictEqual(defaultProviderName(both), "openai")
      assert.strictEqual((yield* defaultProvider(both)).api, "openai-compatible")
      const anthropicOnly = configWith({
        anthropic: { baseUrl: "http://127.0.0.1:1/v1", apiKey: Redacted.make("sk-ant-x") },
        openai: { baseUrl: "http://127.0.0.1:1/v1", apiKey: Redacted.make("  ") }
      })
      const p = yield* defaultProvider(anthropicOnly)
      assert.deepStrictEqual([p.name, p.api], ["anthropic", "anthropic"])
      const groq = configWith({ groq: { baseUrl: "http://127.0.0.1:1/v1", apiKey: Redacted.make("gsk_x") } })
      const g = yield* defaultProvider(groq)
      assert.deepStrictEqual([g.name, g.api], ["groq", "openai-compatible"])
      assert.strictEqual(defaultProviderName(groq, { preferred: ["groq"] }), "groq")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})

/** The URL and the auth header each built-in provider's default configuration gets (no request leaves the process). */
const expectedUrls: ReadonlyArray<readonly [string, string, string]> = [
  ["openai", "https://api.openai.com/v1/chat/completions", "authorization"],
  ["anthropic", "https://api.anthropic.com/v1/messages", "x-api-key"],
  // https://ai.google.dev/gemini-api/docs/openai: base_url https://generativelanguage.googleapis.com/v1beta/openai/
  ["google", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "authorization"],
  ["mistral", "https://api.mistral.ai/v1/chat/completions", "authorization"],
  ["groq", "https://api.groq.com/openai/v1/chat/completions", "authorization"],
  ["deepseek", "https://api.deepseek.com/v1/chat/completions", "authorization"],
  ["ollama", "http://localhost:11434/v1/chat/completions", "authorization"],
  ["xai", "https://api.x.ai/v1/chat/completions", "authorization"]
]

describe("the URL each configured provider gets", () => {
  it.effect("every built-in provider's default base URL + path, with its auth header, and no trace headers", () =>
    Effect.gen(function*() {
      const seen: Array<{ url: string; headers: Record<string, string> }> = []
      // a recording client: answers 401 without any network, so the request is built exactly as it would be sent
      const recording = HttpClient.make((request, url) => {
        seen.push({ url: url.toString(), headers: { ...request.headers } })
        return Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status: 401 })))
      })
      const config = Schema.decodeUnknownSync(TroupeConfig)(DefaultConfig)
      assert.sameMembers(Object.keys(config.providers), expectedUrls.map(([name]) => name))
      for (const [name, url, authHeader] of expectedUrls) {
        const entry = config.providers[name]
        assert.isDefined(entry)
        if (entry === undefined) continue
        const provider = yield* providerFromConfig(name, { ...entry, apiKey: Redacted.make("k-0123456789") }).pipe(
          Effect.provideService(HttpClient.HttpClient, recording)
        )
        yield* Effect.flip(provider.generate({ model: "m", messages: [{ role: "user", content: "hi" }] }))
        const last = seen.at(-1)
        assert.strictEqual(last?.url, url, name)
        assert.isString(last?.headers[authHeader], name)
        assert.isUndefined(last?.headers["traceparent"], name)
        assert.isUndefined(last?.headers["b3"], name)
      }
    }).pipe(Effect.withSpan("caller")))
})

/** Provider selection: scripted without keys, the first keyed provider otherwise, Anthropic vs OpenAI-compatible. */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { TroupeConfig } from "../../src/config/index.ts"
import { defaultProvider, defaultProviderName } from "../../src/llm/index.ts"

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

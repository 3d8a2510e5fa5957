import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { readEnvLayer } from "../../src/config/index.ts"
import { getAt } from "../../src/config/RawTree.ts"

const read = (env: Record<string, string>, base: Record<string, unknown> = {}) =>
  readEnvLayer(ConfigProvider.fromEnv({ env }), base)

const secretAt = (tree: unknown, path: ReadonlyArray<string>): string => {
  const value = getAt(tree, path)
  if (!Redacted.isRedacted(value)) throw new Error(`no secret at ${path.join(".")}`)
  return String(Redacted.value(value))
}

describe("environment mapping", () => {
  it.effect("maps the providers' usual variables (keys stay Redacted)", () =>
    Effect.gen(function*() {
      const { tree, variables } = yield* read({
        OPENAI_API_KEY: "sk-o",
        ANTHROPIC_API_KEY: "sk-ant-a",
        GEMINI_API_KEY: "AIza-gemini",
        MISTRAL_API_KEY: "m",
        GROQ_API_KEY: "gsk_g",
        DEEPSEEK_API_KEY: "sk-d",
        XAI_API_KEY: "xai-x",
        OLLAMA_BASE_URL: "http://gpu-box:11434/v1",
        OPENAI_BASE_URL: "https://gateway.example/v1",
        UNRELATED: "x"
      })
      assert.strictEqual(secretAt(tree, ["providers", "openai", "apiKey"]), "sk-o")
      assert.strictEqual(secretAt(tree, ["providers", "anthropic", "apiKey"]), "sk-ant-a")
      assert.strictEqual(secretAt(tree, ["providers", "google", "apiKey"]), "AIza-gemini")
      assert.strictEqual(secretAt(tree, ["providers", "mistral", "apiKey"]), "m")
      assert.strictEqual(secretAt(tree, ["providers", "groq", "apiKey"]), "gsk_g")
      assert.strictEqual(secretAt(tree, ["providers", "deepseek", "apiKey"]), "sk-d")
      assert.strictEqual(secretAt(tree, ["providers", "xai", "apiKey"]), "xai-x")
      assert.strictEqual(getAt(tree, ["providers", "ollama", "baseUrl"]), "http://gpu-box:11434/v1")
      assert.strictEqual(getAt(tree, ["providers", "openai", "baseUrl"]), "https://gateway.example/v1")
      assert.notInclude(variables, "UNRELATED")
      assert.strictEqual(variables.length, 9)
    }))

  it.effect("GOOGLE_API_KEY wins over GEMINI_API_KEY", () =>
    Effect.gen(function*() {
      const { tree, variables } = yield* read({ GOOGLE_API_KEY: "AIza-google", GEMINI_API_KEY: "AIza-gemini" })
      assert.strictEqual(secretAt(tree, ["providers", "google", "apiKey"]), "AIza-google")
      assert.deepStrictEqual(variables, ["GOOGLE_API_KEY"])
    }))

  it.effect("TROUPE_ overrides: __ separates segments, names match fields case- and underscore-insensitively", () =>
    Effect.gen(function*() {
      const { tree } = yield* read({
        TROUPE_PROVIDERS__OPENAI__TIMEOUT: "30000",
        TROUPE_PROVIDERS__OPENAI__MAX_RETRIES: "4",
        TROUPE_PROVIDERS__OPENAI__POOL__KEEP_ALIVE: "false",
        TROUPE_PROVIDERS__OPENAI__HEADERS: "{\"OpenAI-Organization\":\"org-1\"}",
        TROUPE_MODELS__FAST: "groq:llama-3.1-8b-instant",
        TROUPE_MODELS__SMART: "{\"model\":\"openai:gpt-4o\",\"text\":{\"temperature\":0.1}}",
        TROUPE_RATE_LIMITS__SEARCH: "{\"tiers\":[{\"_tag\":\"FixedWindow\",\"limit\":5,\"window\":1000}]}",
        TROUPE_CACHE__MAX_ENTRIES: "500",
        TROUPE_TELEMETRY__SERVICE_NAME: "agents",
        TROUPE_CONFIG: "/not/an/override.json",
        TROUPE___BROKEN: "ignored"
      })
      assert.deepStrictEqual(tree, {
        providers: {
          openai: {
            timeout: 30000,
            maxRetries: 4,
            pool: { keepAlive: false },
            headers: { "OpenAI-Organization": "org-1" }
          }
        },
        models: {
          fast: "groq:llama-3.1-8b-instant",
          smart: { model: "openai:gpt-4o", text: { temperature: 0.1 } }
        },
        rateLimits: { search: { tiers: [{ _tag: "FixedWindow", limit: 5, window: 1000 }] } },
        cache: { maxEntries: 500 },
        telemetry: { serviceName: "agents" }
      })
    }))

  it.effect("record keys match existing keys loosely, new ones are lowercased; bad values stay strings", () =>
    Effect.gen(function*() {
      const base = { providers: { "my-proxy": { baseUrl: "https://p.example/v1" } } }
      const { tree } = yield* read({
        TROUPE_PROVIDERS__MY_PROXY__TIMEOUT: "100",
        TROUPE_PROVIDERS__TOGETHER__BASE_URL: "https://api.together.xyz/v1",
        TROUPE_PROVIDERS__OPENAI__TIMEOUT: "soon"
      }, base)
      assert.strictEqual(getAt(tree, ["providers", "my-proxy", "timeout"]), 100)
      assert.strictEqual(getAt(tree, ["providers", "together", "baseUrl"]), "https://api.together.xyz/v1")
      assert.strictEqual(getAt(tree, ["providers", "openai", "timeout"]), "soon") // validation will name the path
    }))

  it.effect("values are coerced by the schema's type at that path, literal members of a union included", () =>
    Effect.gen(function*() {
      // gateway.cors is `false | { ... }`: "false" is the boolean literal, not a string
      const { tree } = yield* read({ TROUPE_GATEWAY__CORS: "false" })
      assert.strictEqual(getAt(tree, ["gateway", "cors"]), false)
      const json = yield* read({ TROUPE_GATEWAY__CORS: `{"allowedOrigins":["https://a.example"]}` })
      assert.deepStrictEqual(getAt(json.tree, ["gateway", "cors"]), { allowedOrigins: ["https://a.example"] })
      const other = yield* read({ TROUPE_GATEWAY__CORS: "no" }) // not a member: left for validation to report
      assert.strictEqual(getAt(other.tree, ["gateway", "cors"]), "no")
    }))
})

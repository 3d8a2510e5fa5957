import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import { apiKeyFormatProblem, DefaultConfig, validateConfig, validateConfigResult } from "../../src/config/index.ts"
import { merge } from "../../src/config/RawTree.ts"

const issuesOf = (candidate: unknown) => {
  const result = validateConfigResult(candidate)
  return Result.isFailure(result) ? result.failure.issues : []
}

const withProviders = (providers: Record<string, unknown>) => merge(DefaultConfig, { providers })

describe("validateConfig", () => {
  it.effect("accepts the defaults and fills schema defaults", () =>
    Effect.gen(function*() {
      const config = yield* validateConfig(DefaultConfig)
      assert.deepStrictEqual(config.providers.groq?.pool, {
        connections: 16,
        keepAlive: true,
        keepAliveTimeout: 30_000,
        pipelining: 1,
        allowH2: false
      })
      assert.strictEqual(config.cache.backend, undefined) // absent: follows Troupe.layer({ redis })
      assert.strictEqual(config.telemetry.serviceName, "troupe")
    }))

  it("reports every error at once, each with its path: required fields, URLs, ranges, types, typos", () => {
    const issues = issuesOf({
      providers: {
        openai: { baseUrl: "not a url", timeout: 0, maxRetries: 1.5, pool: { connections: 5000 } },
        custom: { apiKey: "anything-goes" },
        local: { baseUrl: "ftp://files.example/v1" }
      },
      models: { fast: { model: "openai:x", text: { temperature: 3, topP: -1 } }, "bad:name": "openai:y" },
      cache: { backend: "disk", ttl: 0 },
      telemetry: { otlp: { endpoint: "localhost:4318" } },
      rateLimits: { search: { tiers: [] } },
      budgts: {}
    })
    assert.deepStrictEqual(issues.map((i) => i.path), [
      "budgts",
      "cache.backend",
      "cache.ttl",
      "models.bad:name",
      "models.fast.text.temperature",
      "models.fast.text.topP",
      "providers.custom.baseUrl",
      "providers.local.baseUrl",
      "providers.openai.baseUrl",
      "providers.openai.maxRetries",
      "providers.openai.pool.connections",
      "providers.openai.timeout",
      "rateLimits.search.tiers[0]",
      "telemetry.otlp.endpoint"
    ])
    const byPath = new Map(issues.map((i) => [i.path, i.message]))
    assert.strictEqual(byPath.get("providers.custom.baseUrl"), "Missing key")
    assert.strictEqual(byPath.get("providers.local.baseUrl"), "Expected an http: or https: URL")
    assert.strictEqual(byPath.get("budgts"), "Expected no excess property")
  })

  it("checks API-key formats per built-in provider, not for other providers", () => {
    const good = {
      openai: "sk-proj-abc",
      anthropic: "sk-ant-api03-abc",
      google: "AIzaSyAbc",
      groq: "gsk_abc",
      xai: "xai-abc",
      mistral: "anything",
      deepseek: "anything"
    }
    for (const [provider, key] of Object.entries(good)) assert.isUndefined(apiKeyFormatProblem(provider, key), provider)
    assert.isUndefined(apiKeyFormatProblem("my-proxy", "whatever at all"))
    const issues = issuesOf(withProviders({
      openai: { apiKey: "sk-ant-api03-wrong-provider" },
      anthropic: { apiKey: "sk-not-anthropic" },
      google: { apiKey: "AIz" },
      groq: { apiKey: "gsk-dash" },
      xai: { apiKey: Redacted.make("xai_underscore") },
      mistral: { apiKey: "has space" },
      proxy: { baseUrl: "https://p.example", apiKey: "free form" }
    }))
    assert.deepStrictEqual(issues, [
      { path: "providers.anthropic.apiKey", message: "Anthropic API keys start with \"sk-ant-\"" },
      { path: "providers.google.apiKey", message: "Google API keys start with \"AIza\"" },
      { path: "providers.groq.apiKey", message: "Groq API keys start with \"gsk_\"" },
      { path: "providers.mistral.apiKey", message: "Mistral API key contains whitespace" },
      {
        path: "providers.openai.apiKey",
        message: "this looks like another provider's key (\"sk-ant-…\"), not a OpenAI key"
      },
      { path: "providers.xai.apiKey", message: "xAI API keys start with \"xai-\"" }
    ])
  })

  it("reports structural and semantic errors together", () => {
    const issues = issuesOf(withProviders({ openai: { apiKey: "bad", timeout: -1 } }))
    assert.deepStrictEqual(issues.map((i) => i.path), ["providers.openai.apiKey", "providers.openai.timeout"])
  })

  it("validates rate-limit policies with the RateLimiter's schema", () => {
    const ok = issuesOf({
      ...DefaultConfig,
      rateLimits: { search: { tiers: [{ _tag: "FixedWindow", limit: 5, window: "1 second" }] } }
    })
    assert.deepStrictEqual(ok, [])
    const bad = issuesOf({
      ...DefaultConfig,
      rateLimits: { search: { tiers: [{ _tag: "FixedWindow", limit: 0, window: "1 second" }] } }
    })
    assert.deepStrictEqual(bad.map((i) => i.path), ["rateLimits.search.tiers[0].limit"])
  })
})

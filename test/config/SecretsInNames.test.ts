/**
 * Issue 11, section 1, on the configuration side: a key typed into the wrong field is masked in lookup errors
 * (`UnknownModelAlias`, `UnknownProvider`, `InvalidModelSpec`), and a URL with userinfo is rejected by validation
 * without echoing it, so no credential sits in a plain-string field that `store.get` prints.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Result } from "effect"
import { DefaultConfig, resolveModel, validateConfigResult } from "../../src/config/index.ts"
import { merge } from "../../src/config/RawTree.ts"

const KEY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"
const PASSWORD = "pw-0123456789"

const rendered = (e: object): string => `${String(e)} ${JSON.stringify(e)} ${Cause.pretty(Cause.fail(e))}`

describe("secrets typed into the wrong field", () => {
  it("a key given as a model name is masked in UnknownModelAlias / UnknownProvider / InvalidModelSpec", () => {
    const providers = new Set(["openai"])
    for (const name of [KEY, `${KEY}:gpt-4o`, `openai:`]) {
      const result = resolveModel({}, providers, name)
      assert.isTrue(Result.isFailure(result))
      if (Result.isSuccess(result)) continue
      assert.notInclude(rendered(result.failure), "AbCdEfGhIjKlMnOpQrStUvWx")
    }
    const unknown = resolveModel({}, providers, KEY)
    if (Result.isFailure(unknown)) assert.include(unknown.failure.message, "<redacted>")
  })

  it("a base URL (provider or OTLP endpoint) with user:password@ is rejected, naming the path, never echoing it", () => {
    const result = validateConfigResult(merge(DefaultConfig, {
      providers: { openai: { baseUrl: `https://user:${PASSWORD}@proxy.example/v1` } },
      telemetry: { otlp: { endpoint: `https://otel:${PASSWORD}@collector.example` } }
    }))
    assert.isTrue(Result.isFailure(result))
    if (Result.isSuccess(result)) return
    const paths = result.failure.issues.map((i) => i.path)
    assert.include(paths, "providers.openai.baseUrl")
    assert.include(paths, "telemetry.otlp.endpoint")
    assert.notInclude(rendered(result.failure), PASSWORD)
    assert.include(result.failure.message, "Credentials in the URL")
  })
})

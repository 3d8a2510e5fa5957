/**
 * The shipped price file (`src/pipeline/prices.json`): versioned, well-formed, cross-checked against the reference
 * data of `shared/eval/prices/prices.json` on 20 models, and the `scripted` provider costs 0 and never appears
 * under a real provider's name.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { costOf, defaultPrices, findPrice, priceTableInfo, PriceTableSchema } from "../../src/pipeline/index.ts"

const referencePath = new URL("../../../shared/eval/prices/prices.json", import.meta.url)
const fallbackPath = "/work/shared/eval/prices/prices.json"

interface ReferenceModel {
  readonly provider: string
  readonly input: number
  readonly output: number
  readonly cache_read?: number | null
  readonly cache_write?: number | null
}

const loadReference = (): Record<string, ReferenceModel> | undefined => {
  const path = existsSync(referencePath) ? referencePath : existsSync(fallbackPath) ? fallbackPath : undefined
  if (path === undefined) return undefined
  // The reference file is trusted test data; its `models` map is typed by the interface above.
  return (JSON.parse(readFileSync(path, "utf8")) as { models: Record<string, ReferenceModel> }).models
}

/** Our spec -> the reference key (20 models). */
const crossChecked: Record<string, string> = {
  "openai:gpt-4o-mini": "gpt-4o-mini",
  "openai:gpt-4o": "gpt-4o",
  "openai:gpt-4.1": "gpt-4.1",
  "openai:gpt-4.1-mini": "gpt-4.1-mini",
  "openai:gpt-4.1-nano": "gpt-4.1-nano",
  "openai:gpt-5": "gpt-5",
  "openai:o4-mini": "o4-mini",
  "openai:gpt-3.5-turbo": "gpt-3.5-turbo",
  "anthropic:claude-sonnet-4-5": "claude-sonnet-4-5",
  "anthropic:claude-haiku-4-5": "claude-haiku-4-5",
  "anthropic:claude-opus-4-1": "claude-opus-4-1",
  "anthropic:claude-opus-4-5": "claude-opus-4-5",
  "anthropic:claude-3-haiku-20240307": "claude-3-haiku-20240307",
  "google:gemini-2.5-flash-lite": "gemini/gemini-2.5-flash-lite",
  "google:gemini-pro-latest": "gemini/gemini-pro-latest",
  "mistral:mistral-small-latest": "mistral/mistral-small-latest",
  "mistral:mistral-medium-latest": "mistral/mistral-medium-latest",
  "groq:llama-3.1-8b-instant": "groq/llama-3.1-8b-instant",
  "deepseek:deepseek-chat": "deepseek/deepseek-chat",
  "xai:grok-3-mini": "xai/grok-3-mini"
}

describe("price table", () => {
  it("the shipped price file is versioned (version, date, source) and decodes with the price table schema", () => {
    assert.isTrue(Number.isInteger(priceTableInfo.version) && priceTableInfo.version >= 1)
    assert.match(priceTableInfo.date, /^\d{4}-\d{2}-\d{2}$/)
    assert.isTrue(priceTableInfo.source.length > 0)
    Schema.decodeUnknownSync(PriceTableSchema)(defaultPrices)
  })

  it("cross-checks 20 models against the reference prices", () => {
    const reference = loadReference()
    if (reference === undefined) {
      if (process.env.CI === "true") throw new Error("reference prices missing")
      console.log("skipped: shared/eval/prices/prices.json not found")
      return
    }
    assert.strictEqual(Object.keys(crossChecked).length, 20)
    for (const [spec, key] of Object.entries(crossChecked)) {
      const ref: ReferenceModel | undefined = reference[key]
      const ours = findPrice(defaultPrices, spec)
      assert.isDefined(ref, key)
      assert.isDefined(ours, spec)
      if (ref === undefined || ours === undefined) continue
      assert.strictEqual(ours.input, ref.input, `${spec} input`)
      assert.strictEqual(ours.output, ref.output, `${spec} output`)
      if (typeof ref.cache_read === "number" && ref.cache_read > 0) {
        assert.strictEqual(ours.cachedInput, ref.cache_read, `${spec} cache read`)
      }
      if (typeof ref.cache_write === "number" && ref.cache_write > 0) {
        assert.strictEqual(ours.cacheWrite, ref.cache_write, `${spec} cache write`)
      }
    }
  })

  it("scripted provider costs 0 and never appears under a real provider's name", () => {
    const usage = { inputTokens: 1000, outputTokens: 1000, totalTokens: 2000 }
    const scripted = findPrice(defaultPrices, "scripted:anything")
    assert.isDefined(scripted)
    if (scripted !== undefined) assert.strictEqual(costOf(scripted, usage), 0)
    for (const spec of Object.keys(defaultPrices)) {
      const [provider] = spec.split(":")
      if (provider !== "scripted") {
        const price = defaultPrices[spec]
        assert.isTrue(price !== undefined && (price.input > 0 || price.output > 0), `${spec} is not free`)
      }
    }
    assert.isUndefined(findPrice(defaultPrices, "openai:scripted"))
  })

  it("a per-request fee is added to the token cost", () => {
    const price = { input: 1, output: 2, perRequest: 0.01 }
    assert.closeTo(costOf(price, { inputTokens: 1_000_000, outputTokens: 0, totalTokens: 1_000_000 }), 1.01, 1e-12)
  })
})

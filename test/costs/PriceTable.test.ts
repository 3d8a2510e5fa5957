/**
 * The shipped price file (`src/pipeline/prices.json`): versioned, well-formed, cross-checked against the reference
 * data of `shared/eval/prices/prices.json` on 20 models, and the `scripted` provider costs 0 and never appears
 * under a real provider's name.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { usageFrom } from "../../src/llm/index.ts"
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

interface ReferenceCase {
  readonly id: string
  readonly model: string
  readonly provider: string
  readonly usage: {
    readonly input_tokens: number
    readonly output_tokens: number
    readonly cache_read_tokens?: number
    readonly cache_write_tokens?: number
  }
  readonly expected_usd: number
}

interface ReferenceFile {
  readonly models: Record<string, ReferenceModel>
  readonly cost_cases: ReadonlyArray<ReferenceCase>
}

const loadReferenceFile = (): ReferenceFile | undefined => {
  const path = existsSync(referencePath) ? referencePath : existsSync(fallbackPath) ? fallbackPath : undefined
  if (path === undefined) return undefined
  // The reference file is trusted test data, typed by the interfaces above.
  return JSON.parse(readFileSync(path, "utf8")) as ReferenceFile
}

const loadReference = (): Record<string, ReferenceModel> | undefined => loadReferenceFile()?.models

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

  it("every reference cost case the shipped table prices costs what the reference says", () => {
    const reference = loadReferenceFile()
    if (reference === undefined) {
      if (process.env.CI === "true") throw new Error("reference prices missing")
      console.log("skipped: shared/eval/prices/prices.json not found")
      return
    }
    const wrong: Array<string> = []
    let priced = 0
    for (const c of reference.cost_cases) {
      const provider = c.provider === "gemini" ? "google" : c.provider
      const spec = `${provider}:${c.model.replace(/^[a-z]+\//, "")}`
      const price = findPrice(defaultPrices, spec)
      if (price === undefined) continue
      priced++
      const read = c.usage.cache_read_tokens ?? 0
      const written = c.usage.cache_write_tokens ?? 0
      const usage = usageFrom({
        inputTokens: c.usage.input_tokens + read + written,
        outputTokens: c.usage.output_tokens,
        cachedInputTokens: read,
        cacheWriteInputTokens: written
      })
      const got = costOf(price, usage)
      if (Math.abs(got - c.expected_usd) > 1e-9 + 1e-6 * c.expected_usd) {
        wrong.push(`${c.id} ${spec}: ${got} vs ${c.expected_usd}`)
      }
    }
    assert.isAbove(priced, 50)
    assert.deepStrictEqual(wrong, [])
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

  it("a model is priced by the longest spec it starts with only when the rest is a snapshot suffix; another model has no price", () => {
    const table = {
      "openai:gpt-5": { input: 1.25, output: 10 },
      "openai:gpt-5.2": { input: 1.75, output: 14 },
      "openai:gpt-4o": { input: 2.5, output: 10 },
      "openai:gpt-4o-mini": { input: 0.15, output: 0.6 },
      "xai:grok-4": { input: 3, output: 15 },
      "anthropic:claude-3-haiku": { input: 0.25, output: 1.25 }
    }
    // dated snapshots, `-latest` and the `@…` version of the same model: the model's price
    for (
      const [spec, input] of [
        ["openai:gpt-4o-mini-2024-07-18", 0.15],
        ["openai:gpt-4o-2024-08-06", 2.5],
        ["anthropic:claude-3-haiku-20240307", 0.25],
        ["anthropic:claude-3-haiku@20240307", 0.25],
        ["openai:gpt-5.2-latest", 1.75],
        ["openai:gpt-5.2-2025-12-11", 1.75]
      ] as const
    ) {
      assert.strictEqual(findPrice(table, spec)?.input, input, spec)
    }
    // distinct models whose names merely start with a priced one: no price
    for (
      const spec of [
        "openai:gpt-5.2-pro",
        "openai:gpt-5.5",
        "openai:gpt-5-mini",
        "openai:gpt-4o-mini-tts",
        "xai:grok-4-1-fast",
        "xai:grok-4-fast-reasoning",
        "xai:grok-4.20-0309-reasoning",
        "openai:gpt-4o-2024",
        "openai:gpt-4o-20240806x"
      ]
    ) {
      assert.isUndefined(findPrice(table, spec), spec)
    }
    // the shipped table: gpt-5.2-pro is not gpt-5.2, gpt-5.5 not gpt-5, grok-4-1-fast not grok-4
    for (const spec of ["openai:gpt-5.2-pro", "openai:gpt-5.5", "xai:grok-4-1-fast", "xai:grok-4-fast-reasoning"]) {
      assert.isUndefined(findPrice(defaultPrices, spec), spec)
    }
    assert.strictEqual(findPrice(defaultPrices, "openai:gpt-4o-mini-2024-07-18"), defaultPrices["openai:gpt-4o-mini"])
  })

  it("a per-request fee is added to the token cost", () => {
    const price = { input: 1, output: 2, perRequest: 0.01 }
    assert.closeTo(costOf(price, { inputTokens: 1_000_000, outputTokens: 0, totalTokens: 1_000_000 }), 1.01, 1e-12)
  })
})

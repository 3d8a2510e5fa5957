/**
 * Prices of LLM models in USD per million tokens, keyed `provider:model`, and the cost of a usage.
 *
 * The built-in table is the versioned JSON file `prices.json` shipped in the package (`version`, `date`, `source`;
 * `priceTableInfo`): indicative public list prices of common OpenAI, Anthropic, Google, Mistral, Groq, DeepSeek and
 * xAI models (input, output, cache-read, cache-write, per-request fee; embedding models priced by input); override or extend it with your contract's through `UsageStep.layer({ prices })`. A model is priced by
 * its exact spec, else by the longest spec in the table that it starts with when the rest is a snapshot suffix —
 * a date (`-YYYY-MM-DD`, `-YYYYMMDD`), `-latest` or an `@` version — so dated snapshots such as
 * `openai:gpt-4o-mini-2024-07-18` get `openai:gpt-4o-mini`'s price while a distinct model whose name merely starts
 * with a priced one (`openai:gpt-5.2-pro`, `xai:grok-4-1-fast`) does not; else by its provider's `provider:*`
 * entry; else it has no price (cost `undefined`). The `scripted` provider is free unless the table prices it (with
 * `replaceDefaults` too). Hand-rolled data (LiteLLM keeps the same data in `model_prices.json`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Usage } from "../llm/index.ts"
import priceFile from "./prices.json" with { type: "json" }

const UsdPerMillion = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** Prices of one model in USD per million tokens. */
export const ModelPrice = Schema.Struct({
  input: UsdPerMillion,
  output: UsdPerMillion,
  /** Input tokens served from the provider's prompt cache (default: the `input` price). */
  cachedInput: Schema.optionalKey(UsdPerMillion),
  /** Input tokens written to the provider's prompt cache (default: the `input` price; Anthropic: 1.25 × input). */
  cacheWrite: Schema.optionalKey(UsdPerMillion),
  /** A fixed fee in USD per request (default 0). */
  perRequest: Schema.optionalKey(UsdPerMillion)
})
export type ModelPrice = typeof ModelPrice.Type

/** Prices by `provider:model` (a spec ending in `:*` prices every model of a provider). */
export const PriceTableSchema = Schema.Record(Schema.String.check(Schema.isPattern(/^[^:]+:.+$/)), ModelPrice)
/** A price table: USD per million tokens by `provider:model`. */
export type PriceTable = typeof PriceTableSchema.Type

/** The versioned price file shipped in the package (`prices.json`): its `version`, `date` and `source`. */
export const priceTableInfo: { readonly version: number; readonly date: string; readonly source: string } = {
  version: priceFile.version,
  date: priceFile.date,
  source: priceFile.source
}

/** Indicative list prices (USD per million tokens), read from the shipped `prices.json`. */
export const defaultPrices: PriceTable = priceFile.models

/** What may follow a priced spec in a snapshot of the same model: a date, `-latest` or an `@` version. */
const SNAPSHOT_SUFFIX = /^(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-latest|@.+)$/

/**
 * The price of `spec` in `table`: exact, else the longest table spec it starts with when the rest is a snapshot
 * suffix (`-YYYY-MM-DD`, `-YYYYMMDD`, `-latest`, `@…`), else `provider:*`.
 */
export const findPrice = (table: PriceTable, spec: string): ModelPrice | undefined => {
  const exact = table[spec]
  if (exact !== undefined) return exact
  let best: string | undefined
  for (const candidate of Object.keys(table)) {
    if (
      !candidate.endsWith(":*") && spec.startsWith(candidate) && SNAPSHOT_SUFFIX.test(spec.slice(candidate.length)) &&
      (best === undefined || candidate.length > best.length)
    ) best = candidate
  }
  if (best !== undefined) return table[best]
  const colon = spec.indexOf(":")
  return colon > 0 ? table[`${spec.slice(0, colon)}:*`] : undefined
}

/**
 * Cost in USD of `usage` at `price`: cache reads at `cachedInput`, cache writes at `cacheWrite`, the other input
 * tokens at `input`; output at `output`, including any tokens the provider's own `totalTokens` counts beyond input
 * + output (reasoning billed outside `completion_tokens`, as xAI reports it); plus the `perRequest` fee.
 */
export const costOf = (price: ModelPrice, usage: Usage): number => {
  const cached = usage.cachedInputTokens ?? 0
  const written = usage.cacheWriteInputTokens ?? 0
  const fresh = Math.max(0, usage.inputTokens - cached - written)
  const output = usage.outputTokens + Math.max(0, usage.totalTokens - usage.inputTokens - usage.outputTokens)
  return (fresh * price.input + cached * (price.cachedInput ?? price.input) +
        written * (price.cacheWrite ?? price.input) +
        output * price.output) / 1_000_000 + (price.perRequest ?? 0)
}

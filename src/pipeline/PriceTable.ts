/**
 * Prices of LLM models in USD per million tokens, keyed `provider:model`, and the cost of a usage.
 *
 * The built-in table holds indicative public list prices of common models (input, output, cached input) as of
 * 2025; override or extend it with your contract's through `UsageStep.layer({ prices })`. A model is priced by
 * its exact spec, else by the longest spec in the table that it starts with (so dated snapshots such as
 * `openai:gpt-4o-mini-2024-07-18` get `openai:gpt-4o-mini`'s price), else it has no price (cost `undefined`).
 * The `scripted` provider is free. Hand-rolled data (LiteLLM keeps the same data in `model_prices.json`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Usage } from "../llm/index.ts"

const UsdPerMillion = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** Prices of one model in USD per million tokens. */
export const ModelPrice = Schema.Struct({
  input: UsdPerMillion,
  output: UsdPerMillion,
  /** Input tokens served from the provider's prompt cache (default: the `input` price). */
  cachedInput: Schema.optionalKey(UsdPerMillion),
  /** Input tokens written to the provider's prompt cache (default: the `input` price; Anthropic: 1.25 × input). */
  cacheWrite: Schema.optionalKey(UsdPerMillion)
})
export type ModelPrice = typeof ModelPrice.Type

/** Prices by `provider:model` (a spec ending in `:*` prices every model of a provider). */
export const PriceTableSchema = Schema.Record(Schema.String.check(Schema.isPattern(/^[^:]+:.+$/)), ModelPrice)
/** A price table: USD per million tokens by `provider:model`. */
export type PriceTable = typeof PriceTableSchema.Type

/** Indicative list prices (USD per million tokens). */
export const defaultPrices: PriceTable = {
  "openai:gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "openai:gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "openai:gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
  "openai:gpt-4.1-mini": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "openai:o3-mini": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "openai:text-embedding-3-small": { input: 0.02, output: 0 },
  "anthropic:claude-sonnet-4-5": { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-haiku-4-5": { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
  "anthropic:claude-opus-4-1": { input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75 },
  "groq:llama-3.1-8b-instant": { input: 0.05, output: 0.08 },
  "groq:llama-3.3-70b-versatile": { input: 0.59, output: 0.79 },
  "deepseek:deepseek-chat": { input: 0.27, output: 1.1, cachedInput: 0.07 },
  "mistral:mistral-small-latest": { input: 0.1, output: 0.3 },
  "scripted:*": { input: 0, output: 0 }
}

/** The price of `spec` in `table`: exact, else the longest table spec it starts with, else `provider:*`. */
export const findPrice = (table: PriceTable, spec: string): ModelPrice | undefined => {
  const exact = table[spec]
  if (exact !== undefined) return exact
  let best: string | undefined
  for (const candidate of Object.keys(table)) {
    if (!candidate.endsWith(":*") && spec.startsWith(candidate) && (best === undefined || candidate.length > best.length)) best = candidate
  }
  if (best !== undefined) return table[best]
  const colon = spec.indexOf(":")
  return colon > 0 ? table[`${spec.slice(0, colon)}:*`] : undefined
}

/**
 * Cost in USD of `usage` at `price`: cache reads at `cachedInput`, cache writes at `cacheWrite`, the other input
 * tokens at `input`; output at `output`, including any tokens the provider's own `totalTokens` counts beyond input
 * + output (reasoning billed outside `completion_tokens`, as xAI reports it).
 */
export const costOf = (price: ModelPrice, usage: Usage): number => {
  const cached = usage.cachedInputTokens ?? 0
  const written = usage.cacheWriteInputTokens ?? 0
  const fresh = Math.max(0, usage.inputTokens - cached - written)
  const output = usage.outputTokens + Math.max(0, usage.totalTokens - usage.inputTokens - usage.outputTokens)
  return (fresh * price.input + cached * (price.cachedInput ?? price.input) + written * (price.cacheWrite ?? price.input) +
    output * price.output) / 1_000_000
}

/**
 * `UsageStep`: the usage and cost metadata of each answer — the provider's token usage priced with a price table
 * (`PriceTable.ts`: indicative list prices per `provider:model`, overridable), in USD. The cost lands in the
 * result's `meta.costUsd`, in the `troupe.llm.call.stop` / `troupe.llm.token.usage` events (`cost`, which the
 * telemetry hub's `troupe_llm_cost_usd_total` metric sums) and in the span.
 *
 * A usage whose counts are not all non-negative safe integers (a hostile or broken provider: negative, fractional,
 * 1e308) has no cost (`undefined`, "unknown"), never a negative or infinite one; the wire decoders already reject
 * such counts, and this guards providers that build usages themselves.
 *
 * Prices are looked up once per model and cached. Mirrors LiteLLM's `completion_cost` / Portkey's cost tracking.
 * `UsageStep.none` reports no cost.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Usage } from "../llm/index.ts"
import { invalidOptions, type InvalidPipelineOptions } from "./PipelineError.ts"
import type { ModelPrice, PriceTable } from "./PriceTable.ts"
import { costOf, defaultPrices, findPrice, PriceTableSchema } from "./PriceTable.ts"
import type { Target } from "./Target.ts"

/** The service interface. */
export interface UsageStepShape {
  /** The price of `target`'s model, if known. */
  readonly priceOf: (target: Target) => ModelPrice | undefined
  /** The cost in USD of `usage` on `target`, if its price is known. */
  readonly costOf: (target: Target, usage: Usage) => number | undefined
}

/** Options of `UsageStep.layer`. */
export interface UsageStepOptions {
  /**
   * Prices merged over (or, with `replaceDefaults`, instead of) the built-in table; the `scripted` provider stays
   * free either way unless these price it.
   */
  readonly prices?: PriceTable
  readonly replaceDefaults?: boolean
}

const isCount = (n: unknown): boolean => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** True when every count of `usage` is a non-negative safe integer (so its cost is finite and non-negative). */
export const isValidUsage = (usage: Usage): boolean =>
  isCount(usage.inputTokens) && isCount(usage.outputTokens) && isCount(usage.totalTokens) &&
  (usage.cachedInputTokens === undefined || isCount(usage.cachedInputTokens)) &&
  (usage.cacheWriteInputTokens === undefined || isCount(usage.cacheWriteInputTokens))

/** The built-in `scripted:*` entry (free), kept when `replaceDefaults` drops the rest of the table. */
const scriptedFree: PriceTable = { "scripted:*": { input: 0, output: 0 } }

const make = (options: UsageStepOptions) =>
  Effect.gen(function*() {
    const extra = yield* Schema.decodeUnknownEffect(PriceTableSchema)(options.prices ?? {}, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("UsageStep", e.issue))
    )
    // the scripted provider stays free with `replaceDefaults` too, unless `prices` prices it
    const table: PriceTable = options.replaceDefaults === true
      ? { ...scriptedFree, ...extra }
      : { ...defaultPrices, ...extra }
    const prices = new Map<string, ModelPrice | undefined>()
    const priceOf = (target: Target): ModelPrice | undefined => {
      if (prices.has(target.spec)) return prices.get(target.spec)
      const price = findPrice(table, target.spec)
      if (prices.size < 10_000) prices.set(target.spec, price)
      return price
    }
    return UsageStep.of({
      priceOf,
      costOf: (target, usage) => {
        const price = priceOf(target)
        if (price === undefined || !isValidUsage(usage)) return undefined
        const cost = costOf(price, usage)
        return Number.isFinite(cost) && cost >= 0 ? cost : undefined
      }
    })
  })

/**
 * The usage and cost step.
 *
 * @example
 * ```ts
 * const step = UsageStep.layer({ prices: { "openai:gpt-4o-mini": { input: 0.15, output: 0.6 } } })
 * ```
 */
export class UsageStep extends Context.Service<UsageStep, UsageStepShape>()("troupe/pipeline/UsageStep") {
  /**
   * Prices usage with the built-in table plus `prices`. Fails to build with `InvalidPipelineOptions` (naming the entry)
   * when a key of `prices` is not a `provider:model` spec or a price (`input`, `output`, `cachedInput`, `cacheWrite`,
   * `perRequest`) is not a finite number ≥ 0.
   */
  static readonly layer = (options: UsageStepOptions = {}): Layer.Layer<UsageStep, InvalidPipelineOptions> =>
    Layer.effect(UsageStep, make(options))

  /** No cost metadata. */
  static readonly none: Layer.Layer<UsageStep> = Layer.succeed(UsageStep, {
    priceOf: () => undefined,
    costOf: () => undefined
  })
}

/**
 * `Recommendations`: cost advice from recorded usage. The pipeline calls `observe` for every answered call and, with
 * a `SiblingStep`, `judged` for every shadow call a judge compared; `recommend` turns what was seen, the `Costs`
 * ledger and (when present) the `Budgets` service into a list of recommendations. Rules:
 *
 * - **Enable the cache where prompts repeat**: an `enable-cache` recommendation names a model for which prompts (by
 *   the sha256 of the canonical request: model, messages and tools — never the prompt text) were computed at least
 *   `minRepeats` times (default 3) without ever being answered from the cache; its estimated savings are
 *   Σ (count − 1) × the prompt's mean cost, and it is given only when they are above 0. The table holds at most
 *   `maxPrompts` hashes (default 10,000); past that the least recently seen is dropped.
 * - **A cheaper sibling that answers equally**: a `cheaper-model` recommendation names a (model, sibling) pair with at
 *   least `minSamples` judge verdicts (default 20) of which at least `minAgreement` (default 0.9) agreed; its
 *   estimated savings are the model's spend in the period (`Costs.stats` grouped by `model`) × (1 − Σ sibling cost /
 *   Σ model cost over the verdicts), given only when above 0. At most `maxPairs` pairs are kept (default 1,000; the
 *   least recently judged is dropped).
 * - **Keys near their budget**: a `budget-near-limit` recommendation names a `key:`, `principal:` or `tenant:` scope
 *   among the period's top 100 spenders of that dimension whose budget (`Budgets.get`) has (spent + reserved) /
 *   limit ≥ `nearAt` (default 0.8; a zero limit counts as used up). Without a `Budgets` service there are none; an id
 *   that is not a valid budget scope id has no budget.
 * - **Observing never fails**: `observe` and `judged` are synchronous and ignore a malformed sample (a cost that is
 *   not a finite non-negative number counts as unknown; a verdict with such a cost is dropped).
 *
 * The order is fixed: cache recommendations, then cheaper models, then budgets, each by descending savings or use.
 * Like LiteLLM's / Portkey's usage insights; hand-rolled over troupe's own ledger (effect has no such service).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { BudgetStoreError } from "../budget/BudgetError.ts"
import { Budgets } from "../budget/Budgets.ts"
import { LruMap } from "../internal/LruMap.ts"
import type { InvalidOptions } from "../runtime/index.ts"
import * as Options from "../runtime/internal/Options.ts"
import { Costs } from "./Costs.ts"
import type { CostsStoreError } from "./CostsError.ts"

/** One answered call, as the pipeline reports it. */
export interface RecommendationSample {
  /** The resolved `provider:model` that answered. */
  readonly model: string
  /** The model the call named (alias or spec). */
  readonly requested: string
  /** The sha256 hex of the canonical request (model, messages, tools): never the prompt text. */
  readonly messagesHash: string
  /** `true` when the answer came from the response cache. */
  readonly cached: boolean
  /** USD, or `undefined` for an unpriced model. */
  readonly cost: number | undefined
  readonly tenant?: string
}

/** One judge verdict: did `sibling` answer as `model` did, and what each answer cost (USD). */
export interface JudgeVerdict {
  readonly model: string
  readonly sibling: string
  readonly agree: boolean
  readonly modelCost: number
  readonly siblingCost: number
}

/** A period `recommend` reads the ledger for. */
export type RecommendationPeriod = "day" | "month"

/** Prompts of `model` repeat without cache hits: turning the response cache on would save `estimatedSavings` USD. */
export interface EnableCacheRecommendation {
  readonly _tag: "enable-cache"
  readonly model: string
  /** Distinct prompts seen at least `minRepeats` times. */
  readonly prompts: number
  /** Σ (count − 1) over those prompts: the calls a cache would have answered. */
  readonly repeats: number
  readonly estimatedSavings: number
}

/** `sibling` answered as `model` did in `agreement` of `samples` judged calls, for less. */
export interface CheaperModelRecommendation {
  readonly _tag: "cheaper-model"
  readonly model: string
  readonly sibling: string
  readonly agreement: number
  readonly samples: number
  /** The model's spend in the period, USD. */
  readonly spend: number
  readonly estimatedSavings: number
}

/** A budget scope whose spend and holds reached `used` (≥ `nearAt`) of its limit. */
export interface BudgetNearLimitRecommendation {
  readonly _tag: "budget-near-limit"
  readonly scope: string
  readonly limit: number
  readonly spent: number
  readonly reserved: number
  /** (spent + reserved) / limit. */
  readonly used: number
}

/** One recommendation. */
export type Recommendation = EnableCacheRecommendation | CheaperModelRecommendation | BudgetNearLimitRecommendation

/** Options of `Recommendations.layer`. */
export interface RecommendationsOptions {
  /** The most prompt hashes kept (default 10,000; at most 1,000,000). */
  readonly maxPrompts?: number
  /** The most (model, sibling) pairs kept (default 1,000; at most 100,000). */
  readonly maxPairs?: number
  /** Computed calls of one prompt before caching is recommended (default 3; from 2 to 1e9). */
  readonly minRepeats?: number
  /** Verdicts of a pair before a cheaper model is recommended (default 20; from 1 to 1e9). */
  readonly minSamples?: number
  /** The agreement a pair needs (default 0.9, in [0, 1]). */
  readonly minAgreement?: number
  /** The fraction of a budget at which it is near its limit (default 0.8, in [0, 1]). */
  readonly nearAt?: number
}

/** The service interface. */
export interface RecommendationsShape {
  /** Notes one answered call (synchronous, never fails; see the module doc). */
  readonly observe: (sample: RecommendationSample) => void
  /** Notes one judge verdict (synchronous, never fails). */
  readonly judged: (verdict: JudgeVerdict) => void
  /**
   * The recommendations for `period` (default `month`). Fails with `CostsStoreError` when the `Costs` ledger's store
   * (Redis, PostgreSQL) fails a `stats` read, and with `BudgetStoreError` when the `Budgets` store fails a `get`.
   */
  readonly recommend: (
    options?: { readonly period?: RecommendationPeriod }
  ) => Effect.Effect<ReadonlyArray<Recommendation>, CostsStoreError | BudgetStoreError>
}

const Fraction = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const upTo = (max: number) => Options.PositiveInt.check(Schema.isLessThanOrEqualTo(max))
const OptionsSchema = Schema.Struct({
  maxPrompts: Schema.optionalKey(upTo(1_000_000)),
  maxPairs: Schema.optionalKey(upTo(100_000)),
  minRepeats: Schema.optionalKey(upTo(1_000_000_000).check(Schema.isGreaterThanOrEqualTo(2))),
  minSamples: Schema.optionalKey(upTo(1_000_000_000)),
  minAgreement: Schema.optionalKey(Fraction),
  nearAt: Schema.optionalKey(Fraction)
})

/** The most spenders per dimension whose budgets `recommend` reads. */
export const MAX_BUDGET_CANDIDATES = 100

interface PromptRow {
  readonly model: string
  count: number
  costSum: number
  costCount: number
  hit: boolean
}

interface PairRow {
  readonly model: string
  readonly sibling: string
  agreed: number
  samples: number
  modelCost: number
  siblingCost: number
}

const validCost = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u) && u >= 0
const dimensions = ["key", "principal", "tenant"] as const

/**
 * Builds the service over `costs` and optional `budgets` (used by `Recommendations.layer`; exported for tests and
 * benches). Fails with `InvalidOptions` when an option is out of its range (see `RecommendationsOptions`).
 */
export const make = (
  costs: Context.Service.Shape<typeof Costs>,
  budgets: Context.Service.Shape<typeof Budgets> | undefined,
  options: RecommendationsOptions = {}
): Effect.Effect<RecommendationsShape, InvalidOptions> =>
  Effect.map(
    Effect.fromResult(Options.validate(OptionsSchema, options, "recommendations options")),
    (o) => {
      const maxPrompts = o.maxPrompts ?? 10_000
      const maxPairs = o.maxPairs ?? 1_000
      const minRepeats = o.minRepeats ?? 3
      const minSamples = o.minSamples ?? 20
      const minAgreement = o.minAgreement ?? 0.9
      const nearAt = o.nearAt ?? 0.8
      const prompts = new LruMap<string, PromptRow>(maxPrompts)
      const pairs = new LruMap<string, PairRow>(maxPairs)

      const observe = (sample: RecommendationSample): void => {
        if (typeof sample !== "object" || sample === null) return
        const { cached, cost, messagesHash: hash, model } = sample
        if (typeof hash !== "string" || typeof model !== "string") return
        const row = prompts.get(hash) ?? { model, count: 0, costSum: 0, costCount: 0, hit: false }
        if (cached === true) row.hit = true
        else {
          row.count++
          if (validCost(cost)) {
            row.costSum += cost
            row.costCount++
          }
        }
        prompts.set(hash, row)
      }

      const judged = (verdict: JudgeVerdict): void => {
        if (typeof verdict !== "object" || verdict === null) return
        const { agree, model, modelCost, sibling, siblingCost } = verdict
        if (typeof model !== "string" || typeof sibling !== "string" || typeof agree !== "boolean") return
        if (!validCost(modelCost) || !validCost(siblingCost)) return
        const key = `${model}\u0000${sibling}`
        const row = pairs.get(key) ?? { model, sibling, agreed: 0, samples: 0, modelCost: 0, siblingCost: 0 }
        row.samples++
        if (agree) row.agreed++
        row.modelCost += modelCost
        row.siblingCost += siblingCost
        pairs.set(key, row)
      }

      const cacheAdvice = (): Array<EnableCacheRecommendation> => {
        const byModel = new Map<string, { prompts: number; repeats: number; savings: number }>()
        for (const row of prompts.values()) {
          if (row.hit || row.count < minRepeats || row.costCount === 0) continue
          const m = byModel.get(row.model) ?? { prompts: 0, repeats: 0, savings: 0 }
          m.prompts++
          m.repeats += row.count - 1
          m.savings += (row.count - 1) * (row.costSum / row.costCount)
          byModel.set(row.model, m)
        }
        return [...byModel].filter(([, m]) => m.savings > 0).map(([model, m]): EnableCacheRecommendation => ({
          _tag: "enable-cache",
          model,
          prompts: m.prompts,
          repeats: m.repeats,
          estimatedSavings: m.savings
        })).sort((a, b) => b.estimatedSavings - a.estimatedSavings)
      }

      const modelAdvice = (period: RecommendationPeriod) => {
        const eligible = [...pairs.values()].filter((p) =>
          p.samples >= minSamples && p.agreed / p.samples >= minAgreement && p.modelCost > 0
        )
        if (eligible.length === 0) return Effect.succeed([])
        return Effect.map(costs.stats({ period, groupBy: "model" }), (stats) =>
          eligible.flatMap((p): Array<CheaperModelRecommendation> => {
            const spend = stats.groups[p.model] ?? 0
            const estimatedSavings = spend * (1 - p.siblingCost / p.modelCost)
            return estimatedSavings > 0
              ? [{
                _tag: "cheaper-model",
                model: p.model,
                sibling: p.sibling,
                agreement: p.agreed / p.samples,
                samples: p.samples,
                spend,
                estimatedSavings
              }]
              : []
          }).sort((a, b) =>
            b.estimatedSavings - a.estimatedSavings
          ))
      }

      const budgetAdvice = (period: RecommendationPeriod) =>
        budgets === undefined
          ? Effect.succeed([])
          : Effect.gen(function*() {
            const scopes: Array<string> = []
            for (const dimension of dimensions) {
              const stats = yield* costs.stats({ period, groupBy: dimension })
              const top = Object.entries(stats.groups).filter(([id]) => id !== "-").sort((a, b) => b[1] - a[1])
              for (const [id] of top.slice(0, MAX_BUDGET_CANDIDATES)) scopes.push(`${dimension}:${id}`)
            }
            const out: Array<BudgetNearLimitRecommendation> = []
            for (const scope of scopes) {
              // a malformed scope id (InvalidOptions) has no budget; a store failure is the caller's error
              const status = yield* budgets.get(scope).pipe(
                Effect.catchTag("InvalidOptions", () => Effect.succeed(Option.none()))
              )
              if (Option.isNone(status)) continue
              const { limit, reserved, spent } = status.value
              const used = limit > 0 ? (spent + reserved) / limit : 1
              if (used >= nearAt) out.push({ _tag: "budget-near-limit", scope, limit, spent, reserved, used })
            }
            return out.sort((a, b) => b.used - a.used)
          })

      const recommend: RecommendationsShape["recommend"] = (opts) => {
        const period = opts?.period ?? "month"
        return Effect.map(
          Effect.all([modelAdvice(period), budgetAdvice(period)]),
          ([models, near]): ReadonlyArray<Recommendation> => [...cacheAdvice(), ...models, ...near]
        )
      }
      return { observe, judged, recommend }
    }
  )

/**
 * Recommendations from recorded usage (see the module doc).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const recommendations = yield* Recommendations
 *   return yield* recommendations.recommend({ period: "month" })
 * }).pipe(Effect.provide(Recommendations.layer().pipe(Layer.provide(Costs.layerMemory()))))
 * ```
 */
export class Recommendations
  extends Context.Service<Recommendations, RecommendationsShape>()("troupe/costs/Recommendations")
{
  /**
   * The service over the `Costs` ledger in context (and `Budgets`, when present). Building it fails with
   * `InvalidOptions` when an option is out of its range, naming the path.
   */
  static readonly layer = (options: RecommendationsOptions = {}): Layer.Layer<Recommendations, InvalidOptions, Costs> =>
    Layer.effect(
      Recommendations,
      Effect.gen(function*() {
        const costs = yield* Costs
        const budgets = Option.getOrUndefined(yield* Effect.serviceOption(Budgets))
        return yield* make(costs, budgets, options)
      })
    )
}

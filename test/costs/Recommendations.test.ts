/**
 * `Recommendations`: each rule of the module doc (enable the cache where prompts repeat; a cheaper sibling that
 * answers equally; keys near their budget; observing never fails), the bounds of its tables, typed store failures,
 * and fast-check fuzz of the layer's options and of `observe` / `judged` inputs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as fc from "fast-check"
import { Budgets, BudgetStoreError } from "../../src/budget/index.ts"
import type { Recommendation, RecommendationsOptions } from "../../src/costs/index.ts"
import {
  Costs,
  CostsStoreError,
  makeRecommendations,
  MAX_BUDGET_CANDIDATES,
  Recommendations
} from "../../src/costs/index.ts"

const sample = (hash: string, cost: number | undefined, extra: { cached?: boolean; model?: string } = {}) => ({
  model: extra.model ?? "openai:gpt-4o",
  requested: "smart",
  messagesHash: hash,
  cached: extra.cached ?? false,
  cost
})

const layer = (options: RecommendationsOptions = {}) =>
  Recommendations.layer(options).pipe(Layer.provideMerge(Costs.layerMemory()))

const layerWithBudgets = (options: RecommendationsOptions = {}) =>
  Recommendations.layer(options).pipe(Layer.provideMerge(Layer.merge(Costs.layerMemory(), Budgets.layerMemory())))

const tagged = <T extends Recommendation["_tag"]>(list: ReadonlyArray<Recommendation>, tag: T) =>
  list.filter((r): r is Extract<Recommendation, { _tag: T }> => r._tag === tag)

describe("Recommendations", () => {
  it.effect("enable the cache where prompts repeat: prompts computed minRepeats times without a cache hit; savings Σ (count − 1) × mean cost", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      for (const cost of [0.01, 0.03, 0.02]) r.observe(sample("a", cost)) // 3 times, mean 0.02: saves 2 × 0.02
      for (let i = 0; i < 4; i++) r.observe(sample("b", 0.1, { model: "anthropic:claude" })) // saves 3 × 0.1
      r.observe(sample("c", 0.5)) // seen twice: below minRepeats
      r.observe(sample("c", 0.5))
      const list = tagged(yield* r.recommend(), "enable-cache")
      assert.deepStrictEqual(list.map((x) => [x.model, x.prompts, x.repeats]), [
        ["anthropic:claude", 1, 3],
        ["openai:gpt-4o", 1, 2]
      ])
      assert.closeTo(list[0]!.estimatedSavings, 0.3, 1e-9)
      assert.closeTo(list[1]!.estimatedSavings, 0.04, 1e-9)
    }).pipe(Effect.provide(layer())))

  it.effect("enable the cache where prompts repeat: a prompt answered from the cache, an unpriced or a free one is not recommended", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      for (let i = 0; i < 5; i++) r.observe(sample("hit", 0.1))
      r.observe(sample("hit", 0, { cached: true }))
      for (let i = 0; i < 5; i++) r.observe(sample("unpriced", undefined))
      for (let i = 0; i < 5; i++) r.observe(sample("free", 0))
      assert.deepStrictEqual(yield* r.recommend(), [])
    }).pipe(Effect.provide(layer({ minRepeats: 2 }))))

  it.effect("a cheaper sibling that answers equally: minSamples verdicts with agreement ≥ minAgreement; savings = spend × (1 − Σ sibling cost / Σ model cost)", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      const costs = yield* Costs
      yield* costs.record({ cost: 10, model: "openai:gpt-4o" })
      yield* costs.record({ cost: 4, model: "anthropic:opus" })
      for (let i = 0; i < 10; i++) {
        r.judged({
          model: "openai:gpt-4o",
          sibling: "openai:gpt-4o-mini",
          agree: i !== 0,
          modelCost: 1,
          siblingCost: 0.1
        })
      }
      // opus → haiku: 10 samples but 8 of 10 agreed (< 0.9); big → small: all agreed but 9 samples (< 10)
      for (let i = 0; i < 10; i++) {
        r.judged({ model: "anthropic:opus", sibling: "anthropic:haiku", agree: i > 1, modelCost: 1, siblingCost: 0.2 })
      }
      for (let i = 0; i < 9; i++) {
        r.judged({ model: "x:big", sibling: "x:small", agree: true, modelCost: 1, siblingCost: 0.1 })
      }
      const list = tagged(yield* r.recommend({ period: "day" }), "cheaper-model")
      assert.strictEqual(list.length, 1)
      const [only] = list
      assert.deepStrictEqual([only!.model, only!.sibling, only!.samples, only!.spend], [
        "openai:gpt-4o",
        "openai:gpt-4o-mini",
        10,
        10
      ])
      assert.closeTo(only!.agreement, 0.9, 1e-9)
      assert.closeTo(only!.estimatedSavings, 9, 1e-9)
    }).pipe(Effect.provide(layer({ minSamples: 10 }))))

  it.effect("a cheaper sibling that answers equally: no spend in the period, or a sibling that is not cheaper, gives none", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      const costs = yield* Costs
      yield* costs.record({ cost: 3, model: "b:model" })
      for (let i = 0; i < 3; i++) {
        r.judged({ model: "a:model", sibling: "a:mini", agree: true, modelCost: 1, siblingCost: 0.5 })
        r.judged({ model: "b:model", sibling: "b:same", agree: true, modelCost: 1, siblingCost: 1 })
      }
      assert.deepStrictEqual(yield* r.recommend(), [])
    }).pipe(Effect.provide(layer({ minSamples: 3 }))))

  it.effect("keys near their budget: top spenders by key, principal and tenant whose (spent + reserved) / limit ≥ nearAt", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      const costs = yield* Costs
      const budgets = yield* Budgets
      yield* costs.record({ cost: 1, key: "k1", principal: "ada", tenant: "acme" })
      yield* costs.record({ cost: 1, key: "k2", tenant: "globex" })
      yield* budgets.set({ scope: "key:k1", limit: 10, period: "month" })
      yield* budgets.set({ scope: "principal:ada", limit: 10, period: "month" })
      yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month" })
      yield* budgets.set({ scope: "key:k2", limit: 0, period: "month" })
      // key:k1 spent 8.5 (0.85 of its limit); principal:ada holds 8 (0.8, with the hold); tenant:acme 0.5 (0.05)
      const k1 = yield* budgets.reserve({ scopes: ["key:k1"], amount: 8.5 })
      yield* budgets.settle(k1, 8.5)
      yield* budgets.reserve({ scopes: ["principal:ada"], amount: 8 })
      const acme = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5 })
      yield* budgets.settle(acme, 0.5)
      const list = tagged(yield* r.recommend(), "budget-near-limit")
      assert.deepStrictEqual(list.map((x) => x.scope), ["key:k2", "key:k1", "principal:ada"])
      assert.closeTo(list[1]!.used, 0.85, 1e-6)
      assert.deepStrictEqual([list[2]!.spent, list[2]!.reserved, list[2]!.limit], [0, 8, 10])
    }).pipe(Effect.provide(layerWithBudgets())))

  it.effect("keys near their budget: without a Budgets service there are none; a spender id that is no budget scope id is skipped", () =>
    Effect.gen(function*() {
      const costs = yield* Costs
      yield* costs.record({ cost: 1, key: "k1", tenant: "bad tenant id!" })
      const without = yield* makeRecommendations(costs, undefined)
      assert.deepStrictEqual(yield* without.recommend(), [])
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "key:k1", limit: 1, period: "month" })
      const r1 = yield* budgets.reserve({ scopes: ["key:k1"], amount: 1 })
      yield* budgets.settle(r1, 1)
      const withBudgets = yield* makeRecommendations(costs, budgets)
      assert.deepStrictEqual((yield* withBudgets.recommend()).map((x) => x._tag), ["budget-near-limit"])
    }).pipe(Effect.provide(Layer.merge(Costs.layerMemory(), Budgets.layerMemory()))))

  it.effect("keys near their budget: only the period's top 100 spenders of a dimension are read", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      const costs = yield* Costs
      const budgets = yield* Budgets
      for (let i = 0; i <= MAX_BUDGET_CANDIDATES; i++) {
        yield* costs.record({ cost: 1 + i, key: `k${i}` }) // k0 spends least
        yield* budgets.set({ scope: `key:k${i}`, limit: 0, period: "month" })
      }
      const scopes = tagged(yield* r.recommend(), "budget-near-limit").map((x) => x.scope)
      assert.strictEqual(scopes.length, MAX_BUDGET_CANDIDATES)
      assert.notInclude(scopes, "key:k0")
    }).pipe(Effect.provide(layerWithBudgets())))

  it.effect("bounds: at most maxPrompts prompt hashes (the least recently seen dropped) and maxPairs pairs", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      const costs = yield* Costs
      yield* costs.record({ cost: 1, model: "m:0" })
      yield* costs.record({ cost: 1, model: "m:2" })
      r.observe(sample("old", 1))
      r.observe(sample("old", 1))
      r.observe(sample("kept", 1))
      r.observe(sample("kept", 1))
      r.observe(sample("new", 1)) // a third hash: "old", the least recently seen, is dropped
      const cache = tagged(yield* r.recommend(), "enable-cache")
      assert.deepStrictEqual(cache.map((x) => [x.prompts, x.repeats]), [[1, 1]]) // "kept" only
      for (const m of [0, 1, 2]) r.judged({ model: `m:${m}`, sibling: "s", agree: true, modelCost: 1, siblingCost: 0 })
      const models = tagged(yield* r.recommend(), "cheaper-model")
      assert.deepStrictEqual(models.map((x) => x.model), ["m:2"]) // m:0 was dropped, m:1 has no spend
    }).pipe(Effect.provide(layer({ maxPrompts: 2, maxPairs: 2, minRepeats: 2, minSamples: 1 }))))

  it.effect("bounds: fuzzed streams of prompts never keep more than maxPrompts hashes", () =>
    Effect.gen(function*() {
      const costs = yield* Costs
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 60 }), async (n, max) => {
            const r = await Effect.runPromise(makeRecommendations(costs, undefined, { maxPrompts: max, minRepeats: 2 }))
            for (let i = 0; i < n; i++) {
              r.observe(sample(`h${i}`, 0.01))
              r.observe(sample(`h${i}`, 0.01))
            }
            const [cache] = await Effect.runPromise(r.recommend())
            assert.strictEqual(cache?._tag === "enable-cache" ? cache.prompts : 0, Math.min(n, max))
          }),
          { numRuns: 100 }
        )
      )
    }).pipe(Effect.provide(Costs.layerMemory())))

  it.effect("a ledger store failure is a typed CostsStoreError; a budget store failure a typed BudgetStoreError", () =>
    Effect.gen(function*() {
      const down = new CostsStoreError({ operation: "stats", detail: "connection refused" })
      const costs = {
        record: () => Effect.void,
        stats: () => Effect.fail(down),
        savings: () => Effect.fail(down),
        forecast: () => Effect.fail(down)
      }
      const r = yield* makeRecommendations(costs, undefined, { minSamples: 1 })
      r.judged({ model: "a:x", sibling: "a:y", agree: true, modelCost: 1, siblingCost: 0 })
      const failed = yield* Effect.flip(r.recommend())
      assert.strictEqual(failed._tag, "CostsStoreError")
      const ledger = yield* Costs
      yield* ledger.record({ cost: 1, key: "k1" })
      const budgetsDown = new BudgetStoreError({ operation: "get", detail: "connection refused" })
      const budgets = yield* Budgets
      const b = yield* makeRecommendations(ledger, { ...budgets, get: () => Effect.fail(budgetsDown) })
      assert.strictEqual((yield* Effect.flip(b.recommend()))._tag, "BudgetStoreError")
    }).pipe(Effect.provide(Layer.merge(Costs.layerMemory(), Budgets.layerMemory()))))

  it.effect("fuzz: options out of range fail with InvalidOptions naming the path; in range they build", () =>
    Effect.gen(function*() {
      const costs = yield* Costs
      const anything = fc.oneof(fc.integer({ min: -5, max: 2_000_000 }), fc.double(), fc.string(), fc.constant(null))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom("maxPrompts", "maxPairs", "minRepeats", "minSamples", "minAgreement", "nearAt"),
            anything,
            async (name, value) => {
              const exit = await Effect.runPromiseExit(makeRecommendations(costs, undefined, { [name]: value }))
              const ok = typeof value === "number" && Number.isFinite(value) && (
                name === "minAgreement" || name === "nearAt"
                  ? value >= 0 && value <= 1
                  : Number.isInteger(value) && value >= (name === "minRepeats" ? 2 : 1) &&
                    value <= (name === "maxPrompts" ? 1_000_000 : name === "maxPairs" ? 100_000 : 1e9)
              )
              if (ok) assert.isTrue(Exit.isSuccess(exit))
              else {
                assert.isTrue(Exit.isFailure(exit))
                const error = Exit.isFailure(exit) ? exit.cause.toString() : ""
                assert.include(error, "InvalidOptions")
                assert.include(error, name)
              }
            }
          ),
          { numRuns: 200 }
        )
      )
    }).pipe(Effect.provide(Costs.layerMemory())))

  it.effect("observing never fails: fuzzed observe and judged inputs never throw and recommend still answers", () =>
    Effect.gen(function*() {
      const r = yield* Recommendations
      fc.assert(
        fc.property(fc.anything(), fc.anything(), fc.string(), (a, b, hash) => {
          // untrusted shapes on purpose: the service must shrug them off
          r.observe(a as never)
          r.judged(b as never)
          r.observe(sample(hash, typeof b === "number" ? b : undefined))
        }),
        { numRuns: 500 }
      )
      const list = yield* r.recommend()
      assert.isTrue(list.every((x) => x._tag !== "enable-cache" || x.estimatedSavings > 0))
    }).pipe(Effect.provide(layer({ maxPrompts: 50 }))))
})

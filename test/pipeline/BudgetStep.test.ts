import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import { Budgets, toMicros } from "../../src/budget/index.ts"
import type { LlmRequest } from "../../src/llm/index.ts"
import { makeUsage, ProviderServerError, Tokenizer } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { costOf, DEFAULT_MAX_OUTPUT_TOKENS, Llm, LlmPipeline } from "../../src/pipeline/index.ts"
import { CountingProvider, withPipelineDeps } from "./support.ts"

const PRICE = { input: 2, output: 8 } // USD per million tokens
const ask = (
  content: string,
  options: Record<string, unknown> = { tenant: "acme" },
  params?: Record<string, unknown>
): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], options, ...(params ? { params } : {}) }) as LlmCallInput

const layerFor = (provider: CountingProvider) =>
  LlmPipeline.layerWithBudgets({ retry: { jitter: 0, retries: 0 }, usage: { prices: { "primary:model-a": PRICE } } })
    .pipe(
      withPipelineDeps([provider.provider], { extra: Budgets.layerMemory() })
    )

const tenant = Effect.gen(function*() {
  return Option.getOrThrow(yield* (yield* Budgets).get("tenant:acme"))
})

describe("BudgetStep", () => {
  it.effect("reserve the estimated maximum before the call: a scope that cannot hold it fails before any provider is asked", () => {
    const provider = new CountingProvider("primary")
    const call = ask("What does this cost?", { tenant: "acme" }, { maxTokens: 100 })
    const input = Tokenizer.charEstimate.countRequest(call as LlmRequest, "model-a")
    const expected = costOf(PRICE, makeUsage(input, 100))
    return Effect.gen(function*() {
      yield* (yield* Budgets).set({ scope: "tenant:acme", limit: expected * 0.99, period: "month" })
      const e = yield* Effect.flip((yield* Llm).generate(call))
      assert.strictEqual(e._tag, "BudgetExceeded")
      assert.strictEqual(e._tag === "BudgetExceeded" ? e.requested : -1, toMicros(expected) / 1e6)
      assert.strictEqual(provider.calls, 0)
      assert.strictEqual((yield* tenant).reserved, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("settle at the actual cost: the spend is the answer's cost, nothing stays reserved; cache hits cost nothing", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
      const llm = yield* Llm
      const result = yield* llm.generate(ask("hello"))
      const after = yield* tenant
      assert.isAbove(result.meta.costUsd ?? 0, 0)
      assert.closeTo(after.spent, result.meta.costUsd ?? 0, 1e-6)
      assert.strictEqual(after.reserved, 0)
      const again = yield* llm.generate(ask("hello"))
      assert.isTrue(again.meta.cached)
      assert.strictEqual((yield* tenant).spent, after.spent)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("the estimate assumes defaultMaxOutputTokens without maxTokens, and the principal is charged beside the tenant", () => {
    const provider = new CountingProvider("primary")
    const call = ask("estimate me", { tenant: "acme", user: "alice" })
    const input = Tokenizer.charEstimate.countRequest(call as LlmRequest, "model-a")
    const expected = costOf(PRICE, makeUsage(input, DEFAULT_MAX_OUTPUT_TOKENS))
    return Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
      yield* budgets.set({ scope: "principal:alice", limit: expected / 2, period: "day" })
      const e = yield* Effect.flip((yield* Llm).generate(call))
      assert.strictEqual(e._tag === "BudgetExceeded" ? e.scope : "", "principal:alice")
      assert.strictEqual(e._tag === "BudgetExceeded" ? e.requested : -1, toMicros(expected) / 1e6)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a failed call releases its hold and spends nothing", () => {
    const provider = new CountingProvider(
      "primary",
      () => ({
        error: new ProviderServerError({ provider: "primary", status: 500, description: "down", retryable: false })
      })
    )
    return Effect.gen(function*() {
      yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
      yield* Effect.flip((yield* Llm).generate(ask("fail")))
      const s = yield* tenant
      assert.strictEqual(s.reserved, 0)
      assert.strictEqual(s.spent, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("streams settle on their Finish part; a dropped stream releases its hold", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
      const llm = yield* Llm
      const parts = yield* Stream.runCollect(llm.stream(ask("stream me", { tenant: "acme", cache: "bypass" })))
      const finish = [...parts].find((p) => p._tag === "Finish")
      const s = yield* tenant
      assert.closeTo(s.spent, finish?._tag === "Finish" ? finish.meta.costUsd ?? 0 : -1, 1e-6)
      assert.strictEqual(s.reserved, 0)
      const fiber = yield* Effect.forkChild(
        Stream.runDrain(llm.stream(ask("and drop me", { tenant: "acme", cache: "bypass" })).pipe(Stream.take(1)))
      )
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* tenant).reserved, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a tenant that is not a budget scope id fails the call with InvalidLlmRequest naming it", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      const e = yield* Effect.flip((yield* Llm).generate(ask("hi", { tenant: "acme corp" })))
      assert.strictEqual(e._tag, "InvalidLlmRequest")
      assert.strictEqual(e._tag === "InvalidLlmRequest" ? e.path : "", "options.tenant")
      assert.strictEqual(provider.calls, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })
})

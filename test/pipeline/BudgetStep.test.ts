import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Stream } from "effect"
import { Budgets, BudgetStoreError, toMicros } from "../../src/budget/index.ts"
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

const layerFor = (provider: CountingProvider, budgets: Layer.Layer<Budgets, unknown> = Budgets.layerMemory()) =>
  LlmPipeline.layerWithBudgets({ retry: { jitter: 0, retries: 0 }, usage: { prices: { "primary:model-a": PRICE } } })
    .pipe(
      withPipelineDeps([provider.provider], { extra: budgets })
    )

/** A store operation held at a gate: `entered` once it reached the gate, it goes on once `open` is completed. */
interface Gate {
  readonly entered: Deferred.Deferred<void>
  readonly open: Deferred.Deferred<void>
}
const gate: Effect.Effect<Gate> = Effect.all({ entered: Deferred.make<void>(), open: Deferred.make<void>() })
const pass = (g: Gate) => Effect.andThen(Deferred.succeed(g.entered, void 0), Deferred.await(g.open))

/**
 * Memory budgets whose store answers slowly: `reserve` is applied at once but its reply waits at the gate (a Redis
 * script that ran while the caller was interrupted); `settle` waits at the gate before it is applied (a PostgreSQL
 * transaction that rolls back when interrupted), or fails (`failSettle`).
 */
const slowBudgets = (gates: { readonly reserve?: Gate; readonly settle?: Gate; readonly failSettle?: boolean }) =>
  Layer.effect(
    Budgets,
    Effect.map(Budgets, (inner) =>
      Budgets.of({
        ...inner,
        reserve: (input) =>
          gates.reserve === undefined ? inner.reserve(input) : Effect.tap(inner.reserve(input), pass(gates.reserve)),
        settle: (reservation, actual) =>
          gates.failSettle === true
            ? Effect.fail(new BudgetStoreError({ operation: "settle", detail: "connection reset" }))
            : gates.settle === undefined
            ? inner.settle(reservation, actual)
            : Effect.andThen(pass(gates.settle), inner.settle(reservation, actual))
      }))
  ).pipe(Layer.provide(Budgets.layerMemory()))

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

  it.effect("a stream interrupted while its reservation is in flight releases its hold once the store answers", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      const g = yield* gate
      return yield* Effect.gen(function*() {
        yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
        const consumer = yield* Effect.forkChild(
          Stream.runDrain((yield* Llm).stream(ask("interrupt me", { tenant: "acme", cache: "bypass" }))),
          { startImmediately: true }
        )
        yield* Deferred.await(g.entered) // the store holds the amount; its reply is on the wire
        const interrupting = yield* Effect.forkChild(Fiber.interrupt(consumer), { startImmediately: true })
        yield* Effect.repeat(Effect.yieldNow, { times: 20 })
        yield* Deferred.succeed(g.open, void 0)
        yield* Fiber.join(interrupting)
        const s = yield* tenant
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 0)
        assert.strictEqual(provider.calls, 0)
      }).pipe(Effect.provide(layerFor(provider, slowBudgets({ reserve: g }))))
    })
  })

  it.effect("a stream interrupted while its settle is in flight is settled at its cost, never left held", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      const g = yield* gate
      return yield* Effect.gen(function*() {
        yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
        const consumer = yield* Effect.forkChild(
          Stream.runDrain((yield* Llm).stream(ask("settle me", { tenant: "acme", cache: "bypass" }))),
          { startImmediately: true }
        )
        yield* Deferred.await(g.entered) // the Finish part came; its settle waits on the store
        const interrupting = yield* Effect.forkChild(Fiber.interrupt(consumer), { startImmediately: true })
        yield* Effect.repeat(Effect.yieldNow, { times: 20 })
        yield* Deferred.succeed(g.open, void 0)
        yield* Fiber.join(interrupting)
        const s = yield* tenant
        assert.strictEqual(s.reserved, 0)
        assert.isAbove(s.spent, 0)
      }).pipe(Effect.provide(layerFor(provider, slowBudgets({ settle: g }))))
    })
  })

  it.effect("a stream whose settle fails releases its hold", () => {
    const provider = new CountingProvider("primary")
    return Effect.gen(function*() {
      yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 1, period: "month" })
      const parts = yield* Stream.runCollect(
        (yield* Llm).stream(ask("fail my settle", { tenant: "acme", cache: "bypass" }))
      )
      assert.isTrue([...parts].some((p) => p._tag === "Finish"))
      const s = yield* tenant
      assert.strictEqual(s.reserved, 0)
    }).pipe(Effect.provide(layerFor(provider, slowBudgets({ failSettle: true }))))
  })
})

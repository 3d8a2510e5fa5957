/**
 * ResponseCacheStep keys: the tenant and the credential scope a key as a separate component that no request content
 * can forge (a call carrying `params: { "troupe.tenant": "A" }` never reads tenant A's entry); an unscoped key is
 * `ResponseCache`'s for the same fields.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { BudgetExceeded } from "../../src/budget/index.ts"
import { Cache, makeResponseCache } from "../../src/cache/index.ts"
import type { LlmProviderShape, LlmResponse } from "../../src/llm/index.ts"
import { ProviderServerError, ScriptedProvider } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { CallDeadlineExceeded, Llm, RateLimitRefused, ResponseCacheStep } from "../../src/pipeline/index.ts"
import { assertScopesNeverShareAKey, contextOf, rawParams, target } from "./KeyScopeSupport.ts"
import { CountingProvider, pipelineLayer } from "./support.ts"

const answer = (text: string): LlmResponse => ({
  provider: "primary",
  model: "model-a",
  text,
  toolCalls: [],
  finishReason: "stop",
  usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
})

const stepLayer = ResponseCacheStep.layer().pipe(Layer.provideMerge(Cache.layerMemory({ maxEntries: 100 })))

describe("ResponseCacheStep: the tenant scopes a key in a way no request can forge", () => {
  it.effect("a call without a tenant, or of tenant B, carrying params {troupe.tenant: A} misses tenant A's entry", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      let calls = 0
      const model = Effect.sync(() => answer(`answer #${++calls}`))
      const tenantA = contextOf({ tenant: "A" })
      const keyA = step.keyOf(tenantA, target, { temperature: 0 })
      assert.isDefined(keyA)
      assert.strictEqual((yield* step.generate(keyA!, tenantA, model)).text, "answer #1")
      assert.strictEqual((yield* step.generate(keyA!, tenantA, model)).text, "answer #1") // A's own hit
      const forged = rawParams({ temperature: 0, "troupe.tenant": "A" })
      for (const context of [contextOf(), contextOf({ tenant: "B" })]) {
        const key = step.keyOf(context, target, forged)
        assert.notStrictEqual(key, keyA)
        const served = key === undefined ? yield* model : yield* step.generate(key, context, model)
        assert.notStrictEqual(served.text, "answer #1")
      }
      assert.strictEqual(calls, 3) // the model was called again for each forged call
    }).pipe(Effect.provide(stepLayer)))

  it.effect("through Llm: the forged param is dropped by decoding and the tenant-less call misses", () => {
    const primary = new CountingProvider("primary", (n) => ({ text: `answer #${n}` }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const ask = (options: Record<string, unknown>, params: Record<string, unknown>) =>
        llm.generate({ model: "fast", messages: [{ role: "user", content: "secret plan" }], params, ...options })
      assert.strictEqual((yield* ask({ options: { tenant: "A" } }, { temperature: 0 })).text, "answer #1")
      const forged = { temperature: 0, "troupe.tenant": "A" }
      const none = yield* ask({}, forged)
      const other = yield* ask({ options: { tenant: "B" } }, forged)
      assert.deepStrictEqual([none.meta.cached, other.meta.cached], [false, false])
      assert.strictEqual(primary.calls, 3)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("an unscoped key is ResponseCache's for the same fields; a scoped one is not", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      const responses = yield* makeResponseCache(yield* Cache)
      const plain = yield* responses.keyOf({
        provider: "primary",
        model: "model-a",
        messages: [{ role: "user", content: "secret plan" }],
        params: { temperature: 0 }
      })
      assert.strictEqual(step.keyOf(contextOf(), target, { temperature: 0 }), plain)
      const scoped = step.keyOf(contextOf({ tenant: "A" }), target, { temperature: 0 })
      assert.isTrue(scoped !== undefined && scoped !== plain && scoped.startsWith("llm:model-a:"))
    }).pipe(Effect.provide(stepLayer)))

  it.effect("no secret enters a key: a per-call API key appears in no key, and two keys never share one", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      const secret = "sk-live-0123456789abcdef"
      const withKey = step.keyOf(contextOf({ apiKey: Redacted.make(secret) }), target, undefined)
      const otherKey = step.keyOf(contextOf({ apiKey: Redacted.make(`${secret}x`) }), target, undefined)
      assert.isTrue(withKey !== undefined && !withKey.includes(secret) && !withKey.includes("0123456789abcdef"))
      assert.notStrictEqual(withKey, otherKey)
      assert.notStrictEqual(withKey, step.keyOf(contextOf(), target, undefined))
    }).pipe(Effect.provide(stepLayer)))

  it("fuzz: calls of different scopes never share a key, whatever params they carry", () =>
    Effect.runPromise(
      Effect.gen(function*() {
        const step = yield* ResponseCacheStep
        assertScopesNeverShareAKey((context, params) => step.keyOf(context, target, params))
      }).pipe(Effect.provide(stepLayer))
    ))
})

/** A provider answering after one second (TestClock), counting the calls it started. */
const slowProvider = () => {
  const counter = { started: 0 }
  const scripted = ScriptedProvider.makeUnsafe({
    name: "primary",
    latency: "1 second",
    rules: [{ when: "always", reply: () => ({ text: `answer ${counter.started}` }) }]
  })
  const provider: LlmProviderShape = {
    ...scripted,
    generate: (request, options) =>
      Effect.suspend(() => {
        counter.started++
        return scripted.generate(request, options)
      })
  }
  return { counter, provider }
}

const same = (options?: Record<string, unknown>): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content: "same" }], ...(options ? { options } : {}) }) as LlmCallInput

const errorOf = <A, E>(exit: Exit.Exit<A, E> | undefined): E | undefined =>
  exit !== undefined && Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe("ResponseCacheStep single-flight: each caller keeps its own deadline and refusals", () => {
  it.effect("each caller of a shared call is bounded by its own deadline: a waiter whose deadline passes fails with its own CallDeadlineExceeded and only leaves the shared call", () => {
    const slow = slowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(same()))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(same({ timeout: 500 })))
      yield* Effect.yieldNow
      yield* TestClock.adjust("600 millis")
      const error = errorOf(waiter.pollUnsafe())
      assert.isTrue(error instanceof CallDeadlineExceeded, "the waiter with a 500 ms timeout fails by then")
      assert.deepInclude(error, { timeoutMillis: 500, attempts: 0 })
      assert.isUndefined(leader.pollUnsafe(), "the leader goes on")
      yield* TestClock.adjust("400 millis")
      assert.strictEqual((yield* Fiber.join(leader)).text, "answer 1")
      assert.strictEqual(slow.counter.started, 1)
    }).pipe(Effect.provide(pipelineLayer([slow.provider], { retry: { jitter: 0, retries: 0 } })))
  })

  it.effect("a leader's own deadline is not handed to waiters: a waiter with time left still gets the answer", () => {
    const slow = slowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(same({ timeout: 500 })))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(same()))
      yield* Effect.yieldNow
      yield* TestClock.adjust("600 millis")
      assert.deepInclude(errorOf(leader.pollUnsafe()), { _tag: "CallDeadlineExceeded", timeoutMillis: 500 })
      assert.isUndefined(waiter.pollUnsafe(), "the waiter is not handed the leader's CallDeadlineExceeded")
      yield* TestClock.adjust("1 second")
      const answer = yield* Fiber.join(waiter)
      // the waiter ran the call itself when the leader's deadline passed
      assert.deepStrictEqual([answer.text, answer.meta.cached, slow.counter.started], ["answer 2", false, 2])
    }).pipe(Effect.provide(pipelineLayer([slow.provider], { retry: { jitter: 0, retries: 0 } })))
  })

  it.effect("an interrupted leader does not fail its waiters: a waiter runs the call itself", () => {
    const slow = slowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(same()))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(same()))
      yield* Effect.yieldNow
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(leader)
      assert.isUndefined(waiter.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(waiter)).text, "answer 2")
    }).pipe(Effect.provide(pipelineLayer([slow.provider], { retry: { jitter: 0, retries: 0 } })))
  })

  it.effect("a leader's own refusal is not handed to waiters: a waiter with time left runs the call itself", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      const refusals = [
        new RateLimitRefused({
          key: "provider=primary|model=model-a|apiKey=abc",
          policy: "p",
          tier: "t",
          resource: "requests",
          cost: 1,
          retryAfterMillis: 1000
        }),
        new BudgetExceeded({ scope: "principal:alice", limit: 0, spent: 0, reserved: 0, requested: 1 }),
        new CallDeadlineExceeded({ timeoutMillis: 1000, attempts: 1 })
      ]
      for (const refusal of refusals) {
        let ran = 0
        const context = contextOf({ tenant: refusal._tag })
        const key = step.keyOf(context, target, undefined)!
        const refused = Effect.andThen(Effect.sleep("1 second"), Effect.fail(refusal))
        const own = Effect.suspend(() => {
          ran++
          return Effect.as(Effect.sleep("1 second"), answer("the waiter's own answer"))
        })
        const leader = yield* Effect.forkChild(step.generate(key, context, refused))
        yield* Effect.yieldNow
        const waiter = yield* Effect.forkChild(step.generate(key, contextOf({ tenant: refusal._tag }), own))
        yield* Effect.yieldNow
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Effect.flip(Fiber.join(leader)), refusal)
        assert.isUndefined(waiter.pollUnsafe(), `the waiter is not handed the leader's ${refusal._tag}`)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(waiter)).text, "the waiter's own answer")
        assert.strictEqual(ran, 1)
      }
    }).pipe(Effect.provide(stepLayer)))

  it.effect("an answer or a provider error of the shared call is every waiter's", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      let ran = 0
      const failure = new ProviderServerError({ provider: "primary", status: 500, description: "x", retryable: true })
      const context = contextOf({ tenant: "errors" })
      const key = step.keyOf(context, target, undefined)!
      const failing = Effect.andThen(Effect.sleep("1 second"), Effect.fail(failure))
      const own = Effect.sync(() => answer(`answer #${++ran}`))
      const leader = yield* Effect.forkChild(step.generate(key, context, failing))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(step.generate(key, contextOf({ tenant: "errors" }), own))
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      assert.strictEqual<unknown>(yield* Effect.flip(Fiber.join(leader)), failure)
      assert.strictEqual<unknown>(yield* Effect.flip(Fiber.join(waiter)), failure)
      assert.strictEqual(ran, 0)
    }).pipe(Effect.provide(stepLayer)))
})

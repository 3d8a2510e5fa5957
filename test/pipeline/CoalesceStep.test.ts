import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { BudgetExceeded, Budgets } from "../../src/budget/index.ts"
import { Cache } from "../../src/cache/index.ts"
import type { LlmProviderShape, LlmRequest, LlmResponse } from "../../src/llm/index.ts"
import { ProviderServerError, ScriptedProvider } from "../../src/llm/index.ts"
import type { CallContext, LlmCallInput, LlmPipelineOptions } from "../../src/pipeline/index.ts"
import {
  BudgetStep,
  CallDeadlineExceeded,
  coalesceKeyOf,
  CoalesceStep,
  Llm,
  LlmPipeline,
  ProviderRegistry,
  RateLimitRefused
} from "../../src/pipeline/index.ts"
import { Shed } from "../../src/queue/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { assertScopesNeverShareAKey, contextOf, rawParams, target } from "./KeyScopeSupport.ts"
import { configLayer, withPipelineDeps } from "./support.ts"

/** A provider answering after one second (TestClock), counting started and interrupted calls. */
class SlowProvider {
  started = 0
  interrupted = 0
  fail = false
  readonly provider: LlmProviderShape
  constructor() {
    const scripted = ScriptedProvider.makeUnsafe({
      name: "primary",
      latency: "1 second",
      rules: [{
        when: "always",
        reply: (request: LlmRequest) => ({
          text: `answer ${this.started} to ${JSON.stringify(request.messages[0]?.content)}`
        })
      }]
    })
    this.provider = {
      ...scripted,
      generate: (request, options) =>
        Effect.suspend(() => {
          this.started++
          const answer = this.fail
            ? Effect.flatMap(Effect.sleep("1 second"), () =>
              Effect.fail(
                new ProviderServerError({ provider: "primary", status: 400, description: "bad", retryable: false })
              ))
            : scripted.generate(request, options)
          return answer.pipe(Effect.onInterrupt(() => Effect.sync(() => this.interrupted++)))
        })
    }
  }
}

const ask = (content: string, options?: Record<string, unknown>): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...(options ? { options } : {}) }) as LlmCallInput

// `Llm.layer` over the steps with the CoalesceStep kept in the output, so a test reads its counters
const layerFor = (provider: SlowProvider, options: LlmPipelineOptions = { cache: false }) =>
  Llm.layer.pipe(
    Layer.provideMerge(CoalesceStep.layer()),
    Layer.provide(LlmPipeline.layerSteps({ retry: { jitter: 0, retries: 0 }, ...options })),
    withPipelineDeps([provider.provider])
  )

const forkN = (n: number, call: LlmCallInput) =>
  Effect.gen(function*() {
    const llm = yield* Llm
    const fibers = []
    for (let i = 0; i < n; i++) fibers.push(yield* Effect.forkChild(llm.generate(call)))
    yield* Effect.yieldNow
    return fibers
  })

describe("CoalesceStep", () => {
  it.effect("LlmPipeline.layerWith combines optional steps: coalescing and budgets in one pipeline", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month" })
      const fibers = yield* forkN(3, ask("same", { tenant: "acme" }))
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(provider.started, 1)
      const status = yield* budgets.get("tenant:acme")
      assert.isTrue(status._tag === "Some" && status.value.reserved === 0)
    }).pipe(Effect.provide(
      LlmPipeline.layerWith({
        cache: false,
        retry: { jitter: 0, retries: 0 },
        steps: Layer.mergeAll(CoalesceStep.layer(), BudgetStep.layer())
      }).pipe(
        withPipelineDeps([provider.provider], { extra: Budgets.layerMemory() })
      )
    ))
  })

  it.effect("identical in-flight requests share one provider call with the response cache off", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const fibers = yield* forkN(5, ask("same"))
      yield* TestClock.adjust("1 second")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(provider.started, 1)
      assert.isTrue(results.every((r) => r.text === results[0]?.text))
      // the first caller paid; a waiter pays nothing (its meta reads like a cache hit)
      assert.strictEqual(results.filter((r) => !r.meta.cached).length, 1)
      assert.strictEqual((yield* CoalesceStep).coalesced(), 4)
      assert.strictEqual((yield* CoalesceStep).inFlight(), 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("identical in-flight requests share one provider call when the response cache is bypassed", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const fibers = yield* forkN(3, ask("same", { cache: "bypass" }))
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(provider.started, 1)
    }).pipe(Effect.provide(layerFor(provider, {})))
  })

  it.effect("different requests, tenants or credentials never share a call", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const calls = [ask("a"), ask("b"), ask("a", { tenant: "t1" }), ask("a", { tenant: "t2" })]
      const fibers = yield* Effect.forEach(calls, (c) => Effect.forkChild(llm.generate(c)))
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(provider.started, 4)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("an interrupted waiter does not cancel the shared call while others wait", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const [first, second, third] = yield* forkN(3, ask("same"))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(first!)
      yield* Fiber.interrupt(second!)
      yield* TestClock.adjust("500 millis")
      const result = yield* Fiber.join(third!)
      assert.include(result.text, "answer")
      assert.strictEqual(provider.started, 1)
      assert.strictEqual(provider.interrupted, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("the last waiter leaving cancels the shared call; the next identical request starts a fresh one", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const fibers = yield* forkN(2, ask("same"))
      yield* TestClock.adjust("500 millis")
      for (const fiber of fibers) yield* Fiber.interrupt(fiber)
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      assert.strictEqual(provider.interrupted, 1)
      assert.strictEqual((yield* CoalesceStep).inFlight(), 0)
      const [again] = yield* forkN(1, ask("same"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(again!)
      assert.strictEqual(provider.started, 2)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a failure is shared by every waiter", () => {
    const provider = new SlowProvider()
    provider.fail = true
    return Effect.gen(function*() {
      const fibers = yield* forkN(3, ask("same"))
      yield* TestClock.adjust("1 second")
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      assert.isTrue(exits.every(Exit.isFailure))
      assert.strictEqual(provider.started, 1)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("bounded: past maxInFlight a call runs on its own", () => {
    const provider = new SlowProvider()
    const layer = LlmPipeline.layerWithCoalescing({
      cache: false,
      retry: { jitter: 0, retries: 0 },
      coalesce: { maxInFlight: 1 }
    }).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          ProviderRegistry.layer([provider.provider]),
          Cache.layerMemory({ maxEntries: 100 }),
          RateLimiter.layerMemory({})
        )
      ),
      Layer.provideMerge(configLayer()),
      Layer.provideMerge(TelemetryHub.layer())
    )
    return Effect.gen(function*() {
      const llm = yield* Llm
      const a = yield* Effect.forkChild(llm.generate(ask("a")))
      const b1 = yield* Effect.forkChild(llm.generate(ask("b")))
      const b2 = yield* Effect.forkChild(llm.generate(ask("b")))
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach([a, b1, b2], Fiber.join)
      assert.strictEqual(provider.started, 3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a bad maxInFlight fails the layer with InvalidPipelineOptions", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Layer.build(CoalesceStep.layer({ maxInFlight: 0 })))
      assert.strictEqual(e._tag, "InvalidPipelineOptions")
      assert.strictEqual(e.path, "maxInFlight")
    }).pipe(Effect.scoped))

  it.effect("a call without a tenant, or of tenant B, carrying params {troupe.tenant: A} never joins tenant A's call", () =>
    Effect.gen(function*() {
      const step = yield* CoalesceStep
      let started = 0
      const model = Effect.suspend(() => {
        const n = ++started
        return Effect.as(
          Effect.sleep("1 second"),
          {
            provider: "primary",
            model: "model-a",
            text: `answer #${n}`,
            toolCalls: [],
            finishReason: "stop",
            usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
          } satisfies LlmResponse
        )
      })
      const shared = (context: CallContext, params: LlmRequest["params"]) => {
        const key = step.keyOf(context, target, params)
        return key === undefined ? model : step.around(model, key)
      }
      const tenantA = yield* Effect.forkChild(shared(contextOf({ tenant: "A" }), { temperature: 0 }))
      yield* Effect.yieldNow
      const forged = rawParams({ temperature: 0, "troupe.tenant": "A" })
      const others = yield* Effect.forEach(
        [contextOf(), contextOf({ tenant: "B" })],
        (context) => Effect.forkChild(shared(context, forged))
      )
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(tenantA)).text, "answer #1")
      const texts = yield* Effect.forEach(others, Fiber.join)
      assert.isFalse(texts.some((r) => r.text === "answer #1"))
      assert.strictEqual(started, 3)
      assert.strictEqual(step.coalesced(), 0)
    }).pipe(Effect.provide(CoalesceStep.layer())))

  it("fuzz: calls of different scopes never share a coalescing key, whatever params they carry", () =>
    assertScopesNeverShareAKey((context, params) => coalesceKeyOf(context, target, params)))

  it("fuzz: any batch of concurrent calls reaches the provider once per distinct request", () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("x", "y", "z", "w"), { minLength: 1, maxLength: 12 }),
        async (contents) => {
          const provider = new SlowProvider()
          const program = Effect.gen(function*() {
            const llm = yield* Llm
            const fibers = yield* Effect.forEach(contents, (c) => Effect.forkChild(llm.generate(ask(c))))
            yield* Effect.yieldNow
            yield* TestClock.adjust("1 second")
            const results = yield* Effect.forEach(fibers, Fiber.join)
            return results.length
          }).pipe(Effect.provide(layerFor(provider)), Effect.provide(TestClock.layer()))
          const n = await Effect.runPromise(program)
          return n === contents.length && provider.started === new Set(contents).size
        }
      ),
      { numRuns: 30 }
    ))
})

describe("CoalesceStep: each caller of a shared call keeps its own deadline and refusals", () => {
  it.effect("each caller of a shared call is bounded by its own deadline: a waiter whose deadline passes fails with its own CallDeadlineExceeded and only leaves the shared call", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(ask("same")))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(ask("same", { timeout: 500 })))
      yield* Effect.yieldNow
      yield* TestClock.adjust("600 millis")
      const exit = waiter.pollUnsafe()
      assert.isDefined(exit, "the waiter with a 500 ms timeout is still waiting after 600 ms")
      const error = exit !== undefined && Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error) && error.value instanceof CallDeadlineExceeded)
      assert.deepInclude(Option.getOrUndefined(error), { timeoutMillis: 500, attempts: 0 })
      assert.isUndefined(leader.pollUnsafe(), "the leader goes on")
      yield* TestClock.adjust("400 millis")
      assert.include((yield* Fiber.join(leader)).text, "answer")
      assert.deepStrictEqual([provider.started, provider.interrupted], [1, 0])
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a leader's own deadline is not handed to waiters: a waiter with time left still gets the answer", () => {
    const provider = new SlowProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(ask("same", { timeout: 500 })))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(ask("same")))
      yield* Effect.yieldNow
      yield* TestClock.adjust("600 millis")
      const exit = leader.pollUnsafe()
      assert.isTrue(exit !== undefined && Exit.isFailure(exit), "the leader fails by its own 500 ms timeout")
      assert.isUndefined(waiter.pollUnsafe(), "the waiter is not handed the leader's CallDeadlineExceeded")
      yield* TestClock.adjust("400 millis")
      assert.include((yield* Fiber.join(waiter)).text, "answer")
      assert.strictEqual(provider.started, 1) // the shared call went on for the waiter
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a leader's own refusal is not handed to waiters: a waiter with time left runs the call itself", () =>
    Effect.gen(function*() {
      const step = yield* CoalesceStep
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
        new Shed({ queue: "primary", reason: "priority", retryAfterMillis: 1000 }),
        new CallDeadlineExceeded({ timeoutMillis: 1000, attempts: 1 })
      ]
      for (const refusal of refusals) {
        let ran = 0
        const answer: LlmResponse = {
          provider: "primary",
          model: "model-a",
          text: "the waiter's own answer",
          toolCalls: [],
          finishReason: "stop",
          usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
        }
        const refused = Effect.andThen(Effect.sleep("1 second"), Effect.fail(refusal))
        const own = Effect.suspend(() => {
          ran++
          return Effect.as(Effect.sleep("1 second"), answer)
        })
        const key = `refused-${refusal._tag}`
        const leader = yield* Effect.forkChild(step.around(refused, key))
        yield* Effect.yieldNow
        const waiter = yield* Effect.forkChild(step.around(own, key))
        yield* Effect.yieldNow
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Effect.flip(Fiber.join(leader)), refusal)
        assert.isUndefined(waiter.pollUnsafe(), `the waiter is not handed the leader's ${refusal._tag}`)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(waiter)).text, "the waiter's own answer")
        assert.strictEqual(ran, 1)
      }
    }).pipe(Effect.provide(CoalesceStep.layer())))

  it.effect("the shared call is made with the leader's retries and fallbacks: its provider error is every waiter's", () => {
    let started = 0
    const provider: LlmProviderShape = {
      ...ScriptedProvider.makeUnsafe({ name: "primary" }),
      generate: () =>
        Effect.suspend(() => {
          started++
          return Effect.andThen(
            Effect.sleep("1 second"),
            Effect.fail(
              new ProviderServerError({ provider: "primary", status: 503, description: "busy", retryable: true })
            )
          )
        })
    }
    return Effect.gen(function*() {
      const llm = yield* Llm
      const leader = yield* Effect.forkChild(llm.generate(ask("same", { retries: 0 })))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(llm.generate(ask("same", { retries: 3, fallbacks: ["cheap"] })))
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      const [a, b] = [yield* Effect.flip(Fiber.join(leader)), yield* Effect.flip(Fiber.join(waiter))]
      assert.deepStrictEqual([a._tag, b._tag, started], ["ProviderServerError", "ProviderServerError", 1])
    }).pipe(Effect.provide(
      Llm.layer.pipe(
        Layer.provideMerge(CoalesceStep.layer()),
        Layer.provide(LlmPipeline.layerSteps({ cache: false, retry: { jitter: 0 } })),
        withPipelineDeps([provider])
      )
    ))
  })
})

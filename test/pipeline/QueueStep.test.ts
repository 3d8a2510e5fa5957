import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { ScriptedProvider } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import {
  BreakerStep,
  FallbackStep,
  Llm,
  LlmPipeline,
  ModelResolver,
  ProviderRegistry,
  QueueStep,
  RateLimitStep,
  ResponseCacheStep,
  RetryStep,
  UsageStep
} from "../../src/pipeline/index.ts"
import { withPipelineDeps } from "./support.ts"

const ask = (content: string): LlmCallInput =>
  ({
    model: "fast",
    messages: [{ role: "user", content }],
    options: { tenant: "acme", cache: "bypass" }
  }) as LlmCallInput

const layerFor = (queue: Layer.Layer<QueueStep, unknown>) =>
  Llm.layer.pipe(
    Layer.provide(queue),
    Layer.provide(LlmPipeline.layerSteps({ retry: { jitter: 0, retries: 0 } })),
    withPipelineDeps([ScriptedProvider.makeUnsafe({ name: "primary", latency: "1 second" })])
  )

// one layer value, so the pipeline and the test share one instance (layers are memoised by reference)
const statsQueue = QueueStep.layer({ queues: { primary: { concurrency: 1, capacity: 4 } } })

describe("QueueStep", () => {
  it.effect("keyed by provider: the provider route's queue bounds the calls; a full queue fails with QueueFull", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const first = yield* Effect.forkChild(llm.generate(ask("one")), { startImmediately: true })
      const second = yield* Effect.forkChild(llm.generate(ask("two")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      const third = yield* Effect.exit(llm.generate(ask("three")))
      assert.isTrue(Exit.isFailure(third))
      assert.include(String(Exit.isFailure(third) ? third.cause : ""), "QueueFull")
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
    }).pipe(Effect.provide(layerFor(QueueStep.layer({ queues: { primary: { concurrency: 1, capacity: 1 } } })))))

  it.effect("stats: each built queue's route, depth (waiting) and inFlight (running)", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const step = yield* QueueStep
      assert.deepStrictEqual(yield* step.stats, [{ route: "primary", depth: 0, inFlight: 0 }])
      const first = yield* Effect.forkChild(llm.generate(ask("one")), { startImmediately: true })
      const second = yield* Effect.forkChild(llm.generate(ask("two")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      assert.deepStrictEqual(yield* step.stats, [{ route: "primary", depth: 1, inFlight: 1 }])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.await(first)
      yield* Fiber.await(second)
      assert.deepStrictEqual(yield* step.stats, [{ route: "primary", depth: 0, inFlight: 0 }])
    }).pipe(Effect.provide(Layer.merge(layerFor(statsQueue), statsQueue))))

  it.effect("a call waits at its options.priority: a critical call queued after a low one runs first", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const at = (content: string, priority: "critical" | "low") =>
        ({
          model: "fast",
          messages: [{ role: "user", content }],
          options: { tenant: "acme", cache: "bypass", priority }
        }) as LlmCallInput
      const running = yield* Effect.forkChild(llm.generate(ask("running")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      const low = yield* Effect.forkChild(llm.generate(at("low", "low")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      const critical = yield* Effect.forkChild(llm.generate(at("critical", "critical")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("1 second") // the running call ends; the critical one starts, though it came last
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(running)))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(critical)))
      assert.isUndefined(low.pollUnsafe()) // still waiting or running
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(low)))
    }).pipe(Effect.provide(layerFor(QueueStep.layer({ queues: { primary: { concurrency: 1, capacity: 10 } } })))))

  it.effect("for a stream the slot is held while it opens, not while it is read", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      let parts = 0
      // a slow reader: 10 s per part, far longer than the provider's 1 s to open the stream
      const reader = yield* Effect.forkChild(
        llm.stream(ask("streamed")).pipe(
          Stream.runForEach(() => Effect.andThen(Effect.sync(() => parts++), Effect.sleep("10 seconds")))
        ),
        { startImmediately: true }
      )
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("1 second") // the stream is open and its first part is being read
      assert.strictEqual(parts, 1)
      const other = yield* Effect.forkChild(llm.generate(ask("other")), { startImmediately: true })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("1 second")
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      const done = other.pollUnsafe() // the one slot was free while the stream was read
      assert.isTrue(done !== undefined && Exit.isSuccess(done))
      assert.isUndefined(reader.pollUnsafe())
      yield* Fiber.interrupt(reader)
    }).pipe(Effect.provide(layerFor(QueueStep.layer({ queues: { primary: { concurrency: 1, capacity: 1 } } })))))

  it.effect("options are decoded: InvalidOptions names the path", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(QueueStep.layer({ queues: { primary: { concurrency: -1 } } })))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "queues.primary.concurrency")
    }).pipe(Effect.scoped))

  it.effect("the queues are built once per route the registry has: calls naming unknown providers build none", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      for (let i = 0; i < 50; i++) {
        const e = yield* Effect.flip(
          llm.generate({ model: `unknown${i}:m`, messages: [{ role: "user", content: "q" }] })
        )
        assert.strictEqual(e._tag, "ProviderNotFound")
      }
      assert.deepStrictEqual(yield* (yield* QueueStep).stats, [])
      yield* llm.generate({ model: "primary:m", messages: [{ role: "user", content: "q" }] })
      assert.deepStrictEqual((yield* (yield* QueueStep).stats).map((s) => s.route), ["primary"])
    }).pipe(Effect.provide(
      // specs-only resolution: any provider:model a caller names resolves, and the registry decides
      Llm.layer.pipe(Layer.provideMerge(Layer.mergeAll(
        ModelResolver.layerSpecs,
        ResponseCacheStep.none,
        RateLimitStep.none,
        BreakerStep.layerMemory(),
        RetryStep.none,
        FallbackStep.none,
        UsageStep.none,
        QueueStep.layer({ default: { concurrency: 4 } }),
        ProviderRegistry.layer([ScriptedProvider.makeUnsafe({ name: "primary" })])
      )))
    )))
})

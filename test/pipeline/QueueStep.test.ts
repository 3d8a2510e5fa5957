import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { ScriptedProvider } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm, LlmPipeline, QueueStep } from "../../src/pipeline/index.ts"
import { withPipelineDeps } from "./support.ts"

const ask = (content: string): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], options: { tenant: "acme", cache: "bypass" } }) as LlmCallInput

const layerFor = (queue: Layer.Layer<QueueStep, unknown>) =>
  Llm.layer.pipe(
    Layer.provide(queue),
    Layer.provide(LlmPipeline.layerSteps({ retry: { jitter: 0, retries: 0 } })),
    withPipelineDeps([ScriptedProvider.makeUnsafe({ name: "primary", latency: "1 second" })])
  )

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

  it.effect("options are decoded: InvalidOptions names the path", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(QueueStep.layer({ queues: { primary: { concurrency: -1 } } })))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "queues.primary.concurrency")
    }).pipe(Effect.scoped))
})

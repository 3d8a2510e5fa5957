/**
 * The pipeline steps' `around` combinators are dual (issue 20 §3, as Effect's own combinators): data-first
 * `step.around(effect, …args)` and pipeable `effect.pipe(step.around(…args))` are the same call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BreakerStep, CallState, RateLimitStep, RetryStep } from "../../src/pipeline/index.ts"
import type { CallContext, Target } from "../../src/pipeline/index.ts"

const target: Target = {
  provider: "openai",
  route: "openai",
  model: "gpt-4o-mini",
  spec: "openai:gpt-4o-mini",
  requested: "fast",
  defaults: {}
}
const context: CallContext = {
  call: { model: "fast", messages: [{ role: "user", content: "hi" }] },
  kind: "text",
  state: new CallState()
}

describe("pipeline steps", () => {
  it.effect("around is dual: data-first and pipeable give the same result", () =>
    Effect.gen(function*() {
      const retry = yield* RetryStep
      const breaker = yield* BreakerStep
      const rateLimit = yield* RateLimitStep
      let runs = 0
      const attempt = Effect.sync(() => ++runs)
      const first = yield* rateLimit.around(
        breaker.around(retry.around(attempt, context, target), target),
        target,
        context
      )
      const piped = yield* attempt.pipe(
        retry.around(context, target),
        breaker.around(target),
        rateLimit.around(target, context)
      )
      assert.deepStrictEqual([first, piped, runs], [1, 2, 2])
    }).pipe(Effect.provide(Layer.mergeAll(RetryStep.none, BreakerStep.layerMemory(), RateLimitStep.none))))
})

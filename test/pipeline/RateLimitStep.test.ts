/**
 * `RateLimitStep` with a custom `TokenCounter`: the tokens admission takes the counter's estimate; an
 * estimate of 0 or less reserves nothing (the call goes ahead), and one that is not a finite number is a
 * typed refusal (`RateLimitRefused`, resource `tokens`, never fits) that gives the request slot back — never a
 * defect.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { Tokenizer } from "../../src/llm/index.ts"
import type { CallContext, Target } from "../../src/pipeline/index.ts"
import { CallState, RateLimitStep } from "../../src/pipeline/index.ts"
import { RateLimiter, RateLimitKey } from "../../src/ratelimit/index.ts"

const target: Target = {
  provider: "openai",
  route: "openai",
  model: "gpt-4o-mini",
  spec: "openai:gpt-4o-mini",
  requested: "fast",
  defaults: {}
}
const contextOf = (): CallContext => ({
  call: { model: "fast", messages: [{ role: "user", content: "hi" }] },
  kind: "text",
  state: new CallState()
})
const requestsKey = RateLimitKey.model("openai", "gpt-4o-mini")
const tokensKey = RateLimitKey.make({ provider: "openai", model: "gpt-4o-mini", client: "tokens" })

const layerCounting = (estimate: number) =>
  RateLimitStep.layer({ mode: "check", tokensPolicy: "tokens" }).pipe(
    Layer.provideMerge(RateLimiter.layerMemory({
      policies: {
        default: { tiers: [{ _tag: "FixedWindow", name: "r", limit: 10, window: 60_000 }] },
        tokens: { tiers: [{ _tag: "FixedWindow", name: "t", limit: 100, window: 60_000 }] }
      }
    })),
    Layer.provide(Layer.succeed(Tokenizer.TokenCounter, {
      name: "custom",
      countText: () => estimate,
      countRequest: () => estimate
    }))
  )

const remaining = (key: string, policy?: string) =>
  RateLimiter.use((rl) => rl.status(key, policy === undefined ? {} : { policy })).pipe(
    Effect.map((s) => s.tiers[0]?.remaining)
  )

const run = <A, E>(
  estimates: ReadonlyArray<number>,
  body: (estimate: number) => Effect.Effect<A, E, RateLimitStep | RateLimiter>
) => Effect.forEach(estimates, (estimate) => Effect.provide(body(estimate), layerCounting(estimate)), { discard: true })

describe("RateLimitStep token estimates", () => {
  it.effect("a token estimate of 0 or less reserves no tokens and the call goes ahead", () =>
    run([0, -0, -3], () =>
      Effect.gen(function*() {
        const step = yield* RateLimitStep
        assert.strictEqual(yield* step.around(Effect.succeed("ran"), target, contextOf()), "ran")
        assert.deepStrictEqual([yield* remaining(requestsKey), yield* remaining(tokensKey, "tokens")], [9, 100])
      })))

  it.effect("a token estimate that is not a finite number is a typed tokens refusal that gives the request slot back", () =>
    run([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], (estimate) =>
      Effect.gen(function*() {
        const step = yield* RateLimitStep
        let runs = 0
        const exit = yield* Effect.exit(step.around(Effect.sync(() => ++runs), target, contextOf()))
        assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), `a typed failure for ${estimate}`)
        const error = yield* Effect.flip(step.around(Effect.sync(() => ++runs), target, contextOf()))
        assert.deepStrictEqual(
          error._tag === "RateLimitRefused" ? [error.resource, error.policy, error.retryAfterMillis] : [error._tag],
          ["tokens", "tokens", Number.POSITIVE_INFINITY]
        )
        assert.deepStrictEqual(
          [runs, yield* remaining(requestsKey), yield* remaining(tokensKey, "tokens")],
          [0, 10, 100]
        )
      })))
})

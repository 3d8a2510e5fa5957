/**
 * `UsageStep`: a usage whose counts are not all non-negative safe integers has no cost, and the `scripted` provider
 * is free whatever table the step is built with.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Usage } from "../../src/llm/index.ts"
import { UsageStep } from "../../src/pipeline/index.ts"
import type { Target } from "../../src/pipeline/Target.ts"

const stepOf = (layer: Layer.Layer<UsageStep, unknown>) =>
  Effect.provide(
    Effect.gen(function*() {
      return yield* UsageStep
    }),
    layer
  )

const target = (provider: string, model: string): Target => ({
  provider,
  route: provider,
  model,
  spec: `${provider}:${model}`,
  requested: `${provider}:${model}`,
  defaults: {}
})

describe("UsageStep", () => {
  it.effect("a usage whose counts are not all non-negative safe integers has no cost (every count, cache writes too)", () =>
    Effect.gen(function*() {
      const step = yield* UsageStep
      const t = target("anthropic", "claude-sonnet-4-5")
      const base: Usage = { inputTokens: 1_000_000, outputTokens: 10, totalTokens: 1_000_010 }
      assert.isTrue((step.costOf(t, base) ?? 0) > 0)
      for (const bad of [-400_000, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e308]) {
        for (
          const field of ["inputTokens", "outputTokens", "totalTokens", "cachedInputTokens", "cacheWriteInputTokens"]
        ) {
          assert.isUndefined(step.costOf(t, { ...base, [field]: bad }), `${field} ${bad}`)
        }
      }
    }).pipe(Effect.provide(UsageStep.layer())))

  it.effect("the scripted provider is free, with replaceDefaults too", () =>
    Effect.gen(function*() {
      const usage: Usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }
      for (
        const layer of [
          UsageStep.layer(),
          UsageStep.layer({ prices: { "openai:gpt-4o-mini": { input: 1, output: 1 } }, replaceDefaults: true }),
          UsageStep.layer({ prices: {}, replaceDefaults: true })
        ]
      ) {
        const step = yield* stepOf(layer)
        assert.strictEqual(step.costOf(target("scripted", "gpt-4o-mini"), usage), 0)
      }
      // an explicit scripted price still applies
      const priced = yield* stepOf(
        UsageStep.layer({ prices: { "scripted:*": { input: 1_000_000, output: 0 } }, replaceDefaults: true })
      )
      assert.strictEqual(priced.costOf(target("scripted", "x"), usage), 10)
    }))
})

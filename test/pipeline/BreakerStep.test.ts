/**
 * `BreakerStep` in the pipeline: a circuit (its entry and its `troupe_breaker_open` series) exists only for a route
 * the `ProviderRegistry` has, so calls naming endless unknown providers grow no table.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { ScriptedProvider } from "../../src/llm/index.ts"
import {
  BreakerStep,
  FallbackStep,
  Llm,
  ModelResolver,
  ProviderRegistry,
  RateLimitStep,
  ResponseCacheStep,
  RetryStep,
  UsageStep
} from "../../src/pipeline/index.ts"

// specs-only resolution: any provider:model a caller names resolves, and the registry decides
const layer = Llm.layer.pipe(Layer.provideMerge(Layer.mergeAll(
  ModelResolver.layerSpecs,
  ResponseCacheStep.none,
  RateLimitStep.none,
  BreakerStep.layerMemory(),
  RetryStep.none,
  FallbackStep.none,
  UsageStep.none,
  ProviderRegistry.layer([ScriptedProvider.makeUnsafe({ name: "known-route" })])
)))

const openSeries = (prefix: string) =>
  Effect.map(
    Metric.snapshot,
    (all) =>
      all.filter((m) => m.id === "troupe_breaker_open" && String(m.attributes?.["provider"]).startsWith(prefix)).length
  )

describe("BreakerStep", () => {
  it.effect("a circuit and its troupe_breaker_open series exist only for a route the registry has", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      for (let i = 0; i < 50; i++) {
        const model = `unknown-route-${i}:m`
        const e = yield* Effect.flip(llm.generate({ model, messages: [{ role: "user", content: "q" }] }))
        assert.strictEqual(e._tag, "ProviderNotFound")
        const embedded = yield* Effect.flip(llm.embed({ model, input: ["q"] }))
        assert.strictEqual(embedded._tag, "ProviderNotFound")
      }
      assert.strictEqual(yield* openSeries("unknown-route-"), 0)
      yield* llm.generate({ model: "known-route:m", messages: [{ role: "user", content: "q" }] })
      assert.strictEqual(yield* openSeries("known-route"), 1)
    }).pipe(Effect.provide(layer)))
})

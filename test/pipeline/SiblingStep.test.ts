/**
 * `SiblingStep`, the judge behind the `cheaper-model` recommendation: each rule of the module doc (only configured
 * siblings are asked; sampling is deterministic; the caller never waits; the shadow is its own call; the default
 * judge is normalised text equality), over scripted providers with prices, plus a fuzz test of the layer's options.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Stream } from "effect"
import * as fc from "fast-check"
import { Costs, Recommendations } from "../../src/costs/index.ts"
import type { LlmCallInput, SiblingStepOptions } from "../../src/pipeline/index.ts"
import { Llm, LlmPipeline, RouterStep, SiblingStep } from "../../src/pipeline/index.ts"
import { CountingProvider, withPipelineDeps } from "./support.ts"

// `fast` is primary:model-a (expensive), `cheap` is backup:model-b (a tenth of the price)
const prices = {
  "primary:model-a": { input: 10, output: 20 },
  "backup:model-b": { input: 1, output: 2 }
}

const ask = (content: string, extra: Record<string, unknown> = {}): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...extra }) as LlmCallInput

const layerFor = (
  sibling: SiblingStepOptions,
  options: { readonly cache?: boolean; readonly router?: boolean; readonly backupText?: string } = {}
) => {
  const primary = new CountingProvider("primary", () => ({ text: "Paris." }))
  const backup = new CountingProvider("backup", () => ({ text: options.backupText ?? "PARIS." }))
  const layer = Llm.layer.pipe(
    Layer.provideMerge(SiblingStep.layer(sibling)),
    Layer.provideMerge(options.router === true ? RouterStep.layer({ routes: { fast: "cheap" } }) : Layer.empty),
    Layer.provideMerge(
      Recommendations.layer({ minSamples: 1, minRepeats: 2 }).pipe(Layer.provideMerge(Costs.layerMemory()))
    ),
    Layer.provide(LlmPipeline.layerSteps({
      ...(options.cache === true ? {} : { cache: false }),
      retry: { jitter: 0, retries: 0 },
      usage: { prices }
    })),
    withPipelineDeps([primary.provider, backup.provider])
  )
  return { primary, backup, layer }
}

/** Lets forked shadow calls run to their end (scripted providers answer without a clock). */
const drain = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const cheaper = Effect.gen(function*() {
  const list = yield* Recommendations.use((r) => r.recommend({ period: "day" }))
  return list.flatMap((r) => r._tag === "cheaper-model" ? [r] : [])
})

describe("SiblingStep", () => {
  it.effect("only configured siblings are asked: a sampled computed generate is shadowed on its sibling; the default judge is normalised text equality", () => {
    const { backup, layer, primary } = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1 })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const answer = yield* llm.generate(ask("Capital of France?"))
      assert.strictEqual(answer.text, "Paris.")
      yield* llm.generate({ ...ask("Capital of France?"), model: "primary:model-a" } as LlmCallInput) // no sibling
      yield* drain
      assert.deepStrictEqual([primary.calls, backup.calls], [2, 1])
      const [only, ...rest] = yield* cheaper
      assert.deepStrictEqual(rest, [])
      assert.deepStrictEqual([only!.model, only!.sibling, only!.agreement, only!.samples], [
        "primary:model-a",
        "backup:model-b",
        1,
        1
      ])
      // the model's spend (two calls) × (1 − a tenth)
      const spend = (yield* Costs.use((c) => c.stats({ period: "day", groupBy: "model" }))).groups["primary:model-a"]!
      assert.closeTo(only!.spend, spend, 1e-12)
      assert.closeTo(only!.estimatedSavings, spend * 0.9, 1e-9)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the default judge is normalised text equality: a different answer is a disagreement", () => {
    const { layer } = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1 }, { backupText: "Lyon" })
    return Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("Capital of France?"))
      yield* drain
      assert.deepStrictEqual(yield* cheaper, []) // agreement 0 < 0.9
    }).pipe(Effect.provide(layer))
  })

  it.effect("only configured siblings are asked: cache hits, routed calls and streams are never shadowed", () => {
    const cached = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1 }, { cache: true })
    const routed = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1 }, { router: true })
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        yield* llm.generate(ask("same"))
        const hit = yield* llm.generate(ask("same"))
        assert.isTrue(hit.meta.cached)
        yield* Stream.runDrain(llm.stream(ask("streamed")))
        yield* drain
        assert.strictEqual(cached.backup.calls, 1) // the first call's shadow only
      }).pipe(Effect.provide(cached.layer))
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        const answer = yield* llm.generate(ask("hi"))
        assert.strictEqual(answer.meta.routedTo, "cheap")
        yield* drain
        assert.deepStrictEqual([routed.primary.calls, routed.backup.calls], [0, 1]) // the routed call, no shadow
      }).pipe(Effect.provide(routed.layer))
    })
  })

  it.effect("sampling is deterministic: every ⌈1 / sampleRate⌉-th eligible call is shadowed; 0 shadows none", () => {
    const third = layerFor({ siblings: { fast: "cheap" }, sampleRate: 0.34 })
    const none = layerFor({ siblings: { fast: "cheap" }, sampleRate: 0 })
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        for (let i = 0; i < 9; i++) yield* Effect.andThen(Llm.use((llm) => llm.generate(ask(`q${i}`))), drain)
        assert.strictEqual(third.backup.calls, 3)
      }).pipe(Effect.provide(third.layer))
      yield* Effect.gen(function*() {
        for (let i = 0; i < 9; i++) yield* Llm.use((llm) => llm.generate(ask(`q${i}`)))
        yield* drain
        assert.strictEqual(none.backup.calls, 0)
      }).pipe(Effect.provide(none.layer))
    })
  })

  it.effect("the caller never waits: past maxInFlight a sample is dropped; a judge that blocks does not delay the answer", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      let judged = 0
      const { backup, layer } = layerFor({
        siblings: { fast: "cheap" },
        sampleRate: 1,
        maxInFlight: 1,
        judge: () =>
          Effect.as(Deferred.await(release), true).pipe(Effect.ensuring(Effect.sync(() => {
            judged++
          })))
      })
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* llm.generate(ask(`q${i}`))).text, "Paris.")
        yield* drain
        assert.deepStrictEqual([backup.calls, judged], [1, 0]) // one shadow runs (its judge waits), two dropped
        yield* Deferred.succeed(release, undefined)
        yield* drain
        assert.strictEqual(judged, 1)
        yield* llm.generate(ask("again")) // the slot is free again
        yield* drain
        assert.strictEqual(backup.calls, 2)
        assert.strictEqual((yield* cheaper)[0]?.samples, 2)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("the caller never waits: a failing shadow call or judge gives no verdict and the answer is unchanged", () => {
    const unknown = layerFor({ siblings: { fast: "nowhere" }, sampleRate: 1 })
    const dying = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1, judge: () => Effect.die("judge bug") })
    return Effect.gen(function*() {
      for (const { layer } of [unknown, dying]) {
        yield* Effect.gen(function*() {
          assert.strictEqual((yield* Llm.use((llm) => llm.generate(ask("q")))).text, "Paris.")
          yield* drain
          assert.deepStrictEqual(yield* cheaper, [])
        }).pipe(Effect.provide(layer))
      }
    })
  })

  it.effect("the shadow is its own call: its cost is recorded once, tagged agent troupe.sibling, and not observed as the user's", () => {
    const { layer } = layerFor({ siblings: { fast: "cheap" }, sampleRate: 1 })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const call = ask("repeat me", { options: { user: "ada", budgets: ["key:k1"], tenant: "acme" } })
      const first = yield* llm.generate(call)
      yield* llm.generate(call)
      yield* drain
      const costs = yield* Costs
      const byAgent = yield* costs.stats({ period: "day", groupBy: "agent" })
      assert.strictEqual(byAgent.count, 4) // two user calls, two shadows
      assert.closeTo(byAgent.groups["-"]!, 2 * first.meta.costUsd!, 1e-12)
      assert.closeTo(byAgent.groups["troupe.sibling"]!, 2 * first.meta.costUsd! / 10, 1e-12)
      const byPrincipal = yield* costs.stats({
        period: "day",
        groupBy: "principal",
        where: { agent: "troupe.sibling" }
      })
      assert.deepStrictEqual(Object.keys(byPrincipal.groups), ["-"]) // no user, no key on the shadow
      const byTenant = yield* costs.stats({ period: "day", groupBy: "tenant", where: { agent: "troupe.sibling" } })
      assert.deepStrictEqual(Object.keys(byTenant.groups), ["acme"])
      // the repeated prompt: the user's two calls only (2 computed calls, one repeat)
      const advice = yield* Recommendations.use((r) => r.recommend({ period: "day" }))
      const cache = advice.flatMap((r) => r._tag === "enable-cache" ? [r] : [])
      assert.deepStrictEqual(cache.map((r) => [r.model, r.repeats]), [["primary:model-a", 1]])
    }).pipe(Effect.provide(layer))
  })

  it.effect("fuzz: any options fail with InvalidPipelineOptions or build the step; never a defect", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.record({
          siblings: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
          sampleRate: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(undefined)),
          maxInFlight: fc.oneof(fc.integer({ min: -2, max: 200 }), fc.double(), fc.constant(undefined)),
          judge: fc.oneof(fc.constant(undefined), fc.constant("yes"), fc.constant(() => Effect.succeed(true)))
        }, { requiredKeys: ["siblings"] }),
        200
      )
      for (const options of samples) {
        // untrusted options on purpose
        const exit = yield* Effect.exit(Layer.build(SiblingStep.layer(options as unknown as SiblingStepOptions)))
        if (Exit.isFailure(exit)) {
          const reason = exit.cause.reasons[0]
          assert.isTrue(
            reason !== undefined && reason._tag === "Fail" && reason.error._tag === "InvalidPipelineOptions",
            JSON.stringify(exit.cause)
          )
        }
      }
    }).pipe(Effect.scoped))
})

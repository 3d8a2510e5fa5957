/**
 * `RouterStep`, the router policy: each rule of the module doc (only configured routes reroute; simple is what the
 * classifier says; a routed call is the cheaper model's call; the router reports its savings, beside those of cache
 * hits), for `generate` and `stream`, plus fuzz tests of the layer's options and a property of the default classifier.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import * as fc from "fast-check"
import { Costs } from "../../src/costs/index.ts"
import type { LlmCall, LlmCallInput, RouterStepOptions } from "../../src/pipeline/index.ts"
import { classifyComplexity, decodeLlmCall, Llm, LlmPipeline, RouterStep } from "../../src/pipeline/index.ts"
import { CountingProvider, withPipelineDeps } from "./support.ts"

// `fast` is primary:model-a (expensive), `cheap` is backup:model-b (a tenth of the price)
const prices = {
  "primary:model-a": { input: 10, output: 20 },
  "backup:model-b": { input: 1, output: 2 }
}

const ask = (content: string, extra: Record<string, unknown> = {}): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...extra }) as LlmCallInput

const layerFor = (router: RouterStepOptions, cache = false) => {
  const primary = new CountingProvider("primary")
  const backup = new CountingProvider("backup")
  const layer = Llm.layer.pipe(
    Layer.provideMerge(RouterStep.layer(router)),
    Layer.provide(LlmPipeline.layerSteps({
      ...(cache ? {} : { cache: false }),
      retry: { jitter: 0, retries: 0 },
      usage: { prices }
    })),
    withPipelineDeps([primary.provider, backup.provider], { extra: Costs.layerMemory() })
  )
  return { primary, backup, layer }
}

describe("RouterStep", () => {
  it.effect("only configured routes reroute: a simple call to a routed model goes to the cheaper one; others keep theirs", () => {
    const { backup, layer, primary } = layerFor({ routes: { fast: "cheap" } })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const routed = yield* llm.generate(ask("What is 2 + 2?"))
      assert.strictEqual(routed.meta.provider, "backup")
      assert.strictEqual(routed.meta.requested, "fast")
      assert.strictEqual(routed.meta.routedTo, "cheap")
      const unrouted = yield* llm.generate({ ...ask("What is 2 + 2?"), model: "primary:model-a" } as LlmCallInput)
      assert.strictEqual(unrouted.meta.provider, "primary")
      assert.isUndefined(unrouted.meta.routedTo)
      assert.deepStrictEqual([primary.calls, backup.calls], [1, 1])
    }).pipe(Effect.provide(layer))
  })

  it.effect("simple is what the classifier says: tools, a response format, long instructions or a long conversation keep the requested model", () => {
    const { backup, layer, primary } = layerFor({ routes: { fast: "cheap" }, maxSimpleChars: 100 })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const kept = [
        ask("x".repeat(101)),
        { ...ask("hi"), messages: [{ role: "system", content: "s".repeat(501) }, { role: "user", content: "hi" }] },
        ask("hi", { tools: [{ name: "search", description: "web", parameters: { type: "object" } }] }),
        ask("hi", { responseFormat: { type: "json", name: "answer", schema: { type: "object" } } })
      ]
      for (const call of kept) {
        const result = yield* llm.generate(call as LlmCallInput)
        assert.strictEqual(result.meta.provider, "primary")
        assert.isUndefined(result.meta.routedTo)
      }
      assert.strictEqual((yield* llm.generate(ask("x".repeat(100)))).meta.provider, "backup")
      assert.strictEqual((yield* llm.generate(ask("hi", { responseFormat: { type: "text" } }))).meta.provider, "backup")
      assert.deepStrictEqual([primary.calls, backup.calls], [4, 2])
    }).pipe(Effect.provide(layer))
  })

  it.effect("simple is what the classifier says: a pluggable classifier replaces the default; one that throws keeps the requested model", () => {
    let n = 0
    const { layer } = layerFor({
      routes: { fast: "cheap" },
      classify: (call) => {
        if (++n === 2) throw new Error("classifier bug")
        return call.messages.some((m) => m.content.includes("easy")) ? "simple" : "complex"
      }
    })
    return Effect.gen(function*() {
      const llm = yield* Llm
      assert.strictEqual((yield* llm.generate(ask("an easy one"))).meta.provider, "backup")
      assert.strictEqual((yield* llm.generate(ask("an easy one, but the classifier throws"))).meta.provider, "primary")
      assert.strictEqual((yield* llm.generate(ask("hard"))).meta.provider, "primary")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a routed call is the cheaper model's call: its cache key and cost are the cheaper model's", () => {
    const { backup, layer } = layerFor({ routes: { fast: "cheap" } }, true)
    return Effect.gen(function*() {
      const llm = yield* Llm
      const first = yield* llm.generate(ask("cache me"))
      const second = yield* llm.generate(ask("cache me"))
      assert.isFalse(first.meta.cached)
      assert.isTrue(second.meta.cached)
      assert.strictEqual(second.meta.routedTo, "cheap")
      // asking the cheaper model directly hits the same entry
      assert.isTrue((yield* llm.generate({ ...ask("cache me"), model: "cheap" } as LlmCallInput)).meta.cached)
      assert.strictEqual(backup.calls, 1)
      const perToken = prices["backup:model-b"]
      const expected = (first.usage.inputTokens * perToken.input + first.usage.outputTokens * perToken.output) / 1e6
      assert.closeTo(first.meta.costUsd ?? Number.NaN, expected, 1e-15)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the router reports its savings: routed calls carry routed and saved on the Costs ledger, cache hits their would-be cost", () => {
    const { layer } = layerFor({ routes: { fast: "cheap" } }, true)
    return Effect.gen(function*() {
      const llm = yield* Llm
      const costs = yield* Costs
      const routed = yield* llm.generate(ask("save me"))
      const hit = yield* llm.generate(ask("save me"))
      const kept = yield* llm.generate(ask("y".repeat(3000)))
      const cost = (p: { readonly input: number; readonly output: number }, u: typeof routed.usage) =>
        (u.inputTokens * p.input + u.outputTokens * p.output) / 1e6
      const savings = yield* costs.savings({ period: "day" })
      assert.closeTo(
        savings.router,
        cost(prices["primary:model-a"], routed.usage) - cost(prices["backup:model-b"], routed.usage),
        1e-15
      )
      assert.closeTo(savings.cache, cost(prices["backup:model-b"], hit.usage), 1e-15)
      assert.deepStrictEqual([savings.routedCalls, savings.cacheHits], [1, 1])
      const stats = yield* costs.stats({ period: "day", groupBy: "routed" })
      assert.strictEqual(stats.count, 3)
      assert.closeTo(stats.groups["-"] ?? Number.NaN, kept.meta.costUsd ?? Number.NaN, 1e-15)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the router reports its savings: a stream is routed and recorded too", () => {
    const { layer } = layerFor({ routes: { fast: "cheap" } })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const parts = yield* Stream.runCollect(llm.stream(ask("stream me")))
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag === "Finish") {
        assert.strictEqual(finish.meta.routedTo, "cheap")
        assert.strictEqual(finish.meta.provider, "backup")
      }
      const savings = yield* Costs.use((costs) => costs.savings({ period: "day" }))
      assert.strictEqual(savings.routedCalls, 1)
      assert.isAbove(savings.router, 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("fuzz: any options fail with InvalidPipelineOptions or build a router; never a defect", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.record({
          routes: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
          maxSimpleChars: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(undefined)),
          maxInstructionChars: fc.oneof(fc.nat(), fc.constant(-1)),
          classify: fc.oneof(fc.constant(undefined), fc.constant("simple"), fc.constant(() => "simple"))
        }, { requiredKeys: ["routes"] }),
        200
      )
      for (const options of samples) {
        // untrusted options on purpose
        const exit = yield* Effect.exit(Layer.build(RouterStep.layer(options as unknown as RouterStepOptions)))
        if (Exit.isFailure(exit)) {
          const reason = exit.cause.reasons[0]
          assert.isTrue(
            reason !== undefined && reason._tag === "Fail" && reason.error._tag === "InvalidPipelineOptions",
            JSON.stringify(exit.cause)
          )
        }
      }
    }).pipe(Effect.scoped))

  it("the default classifier is monotone: a request with more characters is never simpler", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: fc.string() }), {
          minLength: 1,
          maxLength: 6
        }),
        fc.string({ minLength: 1 }),
        fc.nat({ max: 5 }),
        (messages, extra, at) => {
          // fast-check's records are plain messages; the decoder checks them
          const call = Effect.runSync(decodeLlmCall({ model: "m", messages } as unknown as LlmCallInput))
          const index = at % messages.length
          const longer: LlmCall = {
            ...call,
            // the same number of messages as the decoded, non-empty list
            messages: call.messages.map((m, i) =>
              i === index ? { ...m, content: m.content + extra } : m
            ) as unknown as LlmCall["messages"]
          }
          const thresholds = { maxSimpleChars: 40, maxInstructionChars: 10 }
          if (classifyComplexity(call, thresholds) === "complex") {
            assert.strictEqual(classifyComplexity(longer, thresholds), "complex")
          }
        }
      )
    )
  })
})

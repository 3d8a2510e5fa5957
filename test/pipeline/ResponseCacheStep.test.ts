/**
 * ResponseCacheStep keys: the tenant and the credential scope a key as a separate component that no request content
 * can forge (a call carrying `params: { "troupe.tenant": "A" }` never reads tenant A's entry); an unscoped key is
 * `ResponseCache`'s for the same fields.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Cache, makeResponseCache } from "../../src/cache/index.ts"
import type { LlmResponse } from "../../src/llm/index.ts"
import { Llm, ResponseCacheStep } from "../../src/pipeline/index.ts"
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

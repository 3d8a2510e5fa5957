/**
 * `Embedder`: one conformance suite against both backends (`Embedder.layer` over `Llm.embed`, the default, and the
 * offline `Embedder.layerScripted`), and the gateway's default wiring checked end to end with the openai SDK.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { Embedder, fromFailure } from "../../src/gateway/index.ts"
import { scriptedEmbedding } from "../../src/llm/index.ts"
import { EmbeddingsUnsupported } from "../../src/pipeline/index.ts"
import { type Running, startGateway } from "./support.ts"

const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((n, x) => n + x * x, 0))

const backends = {
  "Embedder.layer (Llm.embed)": Embedder.layer.pipe(Layer.provideMerge(Troupe.layerTest())),
  "Embedder.layerScripted": Embedder.layerScripted.pipe(Layer.provideMerge(Troupe.layerTest()))
}

for (const [name, layer] of Object.entries(backends)) {
  describe(`Embedder conformance: ${name}`, () => {
    it.effect("the same text gets the same unit vector, in input order; dimensions are honoured; usage counted", () =>
      Effect.gen(function*() {
        const embedder = yield* Embedder
        const r = yield* embedder.embed("embedding", ["a cat", "a dog", "a cat"])
        assert.strictEqual(r.vectors.length, 3)
        assert.deepStrictEqual(r.vectors[0], r.vectors[2])
        assert.notDeepEqual(r.vectors[0], r.vectors[1])
        assert.closeTo(norm(r.vectors[0]!), 1, 1e-5)
        assert.isAbove(r.promptTokens, 0)
        assert.include(r.model, ":")
        const small = yield* embedder.embed("embedding", ["a cat"], { dimensions: 8 })
        assert.strictEqual(small.vectors[0]?.length, 8)
      }).pipe(Effect.provide(layer)))

    it.effect("an unknown model is a 404 model_not_found", () =>
      Effect.gen(function*() {
        const embedder = yield* Embedder
        const e = yield* Effect.flip(embedder.embed("no-such-model", ["x"]))
        assert.strictEqual(e.status, 404)
        assert.strictEqual(e.code, "model_not_found")
      }).pipe(Effect.provide(layer)))
  })
}

describe("Embedder.layer: the gateway's default backend is Llm.embed", () => {
  let gw: Running
  beforeAll(async () => {
    gw = await startGateway()
  })
  afterAll(async () => {
    await gw?.stop()
  })

  it("POST /v1/embeddings answers with the provider's vectors (the scripted provider's under the defaults)", async () => {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 })
    const r = await sdk.embeddings.create({ model: "embedding", input: ["a cat", "a dog"], encoding_format: "float" })
    expect(r.data.map((d) => d.embedding)).toEqual(
      [scriptedEmbedding("a cat"), scriptedEmbedding("a dog")].map((v) => [...v])
    )
    expect(r.usage.prompt_tokens).toBeGreaterThan(0)
    const b64 = await sdk.embeddings.create({ model: "embedding", input: "a cat" }) // the SDK asks for base64 and decodes it
    expect(b64.data[0]?.embedding.length).toBe(scriptedEmbedding("a cat").length)
    const missing = await sdk.embeddings.create({ model: "no-such-model", input: "x" }).catch((e) => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it("a provider without an embeddings wire is a 400 embeddings_unsupported", () => {
    const e = fromFailure(new EmbeddingsUnsupported({ provider: "anthropic" }))
    expect(e.status).toBe(400)
    expect(e.code).toBe("embeddings_unsupported")
  })
})

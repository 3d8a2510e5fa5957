/**
 * `Llm.embed`: through the pipeline's steps, on the OpenAI-compatible `/embeddings` wire (loopback fake server) and
 * with the scripted provider's deterministic vectors.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { scriptedEmbedding, ScriptedProvider } from "../../src/llm/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { httpPipelineLayer, openAiAndAnthropic, pipelineLayer } from "./support.ts"

const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((n, x) => n + x * x, 0))

describe("Llm.embed (scripted)", () => {
  const scripted = ScriptedProvider.makeUnsafe({ name: "primary" })
  it.effect("deterministic unit vectors, in input order, through aliases and the rate limiter; cost from the price table", () =>
    Effect.gen(function*() {
      const result = yield* Llm.embed({ model: "fast", input: ["hello", "world", "hello"] })
      assert.strictEqual(result.embeddings.length, 3)
      assert.deepStrictEqual(result.embeddings[0], result.embeddings[2])
      assert.notDeepEqual(result.embeddings[0], result.embeddings[1])
      assert.deepStrictEqual(result.embeddings[1], scriptedEmbedding("world"))
      assert.closeTo(norm(result.embeddings[0] ?? []), 1, 1e-9)
      assert.strictEqual(result.meta.requested, "fast")
      assert.strictEqual(result.meta.attempts, 1)
      assert.isAbove(result.meta.estimatedInputTokens ?? 0, 0)
      assert.isAbove(result.usage.inputTokens, 0)
      const one = yield* Llm.embed({ model: "fast", input: "hello", dimensions: 8 })
      assert.strictEqual(one.embeddings[0]?.length, 8)
      const bad = yield* Effect.flip(Llm.embed({ model: "fast", input: [] }))
      assert.strictEqual(bad._tag, "InvalidLlmRequest")
    }).pipe(Effect.provide(pipelineLayer([scripted], { rateLimit: { mode: "check" } }))))
})

describe("Llm.embed over HTTP", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = () =>
    httpPipelineLayer(openAiAndAnthropic(server.baseUrl), {
      pipeline: { retry: { jitter: 0, baseDelay: "10 millis" } },
      models: { embed: "openai:text-embedding-3-small" },
      providers: { openai: { baseUrl: server.baseUrl }, anthropic: { baseUrl: server.baseUrl } }
    })

  it.live("the /embeddings wire: body, bearer auth, vectors put back in input order, usage and cost; 503 retried", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "status", status: 503, body: { error: { message: "busy" } } })
      const result = yield* Llm.embed({ model: "embed", input: ["a", "b", "c"], dimensions: 3 })
      assert.deepStrictEqual(result.embeddings, [[0, 0, -1], [1, 0.1, -1], [2, 0.2, -1]])
      assert.strictEqual(result.meta.attempts, 2)
      assert.strictEqual(result.usage.inputTokens, 7)
      assert.closeTo(result.meta.costUsd ?? -1, 7 * 0.02 / 1_000_000, 1e-15)
      const request = server.requests.at(-1)
      assert.strictEqual(request?.path, "/v1/embeddings")
      assert.deepStrictEqual(request?.body, {
        model: "text-embedding-3-small",
        input: ["a", "b", "c"],
        encoding_format: "float",
        dimensions: 3
      })
      assert.strictEqual(request?.headers["authorization"], "Bearer sk-test-0123456789")
    }).pipe(Effect.provide(layer())))

  it.live("a provider without embeddings fails with EmbeddingsUnsupported", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Llm.embed({ model: "anthropic:claude-haiku-4-5", input: "x" }))
      assert.strictEqual(error._tag, "EmbeddingsUnsupported")
    }).pipe(Effect.provide(layer())))
})

describe("Llm.embed (fuzz)", () => {
  const scripted = ScriptedProvider.makeUnsafe({ name: "primary" })
  it.effect("any input: vectors or a typed InvalidLlmRequest, never a defect", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.record({
          model: fc.oneof(fc.constant("fast"), fc.string()),
          input: fc.anything(),
          dimensions: fc.oneof(fc.constant(undefined), fc.anything())
        }),
        { numRuns: 150, seed: 7 }
      )
      for (const sample of samples) {
        const exit = yield* Effect.exit(Llm.embed(sample as never))
        if (exit._tag === "Failure") {
          const reason = exit.cause.reasons[0]
          assert.strictEqual(reason?._tag, "Fail")
        }
      }
    }).pipe(Effect.provide(pipelineLayer([scripted], { rateLimit: false }))))
})

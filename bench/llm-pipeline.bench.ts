/**
 * LLM pipeline benchmarks (rows in `bench/results.json`).
 *
 * - `llm.pipeline`: `Llm.generate` with every step on — decode, alias resolution through the ConfigStore, response
 *   cache (a miss: a unique prompt per call, so the SHA-256 key, the lookup and the store are all paid), rate
 *   limiter (requests and estimated tokens), circuit breaker, retry, fallback step (no chain for the model), usage
 *   and cost, and telemetry (`trackLlmCall`: events and metrics; its tracing span is created only when a tracer is
 *   installed, and none is here) — over the scripted zero-latency provider.
 *   Baseline: `llm.provider-direct` (the same provider called bare, `bench/llm-provider.bench.ts`).
 * - `llm.pipeline.fallback-chain`: the same with a two-model fallback chain on the call (the first model answers),
 *   i.e. through effect's `ExecutionPlan`.
 * - `llm.cache-hit`: `Llm.generate` of a cached question, end to end.
 */
import { Effect, FileSystem, Layer, ManagedRuntime } from "effect"
import { Cache } from "../src/cache/index.ts"
import { ConfigStore } from "../src/config/index.ts"
import { ScriptedProvider } from "../src/llm/index.ts"
import type { LlmCallInput } from "../src/pipeline/index.ts"
import { Llm, LlmPipeline, ProviderRegistry } from "../src/pipeline/index.ts"
import { RateLimiter } from "../src/ratelimit/index.ts"
import { TelemetryHub } from "../src/telemetry/index.ts"
import type { BenchRow } from "./harness.ts"
import { timeEffectBatch } from "./harness.ts"

const OPS = 5_000
const huge = { tiers: [{ _tag: "TokenBucket", capacity: 1e12, refillTokens: 1e12, refillEvery: 1000 }] }

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const provider = ScriptedProvider.makeUnsafe({
    name: "scripted",
    rules: [{ when: { lastUser: "capital of Norway" }, reply: { text: "Oslo is the capital of Norway." } }]
  })
  const backup = ScriptedProvider.makeUnsafe({ name: "backup" })
  const config = ConfigStore.layer({
    env: () => ({}),
    defaults: {
      providers: { scripted: { baseUrl: "http://127.0.0.1:9/v1" }, backup: { baseUrl: "http://127.0.0.1:9/v1" } },
      models: { fast: "scripted:scripted-1" }
    }
  }).pipe(Layer.provide(FileSystem.layerNoop({})))
  const layer = LlmPipeline.layer({ rateLimit: { tokensPolicy: "llm-tokens" } }).pipe(
    Layer.provide(Layer.mergeAll(
      ProviderRegistry.layer([provider, backup]),
      Cache.layerMemory({ maxEntries: 100_000 }),
      RateLimiter.layerMemory({ policies: { default: huge, "llm-tokens": huge } })
    )),
    Layer.provide(config),
    Layer.provide(TelemetryHub.layer())
  )
  const runtime = ManagedRuntime.make(layer)
  const llm = await runtime.runPromise(Llm.use(Effect.succeed))

  let n = 0
  let sink = 0
  const request = (prompt: string, fallbacks?: ReadonlyArray<string>): LlmCallInput => ({
    model: "fast",
    messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: prompt }],
    params: { temperature: 0 },
    ...(fallbacks !== undefined ? { options: { fallbacks } } : {})
  })

  const miss = await timeEffectBatch(
    "llm.pipeline",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) {
        sink += (yield* llm.generate(request(`What is the capital of Norway? #${n++}`))).usage.totalTokens
      }
    }),
    {
      ops: OPS,
      samples: 20,
      baseline: "llm.provider-direct",
      note:
        "every step on (cache miss, rate limit requests+tokens, breaker, retry, fallback step, cost, telemetry), scripted zero-latency provider"
    }
  )
  const chain = await timeEffectBatch(
    "llm.pipeline.fallback-chain",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) {
        sink +=
          (yield* llm.generate(request(`What is the capital of Norway? #${n++}`, ["backup:b-1"]))).usage.totalTokens
      }
    }),
    {
      ops: OPS,
      samples: 20,
      baseline: "llm.pipeline",
      note: "as llm.pipeline, with a 2-model fallback chain (ExecutionPlan); the first answers"
    }
  )
  const cached = request("What is the capital of Norway? (cached)")
  await Effect.runPromise(llm.generate(cached))
  const hit = await timeEffectBatch(
    "llm.cache-hit",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) sink += (yield* llm.generate(cached)).usage.totalTokens
    }),
    { ops: OPS, samples: 20, baseline: "llm.provider-direct", note: "Llm.generate of a cached question, end to end" }
  )
  await runtime.dispose()
  if (sink === 0) throw new Error("unreachable: keeps the loops alive")
  return [miss, chain, hit]
}

/**
 * Hedging benchmarks (rows in `bench/results.json`), issue 16 section 3: the tail latency of a provider with a
 * heavy tail, with and without `HedgeStep`, and the extra requests hedging costs.
 *
 * Two scripted providers (`primary`, and `backup`, the next target of the chain) answer after a latency drawn from
 * the same seeded distribution: 92 % in 15–25 ms, 5 % in 25–40 ms, 3 % in 400–800 ms (each provider has its own
 * seeded generator, so a run is reproducible up to the machine's timer jitter). 100 warm-up calls (not measured,
 * not critical) fill the primary's latency window, then 400 critical calls run, 16 at a time, real time:
 * - `llm.hedge.off`: the pipeline without a `HedgeStep` (ms; median = p50, p99).
 * - `llm.hedge.p95`: the same calls with `LlmPipeline.layerWithHedging` (delay `p95`, the default budget of 10 %).
 * - `llm.hedge.extra-requests`: the hedges sent by `llm.hedge.p95`, in % of its 400 calls.
 */
import { Effect, FileSystem, Layer, ManagedRuntime } from "effect"
import { Cache } from "../src/cache/index.ts"
import { ConfigStore } from "../src/config/index.ts"
import type { LlmProviderShape } from "../src/llm/index.ts"
import { ScriptedProvider } from "../src/llm/index.ts"
import type { LlmCallInput, LlmPipelineOptions } from "../src/pipeline/index.ts"
import { HedgeStep, Llm, LlmPipeline, ProviderRegistry } from "../src/pipeline/index.ts"
import { RateLimiter } from "../src/ratelimit/index.ts"
import { TelemetryHub } from "../src/telemetry/index.ts"
import type { BenchRow } from "./harness.ts"

const WARMUP = 100
const CALLS = 400
const CONCURRENCY = 16
const huge = { tiers: [{ _tag: "TokenBucket", capacity: 1e12, refillTokens: 1e12, refillEvery: 1000 }] }

/** mulberry32: a small seeded generator in [0, 1). */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** 92 % 15–25 ms, 5 % 25–40 ms, 3 % 400–800 ms. */
const heavyTail = (random: () => number) => (): number => {
  const u = random()
  const v = random()
  return u < 0.92 ? 15 + 10 * v : u < 0.97 ? 25 + 15 * v : 400 + 400 * v
}

const provider = (name: string, seed: number): LlmProviderShape => {
  const scripted = ScriptedProvider.makeUnsafe({ name })
  const latency = heavyTail(seeded(seed))
  return {
    ...scripted,
    generate: (request, options) => Effect.andThen(Effect.sleep(latency()), scripted.generate(request, options))
  }
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN

const round = (n: number): number => Math.round(n * 1000) / 1000

// hedged: `Llm.layer` over the default steps with the HedgeStep kept in the output (its `stats` give the hedges
// sent); what `LlmPipeline.layerWithHedging` builds, less the step's visibility
const layerFor = (hedged: boolean) => {
  const config = ConfigStore.layer({
    env: () => ({}),
    defaults: {
      providers: { primary: { baseUrl: "http://127.0.0.1:9/v1" }, backup: { baseUrl: "http://127.0.0.1:9/v1" } },
      models: { fast: "primary:model-a", cheap: "backup:model-b" }
    }
  }).pipe(Layer.provide(FileSystem.layerNoop({})))
  const options: LlmPipelineOptions = { cache: false, retry: { retries: 0 }, fallback: { chains: { fast: ["cheap"] } } }
  const llm = hedged
    ? Llm.layer.pipe(
      Layer.provideMerge(HedgeStep.layer({ delay: "p95" })),
      Layer.provide(LlmPipeline.layerSteps(options))
    )
    : LlmPipeline.layer(options)
  return llm.pipe(
    Layer.provide(Layer.mergeAll(
      ProviderRegistry.layer([provider("primary", 1), provider("backup", 2)]),
      Cache.layerMemory(),
      RateLimiter.layerMemory({ policies: { default: huge } })
    )),
    Layer.provide(config),
    Layer.provide(TelemetryHub.layer())
  )
}

const run = async (hedged: boolean): Promise<{ readonly latencies: Array<number>; readonly sent: number }> => {
  const runtime = ManagedRuntime.make(layerFor(hedged))
  try {
    const call = (i: number, critical: boolean): LlmCallInput => ({
      model: "fast",
      messages: [{ role: "user", content: `question ${i}` }],
      ...(critical ? { options: { hedge: true } } : {})
    })
    const timed = (i: number, critical: boolean) =>
      Effect.gen(function*() {
        const llm = yield* Llm
        const start = process.hrtime.bigint()
        yield* llm.generate(call(i, critical))
        return Number(process.hrtime.bigint() - start) / 1e6
      })
    await runtime.runPromise(
      Effect.forEach(Array.from({ length: WARMUP }, (_, i) => i), (i) => timed(i, false), { concurrency: CONCURRENCY })
    )
    const latencies = await runtime.runPromise(
      Effect.forEach(Array.from({ length: CALLS }, (_, i) => WARMUP + i), (i) => timed(i, true), {
        concurrency: CONCURRENCY
      })
    )
    const sent = hedged
      ? await runtime.runPromise(
        Effect.serviceOption(HedgeStep).pipe(Effect.map((h) => h._tag === "Some" ? h.value.stats().sent : 0))
      )
      : 0
    return { latencies, sent }
  } finally {
    await runtime.dispose()
  }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const off = await run(false)
  const on = await run(true)
  const row = (id: string, latencies: Array<number>, note: string): BenchRow => {
    const sorted = [...latencies].sort((a, b) => a - b)
    return { id, unit: "ms", median: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), note }
  }
  const tail = "scripted heavy tail: 92 % 15–25 ms, 5 % 25–40 ms, 3 % 400–800 ms"
  return [
    row("llm.hedge.off", off.latencies, `${CALLS} critical calls, ${CONCURRENCY} at a time, no HedgeStep; ${tail}`),
    row(
      "llm.hedge.p95",
      on.latencies,
      `the same calls hedged to the next target after the primary's p95 latency (budget 10 %)`
    ),
    {
      id: "llm.hedge.extra-requests",
      unit: "%",
      median: round((100 * on.sent) / CALLS),
      note: `hedges sent by llm.hedge.p95, in % of its ${CALLS} calls`
    }
  ]
}

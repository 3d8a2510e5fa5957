/**
 * LLM provider benchmarks (rows in `bench/results.json`).
 *
 * - `llm.provider-direct`: the scripted provider with zero latency, called bare — N in-fiber
 *   `yield* provider.generate(request)` inside one Effect (rule matching on the last user message, deterministic
 *   answer, ~4-chars-per-token usage estimate). It is the baseline of the pipeline row `llm.pipeline`.
 * - `floor.effect-yield-succeed`: `yield* Effect.succeed(x)` in the same loop — the floor of any Effect-returning
 *   call, so the provider's own cost is `llm.provider-direct` minus this.
 * - `llm.provider-direct.stream`: the same request through `stream` collected with `Stream.runDrain`.
 */
import { Effect, Stream } from "effect"
import type { LlmRequest } from "../src/llm/index.ts"
import { ScriptedProvider } from "../src/llm/index.ts"
import type { BenchRow } from "./harness.ts"
import { timeEffectBatch } from "./harness.ts"

const OPS = 10_000

const request: LlmRequest = {
  model: "scripted-1",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "What is the capital of Norway?" }
  ],
  params: { temperature: 0 }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const provider = ScriptedProvider.makeUnsafe({
    rules: [{ when: { lastUser: "capital of Norway" }, reply: { text: "Oslo is the capital of Norway." } }]
  })
  let sink = 0
  const value = { text: "x" }
  const floor = await timeEffectBatch(
    "floor.effect-yield-succeed",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) sink += (yield* Effect.succeed(value)).text.length
    }),
    { ops: OPS, samples: 30, note: "yield* Effect.succeed in Effect.gen: the floor of an Effect-returning call" }
  )
  const direct = await timeEffectBatch(
    "llm.provider-direct",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) sink += (yield* provider.generate(request)).usage.totalTokens
    }),
    {
      ops: OPS,
      samples: 30,
      baseline: "floor.effect-yield-succeed",
      note: "scripted provider, zero latency, bare in-fiber generate (baseline of llm.pipeline)"
    }
  )
  const STREAM_OPS = 2_000
  const stream = await timeEffectBatch(
    "llm.provider-direct.stream",
    Effect.gen(function*() {
      for (let i = 0; i < STREAM_OPS; i++) yield* Stream.runDrain(provider.stream(request))
    }),
    { ops: STREAM_OPS, samples: 20, baseline: "llm.provider-direct", note: "same request streamed, drained" }
  )
  if (sink === 0) throw new Error("unreachable: keeps the loops alive")
  return [floor, direct, stream]
}

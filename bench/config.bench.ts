/**
 * ConfigStore benchmarks.
 *
 * - `config.get-model`: `getModelConfig("fast")` where `fast -> quick -> groq:llama-3.1-8b-instant` (a 2-hop alias
 *   chain), run inside one Effect per batch. The store precomputes every alias into a `Map` of ready `Exit`s on each
 *   change, so the hot path is `Effect.suspend` + one `Map.get`.
 * - `floor.map-get-config`: the floor, a plain `Map.get` of the same key in a loop, same number of operations.
 * - `floor.effect-yield-exit`: yielding a ready `Exit` in the same kind of loop, the floor of any lookup that
 *   returns an Effect (reported for context; `getModelConfig` stays lazy, so it pays one `Effect.suspend` more).
 * - `config.update`: one validated, committed and published `update` (full-schema validation, diff, alias table
 *   rebuild), for scale; no baseline.
 */
import { Effect, Exit, FileSystem, Layer, ManagedRuntime, References } from "effect"
import { ConfigStore } from "../src/config/index.ts"
import type { BenchRow } from "./harness.ts"
import { timeBatch, timeEffectBatch } from "./harness.ts"

const OPS = 200_000

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const layer = ConfigStore.layer({ env: {} }).pipe(Layer.provide(FileSystem.layerNoop({})))
  const runtime = ManagedRuntime.make(layer)
  const store = await runtime.runPromise(
    Effect.gen(function*() {
      const store = yield* ConfigStore
      yield* store.patch({ models: { fast: "quick", quick: "groq:llama-3.1-8b-instant" } })
      return store
    }).pipe(Effect.provideService(References.MinimumLogLevel, "None"))
  )
  const resolved = await runtime.runPromise(store.getModelConfig("fast"))
  if (resolved.chain.length !== 2) throw new Error("expected a 2-hop alias chain")

  const getModel = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* store.getModelConfig("fast")
  })

  const table = new Map([["fast", resolved], ["quick", resolved], ["capable", resolved]])
  let sink = 0
  const floor = await timeBatch("floor.map-get-config", (ops) => {
    for (let i = 0; i < ops; i++) if (table.get("fast") !== undefined) sink++
  }, { ops: OPS, samples: 30 })
  const exit = Exit.succeed(resolved)
  const yieldExit = await timeEffectBatch(
    "floor.effect-yield-exit",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) yield* exit
    }),
    { ops: OPS, samples: 30, note: "yield* of a ready Exit in Effect.gen: the floor of any Effect-returning lookup" }
  )
  const get = await timeEffectBatch("config.get-model", getModel, {
    ops: OPS,
    samples: 30,
    baseline: "floor.map-get-config",
    note: "alias `fast` through a 2-hop chain, precomputed table"
  })

  const UPDATES = 200
  let timeout = 1000
  const updates = Effect.gen(function*() {
    for (let i = 0; i < UPDATES; i++) yield* store.update("providers.openai.timeout", ++timeout)
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None")) // the store logs each change at Info
  const update = await timeEffectBatch("config.update", updates, {
    ops: UPDATES,
    samples: 10,
    warmup: 2,
    note: "validate whole config + diff + alias table + publish"
  })
  await runtime.dispose()
  if (sink === 0) throw new Error("unreachable: keeps the floor loop alive")
  return [floor, yieldExit, get, update]
}

/**
 * Costs benchmarks (issue 15), interleaved with their floor in the same run:
 * - `costs.record`: one `Costs.record` on the memory backend (three period buckets, one dimension row each), beside
 *   `costs.record.floor-map-increment` (three `Map` increments, the least a per-period ledger can do) — target ≤ 1 µs.
 */
import { Effect } from "effect"
import { makeMemory } from "../src/costs/index.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const OPS = 10_000

export default async (): Promise<ReadonlyArray<BenchRow>> =>
  timeInterleaved(Effect.gen(function*() {
    const costs = yield* makeMemory()
    const map = new Map<string, number>()
    const entry = { cost: 0.001, tenant: "acme", principal: "ada", key: "k1", model: "openai:gpt-4o-mini", provider: "openai" }
    const batches: ReadonlyArray<InterleavedBatch> = [
      {
        id: "costs.record.floor-map-increment", ops: OPS,
        batch: Effect.sync(() => {
          for (let i = 0; i < OPS; i++) {
            map.set("hour", (map.get("hour") ?? 0) + 0.001)
            map.set("day", (map.get("day") ?? 0) + 0.001)
            map.set("month", (map.get("month") ?? 0) + 0.001)
          }
        }),
        note: "three Map increments (hour, day, month), in a loop (interleaved with costs.record)"
      },
      {
        id: "costs.record", ops: OPS, baseline: "costs.record.floor-map-increment",
        batch: Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) yield* costs.record(entry)
        }),
        note: "memory: record with 6 dimensions into the hour, day and month buckets, sequential in one fiber (target <= 1 µs)"
      }
    ]
    return batches
  }), { samples: 30, warmup: 5 })

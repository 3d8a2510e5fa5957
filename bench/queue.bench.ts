/**
 * Queue benchmarks (issue 15 §4), measured interleaved with their floor in the same run:
 * - `floor.effect-queue.offer-take`: an Effect `Queue.unbounded` holding 10,000 items, one `offer` + one `take` per
 *   operation (the depth stays at 10,000);
 * - `queue.enqueue-dequeue`: the `RequestQueue`'s waiting line at depth 10,000 (4 priorities, 100 tenants), one
 *   enqueue (virtual finish tag, heap insert) + one dequeue per operation — the per-request overhead the queue adds
 *   when requests wait (target ≤ 2 µs);
 * - `queue.run.uncontended`: `RequestQueue.run(Effect.void)` with a free slot (the fast path: no wait, metrics off the
 *   path), one fiber, beside the same floor.
 */
import { Effect, Queue } from "effect"
import { RequestQueue } from "../src/queue/index.ts"
import { FairQueue } from "../src/queue/internal/FairQueue.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const DEPTH = 10_000
const OPS = 20_000
const TENANTS = Array.from({ length: 100 }, (_, i) => `t${i}`)

export default async (): Promise<ReadonlyArray<BenchRow>> =>
  timeInterleaved(Effect.gen(function*() {
    const floor = yield* Queue.unbounded<number>()
    for (let i = 0; i < DEPTH; i++) yield* Queue.offer(floor, i)
    const line = new FairQueue<number>(4, () => 1)
    for (let i = 0; i < DEPTH; i++) line.push(i, i & 3, TENANTS[i % 100]!, Infinity)
    let n = 0
    const queue = yield* RequestQueue.make({ name: "bench", concurrency: 1 })
    const batches: ReadonlyArray<InterleavedBatch> = [
      {
        id: "floor.effect-queue.offer-take",
        ops: OPS,
        batch: Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) {
            yield* Queue.offer(floor, i)
            yield* Queue.take(floor)
          }
        }),
        note: "effect Queue.unbounded at depth 10,000: offer + take, one fiber"
      },
      {
        id: "queue.enqueue-dequeue",
        ops: OPS,
        baseline: "floor.effect-queue.offer-take",
        batch: Effect.sync(() => {
          for (let i = 0; i < OPS; i++) {
            n++
            line.push(n, n & 3, TENANTS[n % 100]!, Infinity)
            line.pop()
          }
        }),
        note: "RequestQueue line at depth 10,000 (4 priorities, 100 tenants): enqueue + dequeue (target <= 2 us)"
      },
      {
        id: "queue.run.uncontended",
        ops: OPS,
        baseline: "floor.effect-queue.offer-take",
        batch: Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) yield* queue.run(Effect.void)
        }),
        note: "RequestQueue.run(Effect.void) with a free slot, sequential in one fiber"
      }
    ]
    return batches
  }))

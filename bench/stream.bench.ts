/**
 * Stream time-limit benchmarks (`src/internal/PullLimits.ts`): one run of a four-chunk stream whose pulls are
 * asynchronous (each chunk after a `setImmediate`, as an HTTP body's chunks arrive), interleaved:
 *
 * - `floor.stream-4-async-chunks`: the stream alone.
 * - `stream.timeout-interrupt-when`: with `Stream.timeoutOrElse` (idle) and `Stream.interruptWhen` over a sleep
 *   (deadline), as the pipeline and the provider transport had them.
 * - `stream.pull-limits`: with `pullLimits` (both limits, one race per pull); baseline the row above.
 * - `stream.interrupt-when-deferred`: with `Stream.interruptWhen(Deferred.await(d))` (a signal that stays open), as
 *   the gateway's SSE responses had it for the drain.
 * - `stream.end-when`: with `endWhen(stream, Deferred.await(d))`; baseline the row above.
 */
import { Deferred, Effect, Stream } from "effect"
import { endWhen, pullLimits } from "../src/internal/PullLimits.ts"
import type { BenchRow } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const RUNS = 200
const nextTurn = (x: number) =>
  Effect.promise(() =>
    new Promise<number>((resolve) => {
      setImmediate(() => resolve(x))
    })
  )
const chunks = () => Stream.fromIterable([1, 2, 3, 4]).pipe(Stream.mapEffect(nextTurn))
const times = (make: () => Stream.Stream<number, string>) =>
  Effect.gen(function*() {
    for (let i = 0; i < RUNS; i++) yield* Stream.runDrain(make())
  })

export default (): Promise<ReadonlyArray<BenchRow>> =>
  timeInterleaved(
    Effect.map(Deferred.make<void>(), (open) => [
      {
        id: "floor.stream-4-async-chunks",
        batch: times(chunks),
        ops: RUNS,
        note: "four chunks, each after a setImmediate"
      },
      {
        id: "stream.timeout-interrupt-when",
        batch: times(() =>
          chunks().pipe(
            Stream.timeoutOrElse({ duration: 60_000, orElse: () => Stream.fail("idle") }),
            Stream.interruptWhen(Effect.andThen(Effect.sleep(600_000), Effect.fail("deadline")))
          )
        ),
        ops: RUNS,
        baseline: "floor.stream-4-async-chunks",
        note: "Stream.timeoutOrElse (idle) + Stream.interruptWhen(sleep) (deadline), per stream"
      },
      {
        id: "stream.pull-limits",
        batch: times(() =>
          pullLimits(chunks(), {
            idleMillis: 60_000,
            onIdle: () => "idle",
            deadlineMillis: 600_000,
            onDeadline: () => "deadline"
          })
        ),
        ops: RUNS,
        baseline: "stream.timeout-interrupt-when",
        note: "pullLimits: both limits, one race per pull (src/internal/PullLimits.ts), per stream"
      },
      {
        id: "stream.interrupt-when-deferred",
        batch: times(() => chunks().pipe(Stream.interruptWhen(Deferred.await(open)))),
        ops: RUNS,
        baseline: "floor.stream-4-async-chunks",
        note: "Stream.interruptWhen(Deferred.await(d)), d never completed, per stream"
      },
      {
        id: "stream.end-when",
        batch: times(() => endWhen(chunks(), Deferred.await(open))),
        ops: RUNS,
        baseline: "stream.interrupt-when-deferred",
        note: "endWhen (src/internal/PullLimits.ts): one race per pull, per stream"
      }
    ]),
    { samples: 20, warmup: 3 }
  )

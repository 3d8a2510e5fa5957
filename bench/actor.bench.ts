/**
 * Actor benchmarks: `floor.effect-pingpong` (two plain fibers, request through an Effect `Queue`, reply through a
 * `Deferred`), `actor.call` (echo actor, in-fiber caller) against that floor, and `actor.cast` throughput.
 */
import { Deferred, Effect, Fiber, Queue } from "effect"
import { Actor, Behaviour } from "../src/runtime/index.ts"
import type { BenchRow } from "./harness.ts"
import { timeEffectBatch } from "./harness.ts"

const OPS = 20_000

type EchoProtocol = { readonly call: number; readonly reply: number; readonly cast: number }
const Echo = Behaviour.make<EchoProtocol>()({
  init: () => Behaviour.ok(0),
  handleCall: (n, _from, state) => Behaviour.reply(n, state),
  handleCast: (n, state) => Behaviour.noreply(state + n)
})

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []

  rows.push(
    await Effect.runPromise(Effect.gen(function*() {
      const requests = yield* Queue.unbounded<{ readonly n: number; readonly reply: Deferred.Deferred<number> }>()
      const server = yield* Effect.forkChild(
        Effect.forever(Effect.flatMap(Queue.take(requests), (r) => Deferred.succeed(r.reply, r.n))),
        { startImmediately: true }
      )
      const batch = Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) {
          const reply = yield* Deferred.make<number>()
          yield* Queue.offer(requests, { n: i, reply })
          yield* Deferred.await(reply)
        }
      })
      const row = yield* Effect.promise(() => timeEffectBatch("floor.effect-pingpong", batch, { ops: OPS, samples: 15 }))
      yield* Fiber.interrupt(server)
      return row
    }))
  )

  const ref = await Effect.runPromise(Actor.start(Echo, undefined))
  const callBatch = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* Actor.call(ref, i)
  })
  rows.push(await timeEffectBatch("actor.call", callBatch, { ops: OPS, samples: 30, baseline: "floor.effect-pingpong" }))

  const castBatch = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* Actor.cast(ref, 1)
    yield* Actor.call(ref, 0) // drain: the reply comes after every cast was processed
  })
  rows.push(await timeEffectBatch("actor.cast", castBatch, { ops: OPS, samples: 30, note: "ns per message processed" }))
  await Effect.runPromise(Actor.stop(ref))
  return rows
}

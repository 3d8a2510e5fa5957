/**
 * Request/reply benchmarks:
 * - `floor.effect-pingpong`: two plain fibers, the request through an Effect `Queue`, the reply through a `Deferred`;
 * - `actor.call`: an echo actor called from one fiber, against that floor (target ≤ 0.5);
 * - `agent.call`: a signal round trip through an AgentServer (registry lookup, actor call, routing, one pure action,
 *   state op, state validation, reply), against `actor.call` (target ≤ 2; issue 5).
 * `actor.call` and `agent.call` are measured interleaved (each round times a batch of each in turn, so the row and
 * its baseline see the same machine load; this machine's speed drifts by 2× within minutes). The floor runs alone:
 * interleaving it with the actor rows changes what it measures (its server fiber then shares the scheduler with
 * other work and every reply waits for a scheduler turn).
 * Then `actor.cast` throughput.
 */
import { Deferred, Effect, Fiber, Layer, ManagedRuntime, Queue } from "effect"
import { AgentServer, Bus, DirectiveExecutor, Signal } from "../src/agent/index.ts"
import { Actor, Behaviour } from "../src/runtime/index.ts"
import { Counter } from "./CounterAgent.ts"
import type { BenchRow } from "./harness.ts"
import { timeEffectBatch, timeInterleaved } from "./harness.ts"

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
      const row = yield* Effect.promise(() =>
        timeEffectBatch("floor.effect-pingpong", batch, { ops: OPS, samples: 15 })
      )
      yield* Fiber.interrupt(server)
      return row
    }))
  )

  const ref = await Effect.runPromise(Actor.start(Echo, undefined))
  const actorCall = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* Actor.call(ref, i)
  })

  const runtime = ManagedRuntime.make(
    AgentServer.layer().pipe(Layer.provide(DirectiveExecutor.layer), Layer.provide(Bus.layer()))
  )
  const server = await runtime.runPromise(AgentServer.use(Effect.succeed))
  const id = await runtime.runPromise(server.start(Counter, { id: "bench-counter" }))
  const signal = await Effect.runPromise(Signal.make({ type: "counter.increment", data: { by: 1 } }))
  const agentCall = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* server.call(id, signal)
  })

  rows.push(
    ...await timeInterleaved(
      Effect.succeed([
        { id: "actor.call", batch: actorCall, ops: OPS, baseline: "floor.effect-pingpong" },
        {
          id: "agent.call",
          batch: agentCall,
          ops: OPS,
          baseline: "actor.call",
          note: "signal → AgentServer → pure action → reply"
        }
      ]),
      { samples: 40 }
    )
  )
  await runtime.dispose()

  const castBatch = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* Actor.cast(ref, 1)
    yield* Actor.call(ref, 0) // drain: the reply comes after every cast was processed
  })
  rows.push(await timeEffectBatch("actor.cast", castBatch, { ops: OPS, samples: 30, note: "ns per message processed" }))
  await Effect.runPromise(Actor.stop(ref))
  return rows
}

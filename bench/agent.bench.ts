/**
 * Agent benchmarks: `agent.cmd` (one trivial pure action, no effects), `signal.route` (a trie of 1,000 routes, mixed
 * wildcards) and `bus.publish` (10 matching subscribers; buffers drained once per batch, inside the timing).
 * `agent.call` is measured in bench/actor.bench.ts, interleaved with its baseline `actor.call`.
 */
import { Effect } from "effect"
import { Agent, Bus, Instruction, Router, Signal } from "../src/agent/index.ts"
import type { Subscription } from "../src/agent/index.ts"
import { Counter, Increment } from "./CounterAgent.ts"
import type { BenchRow } from "./harness.ts"
import { timeBatch, timeEffectBatch } from "./harness.ts"

const OPS = 20_000

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []

  let agent = await Effect.runPromise(Agent.new(Counter, { id: "bench" }))
  const instruction = Instruction.action(Increment, { by: 1 })
  rows.push(
    await timeBatch("agent.cmd", (ops) => {
      for (let i = 0; i < ops; i++) agent = Agent.cmd(agent, instruction).agent
    }, { ops: OPS, samples: 30, note: "one pure action, state op applied and validated" })
  )

  const router = Router.make<number>()
  const verbs = ["created", "updated", "deleted", "paid", "shipped"]
  for (let i = 0; i < 1000; i++) {
    const kind = i % 10
    const pattern = kind === 0
      ? `svc${i % 100}.*.${verbs[i % 5]}`
      : kind === 1
      ? `svc${i % 100}.**`
      : `svc${i % 100}.entity${i}.${verbs[i % 5]}`
    Router.add(router, pattern, i, { priority: i % 7 })
  }
  const types = Array.from({ length: 64 }, (_, i) => `svc${(i * 7) % 100}.entity${(i * 37) % 1000}.${verbs[i % 5]}`)
  let perType = 0
  for (const type of types) perType += Router.route(router, type).length
  let matched = 0
  rows.push(
    await timeBatch("signal.route", (ops) => {
      for (let i = 0; i < ops; i++) matched += Router.route(router, types[i & 63] as string).length
    }, {
      ops: OPS * 5,
      samples: 30,
      note: `1,000 routes; ${(perType / types.length).toFixed(1)} matches per signal on average`
    })
  )
  if (matched < 0) console.log(matched)

  const published = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const bus = yield* Bus.make({ replay: 100 })
    const subs: Array<Subscription> = []
    for (let i = 0; i < 10; i++) {
      subs.push(yield* bus.subscribe(i % 2 === 0 ? "order.*" : "order.**", { capacity: OPS }))
    }
    const s = yield* Signal.make({ type: "order.created", data: { id: 1 } })
    const batch = Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) yield* bus.publish(s)
      for (const sub of subs) yield* sub.drain
    })
    return yield* Effect.promise(() =>
      timeEffectBatch("bus.publish", batch, { ops: OPS, samples: 20, note: "10 subscribers, incl. draining" })
    )
  })))
  rows.push(published)
  return rows
}

/**
 * The agent the agent benchmarks drive (`agent.cmd` in bench/agent.bench.ts, `agent.call` in
 * bench/actor.bench.ts): a counter whose one pure action adds `by` to `count` through a state op.
 */
import { Effect, Schema } from "effect"
import { Action, Agent, StateOp } from "../src/agent/index.ts"

const State = Schema.Struct({ count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))) })

export const Increment = Action.pure({
  name: "increment",
  params: Schema.Struct({ by: Schema.Number }),
  output: Schema.Number,
  run: ({ by }, { state }) => {
    const next = (state as { count: number }).count + by
    return Action.withOps(next, StateOp.set({ count: next }))
  }
})

export const Counter = Agent.define({
  name: "counter",
  schema: State,
  actions: [Increment],
  routes: [{ pattern: "counter.increment", target: Increment }]
})

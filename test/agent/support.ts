import { Effect, Schema } from "effect"
import { Action, StateOp } from "../../src/agent/index.ts"

export const CounterState = Schema.Struct({
  count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  log: Schema.Array(Schema.String).pipe(Schema.withDecodingDefault(Effect.succeed([])))
})

export const Increment = Action.pure({
  name: "increment",
  description: "adds `by` to the counter",
  params: Schema.Struct({ by: Schema.Number }),
  output: Schema.Number,
  run: ({ by }, { state }) => {
    const next = (state as { count: number }).count + by
    return Action.withOps(next, StateOp.set({ count: next }))
  }
})

/**
 * A parent agent spawns child agents; a child crashes and is restarted with fresh state while the parent is told;
 * then the parent dies and each child applies its on-parent-death policy.
 *
 * Run: node examples/parent-child-agents.ts
 */
import { Effect, Layer, Schema } from "effect"
import { Agent, AgentServer, Bus, Directive, DirectiveExecutor, Signal, StateOp } from "../src/agent/index.ts"
import { ExitReason, Process } from "../src/runtime/index.ts"

const State = Schema.Struct({
  count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  log: Schema.Array(Schema.String).pipe(Schema.withDecodingDefault(Effect.succeed([])))
})
type State = typeof State.Type

const Child = Agent.define({
  name: "child",
  schema: State,
  routes: [
    { pattern: "child.work", target: (_s, a) => ({ ops: [StateOp.set({ count: a.state.count + 1 })] }) },
    { pattern: "troupe.agent.orphaned", target: () => ({ ops: [StateOp.set({ log: ["orphaned"] })] }) }
  ]
})

const Parent = Agent.define({
  name: "parent",
  schema: State,
  routes: [
    {
      pattern: "parent.spawn",
      target: (s) => {
        // the parent.spawn signal this example sends carries these fields
        const { id, policy } = s.data as { id: string; policy: Directive.OnParentDeath }
        return { directives: [Directive.spawnAgent(id, Child, { onParentDeath: policy })] }
      }
    },
    {
      pattern: "troupe.agent.child.*",
      // a child lifecycle signal carries the child's id
      target: (s, a) => ({
        ops: [StateOp.set({ log: [...a.state.log, `${s.type} ${(s.data as { id: string }).id}`] })]
      })
    }
  ]
})

const Live = AgentServer.layer().pipe(Layer.provide(DirectiveExecutor.layer), Layer.provide(Bus.layer()))
const sig = (type: string, data?: unknown) => Signal.make(data === undefined ? { type } : { type, data })

const program = Effect.gen(function*() {
  const server = yield* AgentServer
  const parent = yield* server.start(Parent, { id: "parent", restart: "temporary" })
  for (const policy of ["stop", "continue", "emitOrphan"] as const) {
    yield* server.call(parent, yield* sig("parent.spawn", { id: `child-${policy}`, policy }))
  }
  yield* Effect.sleep("10 millis")
  yield* server.call("child-continue", yield* sig("child.work"))
  yield* server.call("child-continue", yield* sig("child.work"))
  console.log("child-continue count:", (yield* server.state<State>("child-continue")).state.count)

  const before = server.whereis("child-continue")
  console.log("crashing child-continue ...")
  before?.signalStop(ExitReason.die(new Error("simulated crash")))
  if (before !== undefined) yield* Process.awaitExit(before)
  yield* Effect.sleep("10 millis")
  const after = server.whereis("child-continue")
  console.log(
    "restarted:",
    after !== undefined && after !== before,
    "count after restart:",
    (yield* server.state<State>("child-continue")).state.count
  )
  console.log("parent saw:", (yield* server.state<State>(parent)).state.log)

  console.log("stopping the parent ...")
  yield* server.stop(parent, ExitReason.shutdown)
  yield* Effect.sleep("10 millis")
  console.log("child-stop running:", server.whereis("child-stop") !== undefined)
  console.log("child-continue running:", server.whereis("child-continue") !== undefined)
  console.log("child-emitOrphan log:", (yield* server.state<State>("child-emitOrphan")).state.log)
})

Effect.runPromise(program.pipe(Effect.provide(Live))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

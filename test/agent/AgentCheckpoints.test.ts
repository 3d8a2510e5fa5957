import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Agent, AgentServer, Bus, DirectiveExecutor, Signal } from "../../src/agent/index.ts"
import { Checkpoints, type CheckpointsShape } from "../../src/llmagent/index.ts"
import { ExitReason, Process } from "../../src/runtime/index.ts"
import { CounterState, Increment } from "./support.ts"

const sig = (type: string, data?: unknown) =>
  Signal.make(data === undefined ? { type } : { type, data }).pipe(Effect.orDie)

const Counter = Agent.define({
  name: "counter",
  schema: CounterState,
  actions: [Increment],
  routes: [{ pattern: "work.inc", target: Increment }]
})

const server = AgentServer.layer().pipe(
  Layer.provide(DirectiveExecutor.layer),
  Layer.provideMerge(Bus.layer())
)

/** Lets the background saves and the restarts run (no clock movement). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

describe("AgentServer checkpoints: the state is saved after each change and the latest restored on (re)start", () => {
  it.effect("each cmd that changes the state saves it; a crashed agent restarts from its latest checkpoint; a new server starts from it too", () =>
    Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      yield* Effect.scoped(Effect.gen(function*() {
        const agents = yield* AgentServer
        const id = yield* agents.start(Counter, { id: "c1" })
        yield* agents.call(id, yield* sig("work.inc", { by: 2 }))
        yield* settle
        yield* agents.call(id, yield* sig("work.inc", { by: 3 }))
        yield* settle
        const saved = yield* checkpoints.list("c1")
        assert.deepStrictEqual(saved.map((c) => (c.state as { count: number }).count), [5, 2])
        // a crash: the restart begins from the checkpoint, not from the start arguments
        const first = agents.whereis("c1")
        first?.signalStop(ExitReason.die(new Error("crash")))
        if (first !== undefined) yield* Process.awaitExit(first)
        yield* settle
        assert.strictEqual((yield* agents.state<typeof CounterState.Type>("c1")).state.count, 5)
      })).pipe(Effect.provide(server))
      // another server (a restarted process): the start begins from the checkpoint
      yield* Effect.scoped(Effect.gen(function*() {
        const agents = yield* AgentServer
        yield* agents.start(Counter, { id: "c1", state: { count: 100 } })
        assert.strictEqual((yield* agents.state<typeof CounterState.Type>("c1")).state.count, 5)
        yield* agents.call("c1", yield* sig("work.inc", { by: 1 }))
        yield* settle
      })).pipe(Effect.provide(server))
      assert.strictEqual((Option.getOrThrow(yield* checkpoints.latest("c1")).state as { count: number }).count, 6)
      assert.lengthOf(yield* checkpoints.list("c1"), 3)
    }).pipe(Effect.provide(Checkpoints.layerMemory({ keep: 3 }))))

  it.effect("a checkpoint that does not decode with the definition's schema is ignored: the agent starts from its start arguments", () =>
    Effect.gen(function*() {
      yield* Checkpoints.use((c) => c.save("c2", { count: "not a number" }))
      const agents = yield* AgentServer
      yield* agents.start(Counter, { id: "c2", state: { count: 7 } })
      assert.strictEqual((yield* agents.state<typeof CounterState.Type>("c2")).state.count, 7)
    }).pipe(Effect.scoped, Effect.provide(server), Effect.provide(Checkpoints.layerMemory())))

  it.effect("a restart whose init fails is ignored and logged: a store blip stops no other agent, the next message starts the agent again", () =>
    Effect.gen(function*() {
      const memory = yield* Checkpoints
      let outage = false
      let reads = 0
      // the PostgreSQL store's latest is orDie: an unreachable database is a defect
      const store: CheckpointsShape = {
        ...memory,
        latest: (id) =>
          Effect.suspend(() => {
            reads++
            return outage ? Effect.die(new Error("connection refused")) : memory.latest(id)
          })
      }
      const agents = yield* AgentServer.make().pipe(Effect.provideService(Checkpoints, store))
      yield* agents.start(Counter, { id: "bystander" })
      yield* agents.start(Counter, { id: "victim" })
      yield* agents.call("victim", yield* sig("work.inc", { by: 2 }))
      yield* settle
      outage = true
      reads = 0
      agents.whereis("victim")?.kill()
      yield* settle
      assert.strictEqual(reads, 1, "the failed restart was retried")
      assert.isUndefined(agents.supervisor.exitReason)
      assert.isDefined(agents.whereis("bystander"))
      assert.isUndefined(agents.whereis("victim"))
      // still unreachable: the message finds no agent, and the agent stays to be started by a later one
      const missing = yield* Effect.flip(agents.call("victim", yield* sig("work.inc", { by: 1 })))
      assert.strictEqual(missing._tag, "AgentNotFound")
      outage = false
      const revived = yield* agents.call<typeof CounterState.Type>("victim", yield* sig("work.inc", { by: 1 }))
      assert.strictEqual(revived.state.count, 3) // restored from its checkpoint, then the message
      assert.isDefined(agents.whereis("victim"))
      // a cast starts it again too
      outage = true
      agents.whereis("victim")?.kill()
      yield* settle
      outage = false
      yield* agents.cast("victim", yield* sig("work.inc", { by: 10 }))
      yield* settle
      assert.strictEqual((yield* agents.state<typeof CounterState.Type>("victim")).state.count, 13)
      yield* agents.start(Counter, { id: "later" })
      // a stop forgets an agent waiting to be started again
      outage = true
      agents.whereis("later")?.kill()
      yield* settle
      outage = false
      yield* agents.stop("later")
      assert.strictEqual((yield* Effect.flip(agents.state("later")))._tag, "AgentNotFound")
    }).pipe(
      Effect.scoped,
      Effect.provide(DirectiveExecutor.layer.pipe(Layer.provideMerge(Bus.layer()))),
      Effect.provide(Checkpoints.layerMemory())
    ))
})

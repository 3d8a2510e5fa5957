import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Logger, Metric, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  Action,
  Agent,
  AgentServer,
  Bus,
  Directive,
  DirectiveExecutor,
  Signal,
  StateOp
} from "../../src/agent/index.ts"
import { Checkpoints, type CheckpointsShape } from "../../src/llmagent/index.ts"
import { ExitReason, Process } from "../../src/runtime/index.ts"
import { CounterState, Increment } from "./support.ts"

const Live = AgentServer.layer().pipe(
  Layer.provide(DirectiveExecutor.layer),
  Layer.provideMerge(Bus.layer())
)

const sig = (type: string, data?: unknown) =>
  Signal.make(data === undefined ? { type } : { type, data }).pipe(Effect.orDie)

const Slow = Action.make({
  name: "slow_double",
  params: Schema.Struct({ n: Schema.Number }),
  output: Schema.Number,
  run: ({ n }) => Effect.sleep("1 second").pipe(Effect.as(Action.withOps(n * 2, StateOp.set({ count: n * 2 }))))
})

const Worker = Agent.define({
  name: "worker",
  schema: CounterState,
  actions: [Increment, Slow],
  routes: [
    { pattern: "work.inc", target: Increment },
    { pattern: "work.slow", target: Slow },
    {
      pattern: "work.emit",
      target: () => ({ directives: [Directive.emit({ type: "work.emitted", data: { ok: true } })] })
    },
    {
      pattern: "work.later",
      target: () => ({ directives: [Directive.schedule("10 seconds", { type: "work.inc", data: { by: 100 } })] })
    },
    { pattern: "work.finish", target: () => ({ status: "completed" }) },
    { pattern: "work.stop", target: () => ({ directives: [Directive.stop()] }) },
    { pattern: "work.fail", target: () => ({ directives: [Directive.error(new Error("bad thing"))] }) },
    {
      pattern: "work.flood",
      target: () => ({ directives: Array.from({ length: 20 }, () => Directive.emit({ type: "x" })) })
    },
    {
      pattern: "work.tell-parent",
      target: () => ({ directives: [Directive.emitToParent({ type: "child.says", data: { hi: 1 } })] })
    },
    { pattern: "troupe.agent.orphaned", target: () => ({ ops: [StateOp.set({ log: ["orphaned"] })] }) }
  ]
})

const Parent = Agent.define({
  name: "parent",
  schema: CounterState,
  routes: [
    {
      pattern: "parent.spawn",
      target: (s) => {
        const d = s.data as { id: string; policy: Directive.OnParentDeath }
        return { directives: [Directive.spawnAgent(d.id, Worker, { onParentDeath: d.policy })] }
      }
    },
    {
      pattern: "parent.stop-child",
      target: (s) => ({ directives: [Directive.stopChild((s.data as { id: string }).id)] })
    },
    {
      pattern: "troupe.agent.child.*",
      target: (s, agent) => ({
        ops: [StateOp.set({ log: [...agent.state.log, `${s.type.split(".").pop()}:${(s.data as { id: string }).id}`] })]
      })
    },
    {
      pattern: "child.says",
      target: (_s, agent) => ({ ops: [StateOp.set({ log: [...agent.state.log, "child said hi"] })] })
    }
  ]
})

describe("AgentServer", () => {
  it.effect("call runs cmd and replies with the agent; state; cast; defaults and bad options", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Worker, { id: "w1", state: { count: 1 } })
      const after = yield* server.call<typeof CounterState.Type>(id, yield* sig("work.inc", { by: 2 }))
      assert.strictEqual(after.state.count, 3)
      yield* server.cast(id, yield* sig("work.inc", { by: 1 }))
      assert.strictEqual((yield* server.state<typeof CounterState.Type>(id)).state.count, 4)
      const missing = yield* Effect.flip(server.call("nope", yield* sig("work.inc")))
      assert.strictEqual(missing._tag, "AgentNotFound")
      const badOpts = yield* Effect.flip(server.start(Worker, { maxQueue: 0 }))
      assert.strictEqual(badOpts._tag, "InvalidAgentOptions")
      if (badOpts._tag === "InvalidAgentOptions") assert.strictEqual(badOpts.path, "maxQueue")
      const badState = yield* Effect.flip(server.start(Worker, { state: { count: "x" } }))
      assert.strictEqual(badState._tag, "InvalidState")
    }).pipe(Effect.provide(Live)))

  it.effect("directives end to end: RunAction result routed back, Emit to the bus, Schedule, awaitStatus", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const bus = yield* Bus
      const emitted = yield* bus.subscribe("work.*")
      const id = yield* server.start(Worker, { id: "w2" })
      const running = yield* server.call(id, yield* sig("work.slow", { n: 21 }))
      assert.strictEqual(running.status, "running")
      const idle = yield* Effect.forkChild(server.awaitStatus<typeof CounterState.Type>(id, "idle", "5 seconds"), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 second")
      const done = yield* Fiber.join(idle)
      assert.strictEqual(done.state.count, 42)
      assert.strictEqual(done.result, 42)
      yield* server.call(id, yield* sig("work.emit"))
      const out = yield* emitted.take
      assert.deepStrictEqual([out.type, out.source, out.data], ["work.emitted", "agent:w2", { ok: true }])
      yield* server.call(id, yield* sig("work.later"))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* server.state<typeof CounterState.Type>(id)).state.count, 142)
      const waiting = yield* Effect.flip(
        server.awaitStatus(id, "completed", "1 second").pipe(
          Effect.forkChild,
          Effect.flatMap((f) => Effect.andThen(TestClock.adjust("1 second"), Fiber.join(f)))
        )
      )
      assert.strictEqual(waiting._tag, "StatusTimeout")
      const completed = yield* Effect.forkChild(server.awaitStatus(id, "completed"), { startImmediately: true })
      yield* server.cast(id, yield* sig("work.finish"))
      assert.strictEqual((yield* Fiber.join(completed)).status, "completed")
      assert.isDefined(server.whereis(id)) // completion is state, not exit
      yield* server.call(id, yield* sig("work.stop"))
      const process = server.whereis(id)
      if (process !== undefined) assert.deepStrictEqual(yield* Process.awaitExit(process), ExitReason.normal)
    }).pipe(Effect.provide(Live)))

  it.effect("bounded directive queue: a typed overflow error, the command is discarded", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Worker, { id: "w3", maxQueue: 10 })
      const error = yield* Effect.flip(server.call(id, yield* sig("work.flood")))
      assert.strictEqual(error._tag, "DirectiveQueueFull")
      if (error._tag === "DirectiveQueueFull") assert.deepStrictEqual([error.capacity, error.incoming], [10, 20])
    }).pipe(Effect.provide(Live)))

  it.effect("a cast or delivered signal refused by a full directive queue is logged and counted, never dropped silently", () => {
    const logged: Array<string> = []
    const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
      logged.push(`${logLevel} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    })
    return Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Worker, { id: "w3c", maxQueue: 10 })
      const before = yield* Metric.value(AgentServer.signalsDropped)
      yield* server.cast(id, yield* sig("work.flood"))
      yield* server.state(id) // the cast was handled
      const after = yield* Metric.value(AgentServer.signalsDropped)
      assert.strictEqual(after.count - before.count, 1)
      assert.isTrue(logged.some((line) => line.includes("Warn") && line.includes("w3c") && line.includes("work.flood")))
    }).pipe(Effect.provide(Live), Effect.provide(Logger.layer([logger])))
  })

  it.effect("error policies: log (default), stop, stopAfter N, emit", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const bus = yield* Bus
      const errors = yield* bus.subscribe("troupe.agent.error")
      const logOnly = yield* server.start(Worker, { id: "log" })
      yield* server.call(logOnly, yield* sig("work.fail"))
      yield* server.call(logOnly, yield* sig("unrouted.signal"))
      assert.isDefined(server.whereis(logOnly))
      const stopper = yield* server.start(Worker, { id: "stop", errorPolicy: "stop" })
      const p1 = server.whereis(stopper)
      yield* server.call(stopper, yield* sig("work.fail"))
      if (p1 !== undefined) assert.strictEqual((yield* Process.awaitExit(p1))._tag, "Shutdown")
      assert.isUndefined(server.whereis(stopper)) // a stop on error is not restarted
      const third = yield* server.start(Worker, { id: "third", errorPolicy: { stopAfter: 3 } })
      yield* server.call(third, yield* sig("work.fail"))
      yield* server.call(third, yield* sig("work.fail"))
      assert.isDefined(server.whereis(third))
      const p3 = server.whereis(third)
      yield* server.call(third, yield* sig("work.fail"))
      if (p3 !== undefined) yield* Process.awaitExit(p3)
      assert.isUndefined(server.whereis(third))
      const emitter = yield* server.start(Worker, { id: "emitter", errorPolicy: { emit: "bus" } })
      yield* server.call(emitter, yield* sig("work.fail"))
      const report = yield* errors.take
      assert.deepStrictEqual(report.data, { agent: "emitter", error: { tag: "Error", message: "bad thing" } })
    }).pipe(Effect.provide(Live)))

  it.effect("a crashed child agent is restarted with its state re-initialised, and its parent is notified", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const parent = yield* server.start(Parent, { id: "p" })
      yield* server.call(parent, yield* sig("parent.spawn", { id: "kid", policy: "stop" }))
      yield* Effect.yieldNow
      yield* server.call("kid", yield* sig("work.inc", { by: 5 }))
      assert.strictEqual((yield* server.state<typeof CounterState.Type>("kid")).state.count, 5)
      yield* server.call("kid", yield* sig("work.tell-parent"))
      const first = server.whereis("kid")
      first?.signalStop(ExitReason.die(new Error("crash")))
      if (first !== undefined) yield* Process.awaitExit(first)
      yield* Effect.yieldNow
      const second = server.whereis("kid")
      assert.isDefined(second)
      assert.notStrictEqual(second, first)
      assert.strictEqual((yield* server.state<typeof CounterState.Type>("kid")).state.count, 0)
      yield* Effect.yieldNow
      const log = (yield* server.state<typeof CounterState.Type>(parent)).state.log
      // the restarted child's start can reach the parent before the old one's Down: both are reported
      assert.deepStrictEqual(log.slice(0, 2), ["started:kid", "child said hi"])
      assert.deepStrictEqual([...log.slice(2)].sort(), ["down:kid", "started:kid"])
      yield* server.call(parent, yield* sig("parent.stop-child", { id: "kid" }))
      if (second !== undefined) assert.strictEqual((yield* Process.awaitExit(second))._tag, "Shutdown")
    }).pipe(Effect.provide(Live)))

  it.effect("on parent death: stop | continue | emitOrphan", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const parent = yield* server.start(Parent, { id: "p2", restart: "temporary" })
      for (const policy of ["stop", "continue", "emitOrphan"] as const) {
        yield* server.call(parent, yield* sig("parent.spawn", { id: `kid-${policy}`, policy }))
      }
      yield* Effect.yieldNow
      const stopKid = server.whereis("kid-stop")
      yield* server.stop(parent, ExitReason.shutdown)
      yield* Effect.yieldNow
      if (stopKid !== undefined) assert.strictEqual((yield* Process.awaitExit(stopKid))._tag, "Shutdown")
      assert.isUndefined(server.whereis("kid-stop"))
      assert.isDefined(server.whereis("kid-continue"))
      assert.deepStrictEqual((yield* server.state<typeof CounterState.Type>("kid-continue")).state.log, [])
      assert.deepStrictEqual((yield* server.state<typeof CounterState.Type>("kid-emitOrphan")).state.log, ["orphaned"])
    }).pipe(Effect.provide(Live)))

  it.effect("a restart that finds its id taken is ignored: a parent re-spawning its crashed child stops no agent", () =>
    Effect.gen(function*() {
      const Respawner = Agent.define({
        name: "respawner",
        schema: CounterState,
        routes: [
          { pattern: "parent.spawn", target: () => ({ directives: [Directive.spawnAgent("c1", Worker)] }) },
          // a supervising parent: it brings the child back when it goes down (racing the supervisor's restart)
          { pattern: "troupe.agent.child.down", target: () => ({ directives: [Directive.spawnAgent("c1", Worker)] }) }
        ]
      })
      const server = yield* AgentServer
      yield* server.start(Respawner, { id: "p" })
      yield* server.start(Worker, { id: "bystander" })
      yield* server.call("p", yield* sig("parent.spawn"))
      const settle = Effect.repeat(Effect.yieldNow, { times: 50 })
      yield* settle
      for (let crash = 0; crash < 3; crash++) {
        server.whereis("c1")?.kill()
        yield* settle
        assert.isUndefined(server.supervisor.exitReason, `the supervisor stopped after crash ${crash + 1}`)
        for (const id of ["p", "bystander", "c1"]) {
          assert.isDefined(server.whereis(id), `${id} after crash ${crash + 1}`)
        }
      }
      yield* server.start(Worker, { id: "later" })
      yield* server.call("c1", yield* sig("work.inc", { by: 2 }))
      assert.strictEqual((yield* server.state<typeof CounterState.Type>("c1")).state.count, 2)
    }).pipe(Effect.provide(Live)))

  it.effect("a restart that finds its id taken is ignored: a start overtaking the crash notice stops no agent", () => {
    // reading agent "slow"'s checkpoint takes a second, so its start keeps the supervisor busy meanwhile
    const store: CheckpointsShape = {
      save: () => Effect.die(new Error("not saved here")), // no state changes in this test
      latest: (id) =>
        id === "slow" ? Effect.as(Effect.sleep("1 second"), Option.none()) : Effect.succeed(Option.none()),
      list: () => Effect.succeed([])
    }
    return Effect.gen(function*() {
      const server = yield* AgentServer
      yield* server.start(Worker, { id: "a" })
      yield* server.start(Worker, { id: "bystander" })
      const slow = yield* Effect.forkChild(server.start(Worker, { id: "slow" }), { startImmediately: true })
      // a start of "a" queued behind it, then "a" crashes: the start is handled before the crash notice
      const again = yield* Effect.forkChild(Effect.exit(server.start(Worker, { id: "a" })), { startImmediately: true })
      server.whereis("a")?.kill()
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(slow)
      yield* Fiber.join(again)
      yield* Effect.repeat(Effect.yieldNow, { times: 50 })
      assert.isUndefined(server.supervisor.exitReason)
      for (const id of ["a", "bystander", "slow"]) assert.isDefined(server.whereis(id), id)
    }).pipe(Effect.provide(Live.pipe(Layer.provide(Layer.succeed(Checkpoints, store)))))
  })

  it("a directive kind without an executor fails to compile", () => {
    const context = {} as DirectiveExecutor.DirectiveContext
    const stopOnly = DirectiveExecutor.execute(Directive.stop(), context)
    const both = DirectiveExecutor.executeAll([Directive.stop(), Directive.emit({ type: "x" })], context)
    const _ok: Effect.Effect<void> = stopOnly.pipe(Effect.provide(DirectiveExecutor.stopLayer))
    // @ts-expect-error the EmitExecutor is missing: R is EmitExecutor, not never
    const _missing: Effect.Effect<void> = both.pipe(Effect.provide(DirectiveExecutor.stopLayer))
    // @ts-expect-error an AgentServer without every executor cannot be run
    const _server: Layer.Layer<AgentServer, unknown, never> = AgentServer.layer().pipe(
      Layer.provide(Layer.mergeAll(DirectiveExecutor.stopLayer, DirectiveExecutor.errorLayer))
    )
    assert.isDefined([_ok, _missing, _server])
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  Action,
  Agent,
  AgentServer,
  type AgentServerShape,
  Bus,
  Directive,
  DirectiveExecutor,
  Instruction,
  Signal
} from "../../src/agent/index.ts"
import { CounterState, Increment } from "./support.ts"

const sig = (type: string, data?: unknown) =>
  Signal.make(data === undefined ? { type } : { type, data }).pipe(Effect.orDie)

/** Lets the directive drains, the restarts and the action tasks run (no clock movement). */
const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

/** Values that have no string form: `String(value)` throws for each. */
const unprintable = (): ReadonlyArray<unknown> => [
  Object.create(null),
  {
    toString: () => {
      throw new Error("toString throws")
    }
  },
  { [Symbol.toPrimitive]: () => ({}) }
]

let thrown: unknown = undefined
const Boom = Action.pure({
  name: "boom",
  params: Schema.Struct({}),
  output: Schema.Number,
  run: () => {
    throw thrown
  }
})

const Counter = Agent.define({
  name: "counter",
  schema: CounterState,
  actions: [Increment, Boom],
  routes: [{ pattern: "inc", target: Increment }, { pattern: "boom", target: Boom }]
})

const Live = AgentServer.layer().pipe(Layer.provide(DirectiveExecutor.layer), Layer.provideMerge(Bus.layer()))

const failureResult = (error: unknown) => [{
  _tag: "ActionResult" as const,
  action: "x",
  outcome: { _tag: "Failure" as const, error }
}]

/** The agent actor's waiter table (ActorProcess.state is a public field; the table's size is what is bounded). */
const waitersOf = (server: AgentServerShape, id: string): number =>
  (server.whereis(id) as unknown as { state: { waiters: { size: number } } }).state.waiters.size

describe("AgentProcess: an error that has no string form", () => {
  it.effect("an ActionResult failure whose error has no string form is reported; the agent keeps running with its state", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "c1" })
      yield* server.call(id, yield* sig("inc", { by: 5 }))
      const before = server.whereis(id)
      for (const error of unprintable()) {
        const after = yield* server.cmd(id, failureResult(error))
        assert.strictEqual(after.error, error)
        yield* settle
      }
      assert.strictEqual(server.whereis(id), before, "the agent process was replaced (it crashed)")
      assert.strictEqual((yield* server.state<typeof CounterState.Type>(id)).state.count, 5)
    }).pipe(Effect.provide(Live)))

  it.effect("a pure action throwing a value without a string form is reported; the agent keeps running with its state", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "c2", errorPolicy: { emit: "bus" } })
      const errors = yield* (yield* Bus).subscribe("troupe.agent.error")
      yield* server.call(id, yield* sig("inc", { by: 5 }))
      const before = server.whereis(id)
      for (const value of unprintable()) {
        thrown = value
        yield* server.call(id, yield* sig("boom"))
        yield* settle
        const report = (yield* errors.take).data as { error: { tag: string; message: string } }
        assert.strictEqual(report.error.tag, "ActionFailed")
        assert.include(report.error.message, "[object ")
      }
      assert.strictEqual(server.whereis(id), before, "the agent process was replaced (it crashed)")
      assert.strictEqual((yield* server.state<typeof CounterState.Type>(id)).state.count, 5)
    }).pipe(Effect.provide(Live)))

  it.effect("four such failures stop no agent of the server (the restart intensity is never used)", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      yield* server.start(Counter, { id: "bystander" })
      const id = yield* server.start(Counter, { id: "target" })
      for (let i = 0; i < 4; i++) {
        yield* server.cmd(id, failureResult(Object.create(null)))
        yield* settle
      }
      assert.isUndefined(server.supervisor.exitReason)
      assert.isDefined(server.whereis("bystander"))
      yield* server.start(Counter, { id: "fresh" })
    }).pipe(Effect.provide(Live)))
})

describe("AgentProcess: awaitStatus waiters", () => {
  it.effect("a timed-out awaitStatus leaves no waiter behind in the agent", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "poll" })
      const fibers = yield* Effect.forEach(
        Array.from({ length: 2_000 }),
        () =>
          Effect.forkChild(Effect.flip(server.awaitStatus(id, "completed", "20 millis")), { startImmediately: true })
      )
      assert.strictEqual(waitersOf(server, id), 2_000)
      yield* TestClock.adjust("20 millis")
      const errors = yield* Fiber.joinAll(fibers)
      assert.isTrue(errors.every((e) => e._tag === "StatusTimeout"))
      yield* settle
      assert.strictEqual(waitersOf(server, id), 0)
    }).pipe(Effect.provide(Live)))

  it.effect("an interrupted awaitStatus leaves no waiter behind in the agent", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "gone" })
      const waiting = yield* Effect.forkChild(server.awaitStatus(id, "completed", "1 hour"), { startImmediately: true })
      assert.strictEqual(waitersOf(server, id), 1)
      yield* Fiber.interrupt(waiting)
      yield* settle
      assert.strictEqual(waitersOf(server, id), 0)
    }).pipe(Effect.provide(Live)))

  it.effect("waiters are bounded (maxWaiters, default 10,000): one more fails at once with MailboxFull", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "busy", maxWaiters: 3 })
      const fibers = yield* Effect.forEach(
        Array.from({ length: 3 }),
        () => Effect.forkChild(server.awaitStatus(id, "completed", "1 hour"), { startImmediately: true })
      )
      const refused = yield* Effect.flip(server.awaitStatus(id, "completed", "1 hour"))
      assert.strictEqual(refused._tag, "MailboxFull")
      if (refused._tag === "MailboxFull") assert.strictEqual(refused.capacity, 3)
      assert.strictEqual(waitersOf(server, id), 3)
      yield* Fiber.interruptAll(fibers)
      yield* settle
      // the callers that went away made room
      const again = yield* Effect.forkChild(server.awaitStatus(id, "completed", "1 hour"), { startImmediately: true })
      assert.strictEqual(waitersOf(server, id), 1)
      yield* Fiber.interrupt(again)
      const bad = yield* Effect.flip(server.start(Counter, { maxWaiters: 0 }))
      assert.strictEqual(bad._tag, "InvalidAgentOptions")
    }).pipe(Effect.provide(Live)))
})

// An action that fails at once; its result's command produces many directives (an audit hook), so a queue holding
// the rest of a large batch cannot take them.
const FailFast = Action.make({
  name: "fail_fast",
  params: Schema.Struct({}),
  output: Schema.Number,
  retries: 0,
  run: () => Effect.fail("nope")
})
const Audited = Agent.define({
  name: "audited",
  schema: CounterState,
  actions: [FailFast],
  routes: [{
    pattern: "go",
    target: () => ({
      instructions: [
        Instruction.action(FailFast, {}),
        Instruction.decide(() => ({ directives: Array.from({ length: 113 }, () => Directive.emit({ type: "noise" })) }))
      ]
    })
  }],
  onAfterCmd: (agent, instruction, directives) =>
    instruction._tag === "ActionResult"
      ? { agent, directives: [...directives, ...Array.from({ length: 100 }, () => Directive.emit({ type: "audit" }))] }
      : { agent, directives }
})
// an Emit executor that yields, so the action task runs (and reports) while a batch drains
const YieldingEmit = Layer.succeed(DirectiveExecutor.EmitExecutor, () => Effect.yieldNow)
const AuditLive = AgentServer.layer().pipe(
  Layer.provide(Layer.mergeAll(
    YieldingEmit,
    DirectiveExecutor.spawnLayer,
    DirectiveExecutor.spawnAgentLayer,
    DirectiveExecutor.stopChildLayer,
    DirectiveExecutor.scheduleLayer,
    DirectiveExecutor.runActionLayer,
    DirectiveExecutor.stopLayer,
    DirectiveExecutor.errorLayer
  ))
)

describe("AgentProcess: the directive queue bound", () => {
  it.effect("the result of an action in flight is always taken, even by a full directive queue: its agent does not stay running", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Audited, { id: "audited", maxQueue: 150 })
      const running = yield* server.call(id, yield* sig("go"))
      assert.strictEqual(running.status, "running")
      yield* settle
      const after = yield* server.state(id)
      assert.deepStrictEqual([after.status, after.pending, (after.error as { _tag: string })._tag], [
        "idle",
        0,
        "ActionFailed"
      ])
    }).pipe(Effect.provide(AuditLive)))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Action, Agent, Directive, Instruction, Signal, StateOp } from "../../src/agent/index.ts"
import { CounterState, Increment } from "./support.ts"

const Fetch = Action.make({
  name: "fetch",
  params: Schema.Struct({ url: Schema.String }),
  output: Schema.String,
  run: ({ url }) => Effect.succeed(url)
})

const Counter = Agent.define({
  name: "counter",
  schema: CounterState,
  actions: [Increment, Fetch],
  routes: [
    { pattern: "counter.inc", target: Increment },
    { pattern: "counter.*", target: (s) => ({ ops: [StateOp.set({ log: [`star:${s.type}`] })] }), priority: 10 },
    {
      pattern: "counter.done",
      target: () => ({ status: "completed", directives: [Directive.emit({ type: "counter.finished" })] })
    },
    { pattern: "fetch.**", target: Fetch }
  ]
})

const sig = (type: string, data?: unknown) =>
  Signal.make(data === undefined ? { type } : { type, data }).pipe(Effect.orDie)

describe("Agent.cmd (pure)", () => {
  it.effect("new applies schema defaults; bad initial state names the path", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Counter, { id: "c1" })
      assert.deepStrictEqual(agent.state, { count: 0, log: [] })
      assert.strictEqual(agent.status, "idle")
      const error = yield* Effect.flip(Agent.new(Counter, { state: { count: "x" } }))
      assert.strictEqual(error._tag, "InvalidState")
      if (error._tag === "InvalidState") assert.strictEqual(error.path, "count")
    }))

  it.effect("a pure action runs inline: new state, no directives, input agent untouched", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Counter, { id: "c1" })
      const { agent: next, directives } = Agent.cmd(agent, Instruction.action(Increment, { by: 2 }))
      assert.strictEqual(next.state.count, 2)
      assert.strictEqual(next.result, 2)
      assert.deepStrictEqual(directives, [])
      assert.strictEqual(agent.state.count, 0)
      const twice = Agent.cmd(agent, [
        Instruction.action(Increment, { by: 1 }),
        Instruction.action(Increment, { by: 1 })
      ])
      assert.strictEqual(twice.agent.state.count, 2)
    }))

  it.effect("signals route by priority; effectful actions become RunAction; status tracks pending work", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Counter, { id: "c1" })
      const r1 = Agent.cmd(agent, yield* sig("counter.inc", { by: 5 }))
      assert.deepStrictEqual(r1.agent.state, { count: 5, log: ["star:counter.inc"] })
      const r2 = Agent.cmd(r1.agent, yield* sig("fetch.a.b", { url: "u" }))
      assert.strictEqual(r2.directives[0]?._tag, "RunAction")
      assert.strictEqual(r2.agent.status, "running")
      assert.strictEqual(r2.agent.pending, 1)
      const r3 = Agent.cmd(r2.agent, Instruction.actionSucceeded("fetch", "u", [StateOp.set({ count: 9 })]))
      assert.strictEqual(r3.agent.status, "idle")
      assert.strictEqual(r3.agent.state.count, 9)
      const r4 = Agent.cmd(r3.agent, yield* sig("counter.done"))
      assert.strictEqual(r4.agent.status, "completed")
      assert.deepStrictEqual(r4.directives.map((d) => d._tag), ["Emit"])
    }))

  it.effect("never throws: failures become Error directives and leave the agent unchanged", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Counter, { id: "c1" })
      const bad = Agent.cmd(agent, Instruction.action(Increment, { by: "x" }))
      assert.strictEqual(bad.directives[0]?._tag, "Error")
      const err = (bad.directives[0] as Directive.Error).error as { _tag: string; path: string }
      assert.deepStrictEqual([err._tag, err.path], ["InvalidParams", "by"])
      const unrouted = Agent.cmd(agent, yield* sig("nobody.home"))
      assert.strictEqual(((unrouted.directives[0] as Directive.Error).error as { _tag: string })._tag, "NoRoute")
      const throwing = Agent.cmd(
        agent,
        Instruction.decide(() => {
          throw new Error("bug")
        })
      )
      assert.strictEqual(throwing.agent, agent)
      assert.strictEqual(((throwing.directives[0] as Directive.Error).error as { _tag: string })._tag, "CmdFailed")
      const invalid = Agent.cmd(agent, Instruction.decide(() => ({ ops: [StateOp.set({ count: "nope" })] })))
      assert.strictEqual(invalid.agent, agent)
      const e = (invalid.directives[0] as Directive.Error).error as { _tag: string; path: string }
      assert.deepStrictEqual([e._tag, e.path], ["InvalidState", "count"])
      const Other = Action.pure({ name: "other", params: Schema.Struct({}), output: Schema.Number, run: () => 1 })
      const unknown = Agent.cmd(agent, Instruction.action(Other))
      assert.strictEqual(unknown.directives[0]?._tag, "Error")
    }))

  it.effect("a failed command leaves the agent unchanged: a pure action that throws discards the state changes before it", () =>
    Effect.gen(function*() {
      const Throws = Action.pure({
        name: "throws",
        params: Schema.Struct({}),
        output: Schema.Number,
        run: () => {
          throw new Error("bug in action")
        }
      })
      const Atomic = Agent.define({ name: "atomic", schema: CounterState, actions: [Increment, Throws, Fetch] })
      const agent = yield* Agent.new(Atomic, { id: "a" })
      const thrown = Agent.cmd(agent, [Instruction.action(Increment, { by: 1 }), Instruction.action(Throws, {})])
      assert.strictEqual(thrown.agent, agent)
      assert.deepStrictEqual(thrown.directives.map((d) => d._tag), ["Error"])
      const error = (thrown.directives[0] as Directive.Error).error as { _tag: string; action: string }
      assert.deepStrictEqual([error._tag, error.action], ["ActionFailed", "throws"])
      // params that do not decode fail the command too, and so does an action the agent does not know
      const Other = Action.pure({ name: "other", params: Schema.Struct({}), output: Schema.Number, run: () => 1 })
      for (const failing of [Instruction.action(Increment, { by: "x" }), Instruction.action(Other)]) {
        const r = Agent.cmd(agent, [
          Instruction.action(Fetch, { url: "u" }),
          Instruction.action(Increment, { by: 1 }),
          failing
        ])
        assert.strictEqual(r.agent, agent)
        assert.deepStrictEqual(r.directives.map((d) => d._tag), ["Error"])
      }
    }))

  it.effect("an unroutable signal is reported and the rest of the command still applies (nothing failed)", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Counter, { id: "c1" })
      const r = Agent.cmd(agent, [
        Instruction.action(Increment, { by: 1 }),
        Instruction.signal(yield* sig("nobody.home"))
      ])
      assert.strictEqual(r.agent.state.count, 1)
      assert.deepStrictEqual(r.directives.map((d) => d._tag), ["Error"])
    }))

  it.effect("hooks run around each instruction", () =>
    Effect.gen(function*() {
      const Hooked = Agent.define({
        name: "hooked",
        schema: CounterState,
        actions: [Increment],
        onBeforeCmd: (agent, instruction) =>
          instruction._tag === "Action"
            ? { agent, instruction: { ...instruction, params: { by: 10 } } }
            : { agent, instruction },
        onAfterCmd: (agent, _i, directives) => ({
          agent,
          directives: [...directives, Directive.emit({ type: "after" })]
        })
      })
      const agent = yield* Agent.new(Hooked)
      const r = Agent.cmd(agent, Instruction.action(Increment, { by: 1 }))
      assert.strictEqual(r.agent.state.count, 10)
      assert.deepStrictEqual(r.directives.map((d) => d._tag), ["Emit"])
    }))

  it.effect("bad route patterns are reported by new", () =>
    Effect.gen(function*() {
      const Broken = Agent.define({
        name: "broken",
        schema: CounterState,
        routes: [{ pattern: "a..b", target: () => undefined }]
      })
      const e = yield* Effect.flip(Agent.new(Broken))
      assert.strictEqual(e._tag, "InvalidRoute")
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Action, Agent, Directive, Instruction, Signal, StateOp } from "../../src/agent/index.ts"
import { Increment } from "./support.ts"

const State = Schema.Struct({
  count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  name: Schema.String.pipe(Schema.withDecodingDefault(Effect.succeed("n"))),
  role: Schema.optionalKey(Schema.Literals(["user", "admin"])),
  profile: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})
const Profiles = Agent.define({
  name: "profiles",
  schema: State,
  actions: [Increment],
  // a common handler: merge the signal's data into the state
  routes: [{ pattern: "profile.update", target: (s) => ({ ops: [StateOp.set(s.data as Record<string, unknown>)] }) }]
})

const errorOf = (directives: ReadonlyArray<Directive.Directive>) =>
  (directives[0] as Directive.Error | undefined)?.error as { _tag: string; path: string; detail: string } | undefined

describe("StateOp", () => {
  it.effect("a state op naming a reserved key (__proto__, constructor, prototype) fails the command with InvalidState naming the path", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.new(Profiles, { id: "p", state: { name: "ada" } })
      // a wire signal, as JSON.parse hands it over: __proto__ is an own key
      const wire = JSON.parse(
        "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/client\",\"type\":\"profile.update\",\"data\":{\"__proto__\":{\"role\":\"admin\"}}}"
      )
      const polluted = Agent.cmd(agent, yield* Signal.decode(wire))
      assert.strictEqual(polluted.agent, agent)
      const error = errorOf(polluted.directives)
      assert.deepStrictEqual([error?._tag, error?.path], ["InvalidState", "__proto__"])
      assert.include(error?.detail, "reserved key")
      const ops: ReadonlyArray<readonly [StateOp.StateOp, string]> = [
        [StateOp.set(JSON.parse("{\"profile\":{\"constructor\":{\"prototype\":{\"x\":1}}}}")), "profile.constructor"],
        [StateOp.setPath(["profile", "__proto__", "role"], "admin"), "profile.__proto__"],
        [StateOp.setPath(["prototype"], 1), "prototype"],
        [StateOp.deletePath(["constructor", "name"]), "constructor"],
        [StateOp.deleteKeys("__proto__"), "__proto__"]
      ]
      for (const [op, path] of ops) {
        const r = Agent.cmd(agent, Instruction.decide(() => ({ ops: [op] })))
        assert.strictEqual(r.agent, agent, path)
        assert.deepStrictEqual([errorOf(r.directives)?._tag, errorOf(r.directives)?.path], ["InvalidState", path])
      }
      // nothing was re-parented: the next update merges as ever
      const next = Agent.cmd(polluted.agent, Instruction.action(Increment, { by: 1 }))
      assert.deepStrictEqual(next.directives, [])
      assert.strictEqual(Object.getPrototypeOf(next.agent.state), Object.prototype)
      assert.deepStrictEqual(next.agent.state, { count: 1, name: "ada" })
      assert.isUndefined(next.agent.state.role)
    }))

  it("StateOp.apply refuses a reserved key with StateOp.ReservedKey naming the path; the state is not touched", () => {
    const state = { a: { b: 1 } }
    try {
      StateOp.apply(state, [StateOp.set(JSON.parse("{\"a\":{\"__proto__\":{\"polluted\":true}}}"))])
      assert.fail("no error")
    } catch (error) {
      assert.instanceOf(error, StateOp.ReservedKey)
      if (error instanceof StateOp.ReservedKey) assert.strictEqual(error.path, "a.__proto__")
    }
    assert.deepStrictEqual(state, { a: { b: 1 } })
    assert.isUndefined(({} as { polluted?: boolean }).polluted)
  })
})

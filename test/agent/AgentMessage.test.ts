/**
 * Agents survive bad messages (issue 10 §5): every message an `AgentServer` entry point takes from outside is
 * decoded first (`AgentMessage`), so a bad one is a typed `InvalidMessage` to its sender and the agent keeps
 * running with its state; raw `Actor.call` / `cast` / `send` to an agent's process cannot crash it either.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, ManagedRuntime } from "effect"
import * as fc from "fast-check"
import { Counter } from "../../bench/CounterAgent.ts"
import { AgentServer, Bus, DirectiveExecutor, Signal } from "../../src/agent/index.ts"
import * as AgentMessage from "../../src/agent/internal/AgentMessage.ts"
import { Actor, ExitReason } from "../../src/runtime/index.ts"

const Live = AgentServer.layer().pipe(Layer.provide(DirectiveExecutor.layer), Layer.provideMerge(Bus.layer()))

type Loose = Actor.ActorRef<
  { readonly call: unknown; readonly reply: unknown; readonly cast: unknown; readonly info: unknown }
>

const typedOrOk = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isSuccess(exit) ||
  (exit.cause.reasons.length > 0 &&
    exit.cause.reasons.every((r) => r._tag === "Fail" && typeof (r.error as { _tag?: unknown })._tag === "string"))

const countOf = (agent: { readonly state: unknown }) => (agent.state as { count: number }).count

describe("AgentServer: bad messages are typed errors, the agent keeps its state", () => {
  it.effect("AgentServer.call(id, null) fails with InvalidMessage; four of them leave the agent and its state alone", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer
      const id = yield* server.start(Counter, { id: "c" })
      yield* server.call(id, yield* Signal.make({ type: "counter.increment", data: { by: 5 } }))
      const pid = server.whereis(id)?.pid
      for (const bad of [null, 1, "x", { specversion: "1.0" }]) {
        const error = yield* Effect.flip(server.call(id, bad as never))
        assert.strictEqual(error._tag, "InvalidMessage")
        if (error._tag === "InvalidMessage") assert.strictEqual(error.entry, "call")
      }
      const raw = yield* Actor.call(server.whereis(id) as Loose, null)
      assert.strictEqual((raw as { _tag: string })._tag, "InvalidMessage")
      assert.strictEqual(countOf(yield* server.state(id)), 5)
      assert.strictEqual(server.whereis(id)?.pid, pid)
      assert.isUndefined(server.supervisor.exitReason)
    }).pipe(Effect.provide(Live)))

  it("fuzz: arbitrary values at every AgentServer entry point and at the agent's process", async () => {
    const runtime = ManagedRuntime.make(Live)
    const server = await runtime.runPromise(AgentServer.use(Effect.succeed))
    const id = await runtime.runPromise(server.start(Counter, { id: "fuzzed" }))
    const signal = await Effect.runPromise(Signal.make({ type: "counter.increment", data: { by: 2 } }))
    await runtime.runPromise(server.call(id, signal))
    const pid = server.whereis(id)?.pid
    const process = server.whereis(id) as Loose
    const notStatus = fc.anything().filter((u) => !AgentMessage.isStatus(u))
    const notReason = fc.anything().filter((u) => u !== undefined && !ExitReason.isExitReason(u))
    const mangled = fc.record({
      specversion: fc.anything(),
      id: fc.anything(),
      source: fc.anything(),
      type: fc.anything(),
      data: fc.anything()
    })
    const entries: ReadonlyArray<
      readonly [string, fc.Arbitrary<unknown>, (u: unknown) => Effect.Effect<unknown, unknown>]
    > = [
      ["call(signal)", fc.oneof(fc.anything(), mangled), (u) => server.call(id, u as never)],
      ["call(id)", fc.anything().filter((u) => u !== id), (u) => server.call(u as string, signal)],
      [
        "call(options)",
        fc.oneof(fc.anything(), fc.record({ timeout: fc.anything() })).filter((u) =>
          AgentMessage.callOptions("t", u) !== undefined
        ),
        (u) => server.call(id, signal, u as never)
      ],
      ["cast(signal)", fc.oneof(fc.anything(), mangled), (u) => server.cast(id, u as never)],
      ["cmd(instructions)", fc.anything(), (u) => server.cmd(id, u as never)],
      ["awaitStatus(status)", notStatus, (u) => server.awaitStatus(id, u as never)],
      ["stop(reason)", notReason, (u) => server.stop(id, u as never)],
      ["state(id)", fc.anything().filter((u) => u !== id), (u) => server.state(u as string)],
      [
        "Actor.call(agent)",
        fc.oneof(
          fc.anything(),
          fc.record({ _tag: fc.constantFrom("State", "Cmd", "AwaitStatus", "Nope"), instructions: fc.anything() })
        ),
        (u) => Actor.call(process, u, { timeout: 50 })
      ],
      ["Actor.cast(agent)", fc.anything(), (u) => Actor.cast(process, u)],
      [
        "Actor.send(agent)",
        fc.oneof(
          fc.anything(),
          fc.record({
            _tag: fc.constantFrom("ChildUp", "Down", "Deliver", "ActionDone"),
            id: fc.anything(),
            process: fc.anything(),
            pid: fc.anything(),
            reason: fc.anything(),
            signal: fc.anything(),
            instruction: fc.anything()
          })
        ),
        (u) => Actor.send(process, u)
      ]
    ]
    const arbitrary = fc.oneof(...entries.map(([name, arb], index) => arb.map((value) => ({ index, name, value }))))
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ index, name, value }) => {
        const entry = (entries[index] as (typeof entries)[number])[2]
        const exit = await runtime.runPromise(Effect.exit(entry(value)))
        assert.isTrue(
          typedOrOk(exit),
          `${name}(${fc.stringify(value)}): ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""}`
        )
        assert.strictEqual(server.whereis(id)?.pid, pid, `${name}(${fc.stringify(value)}) restarted the agent`)
        const agent = await runtime.runPromise(server.state(id))
        assert.strictEqual(countOf(agent), 2, `${name}(${fc.stringify(value)}) changed the state`)
      }),
      { numRuns: 300 }
    )
    assert.isUndefined(server.supervisor.exitReason)
    await runtime.dispose()
  })
})

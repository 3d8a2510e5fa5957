/**
 * Exit signals (issue 10 §2), each test named after the OTP/Elixir rule it mirrors: `trap_exit` is a per-actor
 * choice (default false, as Elixir's GenServer), a killed supervisor still shuts its subtree down, and
 * `gen_server:stop` exits with `terminate`'s crash. Checked against OTP 25 (`erl`); timing under `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  Behaviour,
  ChildSpec,
  DynamicSupervisor,
  ExitReason,
  Process,
  Supervisor
} from "../../src/runtime/index.ts"

type SlowProtocol = { readonly call: "ping" | "slow"; readonly reply: string }

/** A worker whose `slow` call takes 10 s; logs `terminate <id> <reason>`. */
const slowWorker = (log: Array<string>, id: string, trapExit: boolean) =>
  Behaviour.make<SlowProtocol>()({
    trapExit,
    init: () => Behaviour.ok(id),
    handleCall: (request, _from, s) =>
      request === "ping" ? Behaviour.reply("pong", s) : Effect.as(Effect.sleep(10_000), Behaviour.reply("done", s)),
    terminate: (reason) => Effect.sync(() => log.push(`terminate ${id} ${ExitReason.format(reason)}`))
  })

const spec = (log: Array<string>, id: string, trapExit: boolean, shutdown: ChildSpec.Shutdown = 5000) =>
  ChildSpec.actor(id, slowWorker(log, id, trapExit), undefined, { shutdown })

const child = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.map(
    Supervisor.whichChildren(sup),
    (children) => children.find((c) => c.id === id)?.process as Actor.ActorRef<SlowProtocol>
  )

const failedWith = (exit: Exit.Exit<unknown, unknown>, tag: string) =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((r) => r._tag === "Fail" && (r.error as { _tag: string })._tag === tag)

describe("Exit signals (OTP trap_exit)", () => {
  it.effect("a worker that does not trap exits dies at once on shutdown: no terminate, its caller sees the exit", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "w", false)] })
      const w = yield* child(sup, "w")
      const caller = yield* Effect.forkChild(Effect.exit(Actor.call(w, "slow", { timeout: "infinity" })), {
        startImmediately: true
      })
      // the worker is busy in a 10 s handler; its supervisor's shutdown does not wait for it (no clock advance)
      yield* Supervisor.terminateChild(sup, "w")
      assert.deepStrictEqual(w.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(log, [])
      const exit = yield* Fiber.join(caller)
      assert.isTrue(failedWith(exit, "ActorExited"))
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { exitReason: ExitReason.ExitReason }
        assert.deepStrictEqual(error.exitReason, ExitReason.shutdown)
      }
      yield* Supervisor.shutdownTree(sup)
    }))

  it.effect("a non-trapping worker busy in a long handler does not delay its supervisor's shutdown", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "a", false), spec(log, "b", false)] })
      const a = yield* child(sup, "a")
      yield* Effect.forkChild(Effect.exit(Actor.call(a, "slow", { timeout: "infinity" })), { startImmediately: true })
      yield* Supervisor.shutdownTree(sup)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(a.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(log, [])
    }))

  it.effect("a worker that traps exits gets terminate(shutdown) after its current message, killed after its shutdown timeout", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [spec(log, "idle", true), spec(log, "busy", true, 1000)] })
      const busy = yield* child(sup, "busy")
      yield* Supervisor.terminateChild(sup, "idle")
      assert.deepStrictEqual(log, ["terminate idle shutdown"])
      yield* Effect.forkChild(Effect.exit(Actor.call(busy, "slow", { timeout: "infinity" })), {
        startImmediately: true
      })
      const terminating = yield* Effect.forkChild(Supervisor.terminateChild(sup, "busy"), { startImmediately: true })
      yield* TestClock.adjust(999)
      assert.isUndefined(terminating.pollUnsafe())
      yield* TestClock.adjust(1)
      yield* Fiber.join(terminating)
      assert.deepStrictEqual(busy.exitReason, ExitReason.killed)
      assert.deepStrictEqual(log, ["terminate idle shutdown"]) // killed: its terminate never ran
      yield* Supervisor.shutdownTree(sup)
    }))

  it.effect("exit(Pid, normal) is ignored by a process that does not trap exits", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(slowWorker(log, "n", false), undefined)
      ref.signalStop(ExitReason.normal)
      assert.strictEqual(yield* Actor.call(ref, "ping"), "pong")
      ref.signalStop(ExitReason.shutdownWith("bye"))
      assert.deepStrictEqual(ref.exitReason, ExitReason.shutdownWith("bye"))
      assert.deepStrictEqual(log, [])
    }))

  it.effect("trapExit: the start option overrides the behaviour's default", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(slowWorker(log, "t", false), undefined, { trapExit: true })
      ref.signalStop(ExitReason.shutdown)
      yield* Process.awaitExit(ref)
      assert.deepStrictEqual(log, ["terminate t shutdown"])
    }))

  it.effect("gen_server:stop runs terminate whether or not the actor traps exits", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(slowWorker(log, "s", false), undefined)
      yield* Actor.stop(ref, ExitReason.shutdownWith("maintenance"))
      assert.deepStrictEqual(log, ["terminate s shutdown(maintenance)"])
    }))

  it.effect("gen_server:stop exits with terminate's crash reason (StopFailed)", () =>
    Effect.gen(function*() {
      const Crashy = Behaviour.make<{}>()({
        init: () => Behaviour.ok(0),
        terminate: () => {
          throw new Error("boom")
        }
      })
      const ref = yield* Actor.start(Crashy, undefined)
      const error = yield* Effect.flip(Actor.stop(ref))
      assert.strictEqual(error._tag, "StopFailed")
      if (error._tag === "StopFailed") {
        assert.strictEqual(error.exitReason._tag, "Failure")
        assert.strictEqual(ExitReason.format(error.exitReason), "failure(Error: boom)")
      }
      assert.strictEqual(ref.exitReason?._tag, "Failure")
    }))

  it.effect("exit(Sup, kill): trapping children run terminate(killed), others exit killed, child supervisors shut their subtree down in order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const root = yield* Supervisor.spawn({
        children: [
          spec(log, "a", true),
          spec(log, "b", false),
          Supervisor.childSpec("sub", { children: [spec(log, "d", true), spec(log, "e", true)] })
        ]
      })
      const a = yield* child(root, "a")
      const b = yield* child(root, "b")
      const sub = (yield* child(root, "sub")) as unknown as Supervisor.SupervisorRef
      const d = yield* child(sub, "d")
      const e = yield* child(sub, "e")
      yield* Actor.kill(root)
      yield* Effect.forEach([root, a, b, sub, d, e], Process.awaitExit, { discard: true })
      // OTP 25: "terminate a killed", then the subtree in reverse order: "terminate e shutdown", "terminate d shutdown"
      assert.deepStrictEqual(log, ["terminate a killed", "terminate e shutdown", "terminate d shutdown"])
      assert.deepStrictEqual(
        [root, a, b, sub, d, e].map((p) => p.exitReason),
        [
          ExitReason.killed,
          ExitReason.killed,
          ExitReason.killed,
          ExitReason.killed,
          ExitReason.shutdown,
          ExitReason.shutdown
        ]
      )
    }))

  it.effect("a killed DynamicSupervisor's trapping children run terminate(killed)", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* DynamicSupervisor.spawn()
      const t = yield* DynamicSupervisor.startChild(sup, spec(log, "t", true))
      const n = yield* DynamicSupervisor.startChild(sup, spec(log, "n", false))
      yield* Actor.kill(sup)
      yield* Effect.forEach([sup, t, n] as Array<Process.Process>, Process.awaitExit, { discard: true })
      assert.deepStrictEqual(log, ["terminate t killed"])
      assert.deepStrictEqual(n?.exitReason, ExitReason.killed)
    }))
})

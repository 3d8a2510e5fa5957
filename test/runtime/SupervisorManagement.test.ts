/**
 * Management calls with OTP's error cases (count_children, start_child, terminate_child, restart_child,
 * delete_child, which_children, get_childspec).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExitReason, Process, Supervisor } from "../../src/runtime/index.ts"
import { childOf, workerSpec } from "./support/workers.ts"

describe("supervisor management", () => {
  it.effect("count_children: specs, active, supervisors, workers", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [
          workerSpec([], "a"),
          workerSpec([], "b", { restart: "transient" }),
          Supervisor.childSpec("inner", { children: [workerSpec([], "i")] })
        ]
      })
      assert.deepStrictEqual(yield* Supervisor.countChildren(sup), { specs: 3, active: 3, supervisors: 1, workers: 2 })
      yield* Supervisor.terminateChild(sup, "b")
      assert.deepStrictEqual(yield* Supervisor.countChildren(sup), { specs: 3, active: 2, supervisors: 1, workers: 2 })
    }))

  it.effect("start_child: runs it last in start order; AlreadyStarted / AlreadyPresent for a taken id", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [workerSpec(log, "a")] })
      const b = yield* Supervisor.startChild(sup, workerSpec(log, "b"))
      assert.deepStrictEqual((yield* Supervisor.whichChildren(sup)).map((c) => c.id), ["a", "b"])
      const running = yield* Effect.flip(Supervisor.startChild(sup, workerSpec(log, "b")))
      assert.isTrue(running._tag === "AlreadyStarted" && running.pid === (b as Process.Process).pid)
      yield* Supervisor.terminateChild(sup, "b")
      const present = yield* Effect.flip(Supervisor.startChild(sup, workerSpec(log, "b")))
      assert.strictEqual(present._tag, "AlreadyPresent")
      const invalid = yield* Effect.flip(
        Supervisor.startChild(sup, { ...workerSpec(log, "c"), restart: "always" as "permanent" })
      )
      assert.isTrue(invalid._tag === "InvalidOptions" && invalid.path === "restart")
      const failing = yield* Effect.flip(Supervisor.startChild(sup, { id: "d", start: Effect.fail("nope") }))
      assert.isTrue(failing._tag === "FailedToStartChild" && failing.id === "d")
      log.length = 0
      yield* Supervisor.shutdownTree(sup)
      assert.deepStrictEqual(log, ["stop a shutdown"]) // b was terminated already; d never started
    }))

  it.effect("terminate_child keeps the spec (restartable) except for temporary children; not_found", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [workerSpec([], "p"), workerSpec([], "t", { restart: "temporary" })]
      })
      const p = (yield* childOf(sup, "p")) as Process.Process
      yield* Supervisor.terminateChild(sup, "p")
      assert.deepStrictEqual(p.exitReason, ExitReason.shutdown)
      assert.isUndefined(yield* childOf(sup, "p"))
      yield* Supervisor.terminateChild(sup, "t")
      assert.deepStrictEqual((yield* Supervisor.whichChildren(sup)).map((c) => c.id), ["p"])
      assert.strictEqual((yield* Effect.flip(Supervisor.terminateChild(sup, "zzz")))._tag, "ChildNotFound")
    }))

  it.effect("restart_child and delete_child: running / not_found errors, then success on a stopped child", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({ children: [workerSpec([], "w")] })
      assert.strictEqual((yield* Effect.flip(Supervisor.restartChild(sup, "w")))._tag, "ChildRunning")
      assert.strictEqual((yield* Effect.flip(Supervisor.deleteChild(sup, "w")))._tag, "ChildRunning")
      assert.strictEqual((yield* Effect.flip(Supervisor.restartChild(sup, "nope")))._tag, "ChildNotFound")
      assert.strictEqual((yield* Effect.flip(Supervisor.deleteChild(sup, "nope")))._tag, "ChildNotFound")
      yield* Supervisor.terminateChild(sup, "w")
      const restarted = yield* Supervisor.restartChild(sup, "w")
      assert.isTrue(restarted !== undefined && restarted.exitReason === undefined)
      yield* Supervisor.terminateChild(sup, "w")
      yield* Supervisor.deleteChild(sup, "w")
      assert.deepStrictEqual(yield* Supervisor.whichChildren(sup), [])
    }))

  it.effect("get_childspec returns the spec as given with its defaults filled in; not_found otherwise", () =>
    Effect.gen(function*() {
      const spec = workerSpec([], "w", { restart: "transient", shutdown: 250 })
      const sup = yield* Supervisor.spawn({ children: [spec] })
      const got = yield* Supervisor.getChildSpec(sup, "w")
      assert.deepStrictEqual(got, { ...spec, type: "worker", significant: false })
      assert.strictEqual((yield* Effect.flip(Supervisor.getChildSpec(sup, "x")))._tag, "ChildNotFound")
    }))

  it.effect("calls to a dead supervisor fail with NoProc", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({ children: [] })
      yield* Supervisor.shutdownTree(sup)
      assert.strictEqual((yield* Effect.flip(Supervisor.countChildren(sup)))._tag, "NoProc")
    }))
})

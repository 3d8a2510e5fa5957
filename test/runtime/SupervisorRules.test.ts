/**
 * Supervisor and DynamicSupervisor details (issue 10 §3), each named after the OTP/Elixir rule it mirrors:
 * `max_children` counts restarting children, `get_childspec` fills defaults, `which_children` order (troupe's
 * documented start order), intensity flag validation, the nested start failure's `{shutdown, ...}` shape.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Actor, ChildSpec, DynamicSupervisor, ExitReason, Supervisor } from "../../src/runtime/index.ts"
import { worker, type WorkerProtocol, workerSpec } from "./support/workers.ts"

describe("Supervisor rules (OTP / Elixir)", () => {
  it.effect("DynamicSupervisor max_children counts children that are being restarted", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const attempts = yield* Ref.make(0)
      // attempt 1 starts; attempt 2 (the first restart) fails after 100 ms; attempt 3 (the retry) starts
      const start = Effect.flatMap(Ref.updateAndGet(attempts, (n) => n + 1), (n) =>
        n === 2
          ? Effect.andThen(Effect.sleep(100), Effect.fail(new Error("restart fails")))
          : Actor.start(worker(log, "flaky"), undefined))
      const sup = yield* DynamicSupervisor.spawn({ maxChildren: 1 })
      const first = (yield* DynamicSupervisor.startChild(sup, { id: "flaky", start })) as Actor.ActorRef<WorkerProtocol>
      yield* Actor.cast(first, "crash") // the supervisor is now inside the (slow) restart
      const second = yield* Effect.forkChild(
        Effect.flip(
          DynamicSupervisor.startChild(sup, { id: "other", start: Actor.start(worker(log, "other"), undefined) })
        ),
        {
          startImmediately: true
        }
      )
      yield* TestClock.adjust(100) // the restart fails: the child is `restarting` when `other` asks to start
      const error = yield* Fiber.join(second)
      assert.strictEqual(error._tag, "MaxChildren")
      const counts = yield* DynamicSupervisor.countChildren(sup) // after the TryAgain retry succeeded
      assert.deepStrictEqual(counts, { specs: 1, active: 1, supervisors: 0, workers: 1 })
      assert.deepStrictEqual(log.filter((l) => l.startsWith("start")), ["start flaky", "start flaky"])
      yield* Supervisor.shutdownTree(sup)
    }))

  it.effect("supervisor:get_childspec returns the spec with its defaults filled in", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [
          workerSpec([], "w"),
          Supervisor.childSpec("sub", {}),
          workerSpec([], "t", { restart: "temporary", shutdown: 100 })
        ]
      })
      const w = yield* Supervisor.getChildSpec(sup, "w")
      assert.deepStrictEqual([w.id, w.restart, w.shutdown, w.type, w.significant], [
        "w",
        "permanent",
        5000,
        "worker",
        false
      ])
      const sub = yield* Supervisor.getChildSpec(sup, "sub")
      assert.deepStrictEqual([sub.restart, sub.shutdown, sub.type, sub.significant], [
        "permanent",
        "infinity",
        "supervisor",
        false
      ])
      const t = yield* Supervisor.getChildSpec(sup, "t")
      assert.deepStrictEqual([t.restart, t.shutdown, t.type], ["temporary", 100, "worker"])
      assert.strictEqual((yield* Effect.flip(Supervisor.getChildSpec(sup, "nope")))._tag, "ChildNotFound")
      yield* Supervisor.shutdownTree(sup)
    }))

  it.effect("supervisor:which_children: troupe lists start order (OTP: newest first, a documented difference); count_children exact", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({ children: [workerSpec([], "a"), workerSpec([], "b")] })
      yield* Supervisor.startChild(sup, workerSpec([], "c"))
      yield* Supervisor.startChild(sup, Supervisor.childSpec("d", {}))
      yield* Supervisor.terminateChild(sup, "b")
      assert.deepStrictEqual((yield* Supervisor.whichChildren(sup)).map((c) => c.id), ["a", "b", "c", "d"])
      assert.deepStrictEqual(yield* Supervisor.countChildren(sup), { specs: 4, active: 3, supervisors: 1, workers: 3 })
      const dyn = yield* DynamicSupervisor.spawn()
      const x = yield* DynamicSupervisor.startChild(dyn, workerSpec([], "x"))
      const y = yield* DynamicSupervisor.startChild(dyn, workerSpec([], "y"))
      assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(dyn), [x, y] as ReadonlyArray<unknown>)
      yield* Supervisor.shutdownTree(sup)
      yield* Supervisor.shutdownTree(dyn)
    }))

  it.effect("supervisor flags: intensity a non-negative integer, period a positive integer of seconds (0 and 1.5 rejected)", () =>
    Effect.gen(function*() {
      for (
        const [flags, path] of [
          [{ maxSeconds: 0 }, "maxSeconds"],
          [{ maxSeconds: 1.5 }, "maxSeconds"],
          [{ maxRestarts: -1 }, "maxRestarts"],
          [{ maxRestarts: 0.5 }, "maxRestarts"],
          [{ maxMillis: 0 }, "maxMillis"],
          [{ maxSeconds: 1, maxMillis: 500 }, "maxMillis"]
        ] as const
      ) {
        const error = yield* Effect.flip(Supervisor.spawn(flags))
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.strictEqual((error as { path: string }).path, path)
        const dynError = yield* Effect.flip(DynamicSupervisor.spawn(flags))
        assert.strictEqual(dynError.path, path)
      }
      // an explicit period in milliseconds: 1 restart allowed within 1500 ms
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ maxRestarts: 1, maxMillis: 1500, children: [workerSpec(log, "w")] })
      const crash = Effect.flatMap(
        Supervisor.whichChildren(sup),
        (children) => Actor.cast(children[0]?.process as Actor.ActorRef<WorkerProtocol>, "crash")
      )
      yield* crash
      yield* TestClock.adjust(1501)
      yield* crash
      yield* Supervisor.countChildren(sup)
      assert.isUndefined(sup.exitReason) // the first restart left the window
      yield* crash
      yield* Effect.exit(Supervisor.countChildren(sup))
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("a nested start failure keeps OTP's shape: shutdown(failedToStartChild(...)) is a normal reason", () =>
    Effect.gen(function*() {
      const bad: ChildSpec.ChildSpec = { id: "bad", start: Effect.fail(new Error("cannot start")) }
      const error = yield* Effect.flip(
        Supervisor.spawn({ children: [Supervisor.childSpec("mid", { children: [bad] })] })
      )
      assert.strictEqual(error._tag, "FailedToStartChild")
      if (error._tag !== "FailedToStartChild") return
      assert.strictEqual(error.id, "mid")
      const reason = error.exitReason
      assert.isTrue(ExitReason.isNormal(reason))
      assert.strictEqual(reason._tag, "Shutdown")
      const inner = (reason as ExitReason.Shutdown).term as {
        _tag: string
        id: string
        exitReason: ExitReason.ExitReason
      }
      assert.deepStrictEqual([inner._tag, inner.id, inner.exitReason._tag], ["FailedToStartChild", "bad", "Failure"])
    }))
})

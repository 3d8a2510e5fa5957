/**
 * Start and shutdown: start-failure rollback, sup_stop_timeout / sup_stop_brutal_kill / infinity,
 * hanging_restart_loop, auto_shutdown, restart backoff, the Layer, kill propagation and lifecycle events.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Random, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Actor, DynamicSupervisor, ExitReason, Lifecycle, Process, Supervisor } from "../../src/runtime/index.ts"
import { childOf, exitChild, flakyStart, slowInit, type WorkerProtocol, workerSpec } from "./support/workers.ts"

describe("start", () => {
  it.effect("children start left to right; a failing child stops the started ones in reverse order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const failing = { id: "c", start: Effect.fail(new Error("no database")) }
      const error = yield* Effect.flip(
        Supervisor.spawn({ children: [workerSpec(log, "a"), workerSpec(log, "b"), failing, workerSpec(log, "d")] })
      )
      assert.strictEqual(error._tag, "FailedToStartChild")
      assert.isTrue(error._tag === "FailedToStartChild" && error.id === "c" && error.exitReason._tag === "Failure")
      assert.deepStrictEqual(log, ["start a", "start b", "stop b shutdown", "stop a shutdown"])
    }))

  it.effect("an ignored child is kept without a process; an ignored temporary child is dropped", () =>
    Effect.gen(function*() {
      const ignoring = (id: string, restart: "permanent" | "temporary") => ({
        id,
        restart,
        start: Actor.start({ init: () => ({ _tag: "Ignore" as const }) }, undefined)
      })
      const sup = yield* Supervisor.spawn({ children: [ignoring("p", "permanent"), ignoring("t", "temporary")] })
      const children = yield* Supervisor.whichChildren(sup)
      assert.deepStrictEqual(children.map((c) => [c.id, c.process]), [["p", undefined]])
    }))

  it.effect("invalid specs and options fail with InvalidOptions naming the field", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Supervisor.SupervisorOptions, string]> = [
        [{ children: [workerSpec([], "a"), workerSpec([], "a")] }, "children[1].id"],
        [{ children: [{ ...workerSpec([], "a"), shutdown: -1 }] }, "children[0].shutdown"],
        [{ children: [{ ...workerSpec([], "a"), restart: "sometimes" as "permanent" }] }, "children[0].restart"],
        [{ children: [{ ...workerSpec([], ""), id: "" }] }, "children[0].id"],
        [{ children: [{ ...workerSpec([], "a"), significant: true }] }, "children[0].significant"],
        [
          { autoShutdown: "anySignificant", children: [{ ...workerSpec([], "a"), significant: true }] },
          "children[0].significant"
        ],
        [{ maxRestarts: -1 }, "maxRestarts"],
        [{ strategy: "oneForSome" as Supervisor.Strategy }, "strategy"],
        [{ children: [{ ...workerSpec([], "a"), backoff: { min: 100, max: 10 } }] }, "children[0].backoff.max"]
      ]
      for (const [options, path] of cases) {
        const error = yield* Effect.flip(Supervisor.spawn(options))
        assert.strictEqual(error._tag, "InvalidOptions", path)
        assert.strictEqual(error._tag === "InvalidOptions" ? error.path : "", path)
      }
    }))
})

describe("shutdown", () => {
  it.effect("reverse start order; terminate runs for each child (sup_stop_infinity for the nested supervisor)", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        children: [
          workerSpec(log, "a"),
          Supervisor.childSpec("inner", { children: [workerSpec(log, "i1"), workerSpec(log, "i2")] }),
          workerSpec(log, "c")
        ]
      })
      log.length = 0
      yield* Supervisor.shutdownTree(sup)
      assert.deepStrictEqual(log, ["stop c shutdown", "stop i2 shutdown", "stop i1 shutdown", "stop a shutdown"])
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("sup_stop_timeout: a child that does not stop in `shutdown` ms is killed after exactly that long", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        children: [workerSpec(log, "slow", { shutdown: 1000 }, { hangInTerminate: true })]
      })
      const child = (yield* childOf(sup, "slow")) as Process.Process
      const stopping = yield* Effect.forkChild(Supervisor.shutdownTree(sup), { startImmediately: true })
      yield* TestClock.adjust(999)
      assert.isUndefined(child.exitReason)
      assert.deepStrictEqual(log, ["start slow", "terminating slow"])
      yield* TestClock.adjust(1)
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(child.exitReason, ExitReason.killed)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("sup_stop_brutal_kill: killed at once, terminate does not run", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [workerSpec(log, "w", { shutdown: "brutalKill" })] })
      const child = (yield* childOf(sup, "w")) as Process.Process
      yield* Supervisor.shutdownTree(sup)
      assert.deepStrictEqual(child.exitReason, ExitReason.killed)
      assert.deepStrictEqual(log, ["start w"])
    }))

  it.effect("killing a supervisor (interruption): its children get the exit signal killed and exit killed", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [workerSpec(log, "a"), workerSpec(log, "b")] })
      const a = (yield* childOf(sup, "a")) as Process.Process
      const b = (yield* childOf(sup, "b")) as Process.Process
      sup.kill()
      yield* Process.awaitExit(sup)
      assert.deepStrictEqual([a.exitReason, b.exitReason], [ExitReason.killed, ExitReason.killed])
    }))

  it.effect("Supervisor.layer starts the tree when built and shuts it down in order when released", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const layer = Supervisor.layer({ name: "root", children: [workerSpec(log, "a"), workerSpec(log, "b")] })
      const root = yield* Effect.provide(
        Effect.gen(function*() {
          const ref = yield* Supervisor.RootSupervisor
          assert.strictEqual((yield* Supervisor.countChildren(ref)).active, 2)
          return ref
        }),
        layer
      )
      assert.deepStrictEqual(log, ["start a", "start b", "stop b shutdown", "stop a shutdown"])
      assert.deepStrictEqual(root.exitReason, ExitReason.shutdown)
    }))
})

describe("hanging_restart_loop", () => {
  it.effect("a restart that keeps failing is retried, each retry counts, and the supervisor gives up", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const start = yield* flakyStart(log, "w", 2) // the first start works, every later one fails
      const events: Array<string> = []
      const sup = yield* Supervisor.spawn({ maxRestarts: 3, maxSeconds: 5, children: [{ id: "w", start }] })
      yield* exitChild(sup, "w", "crash")
      const reason = yield* Process.awaitExit(sup)
      assert.deepStrictEqual(reason, ExitReason.shutdown)
      events.push(...log)
      assert.deepStrictEqual(events, ["start w", "stop w failure(Error: w crashed)"]) // never started again
    }))

  it.effect("while a restart is pending the child is `restarting`, and then recovers", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      let allowStart = true
      const start = Effect.suspend(() =>
        allowStart ? Actor.start(workerSpecBehaviour(log), undefined) : Effect.fail(new Error("not yet"))
      )
      const sup = yield* Supervisor.spawn({
        maxRestarts: 100,
        children: [{ id: "w", start, backoff: { min: 100, max: 100, randomFactor: 0 } }]
      })
      allowStart = false
      yield* exitChild(sup, "w", "crash")
      assert.strictEqual((yield* Supervisor.whichChildren(sup))[0]?.process, "restarting")
      const restartError = yield* Effect.flip(Supervisor.restartChild(sup, "w"))
      assert.strictEqual(restartError._tag, "ChildRestarting")
      yield* TestClock.adjust(300) // two failing retries
      allowStart = true
      yield* TestClock.adjust(100)
      const process = (yield* Supervisor.whichChildren(sup))[0]?.process
      assert.isTrue(process !== undefined && process !== "restarting")
    }))
})

const workerSpecBehaviour = (log: Array<string>) => ({
  init: () => {
    log.push("start")
    return { _tag: "Ok" as const, state: null, options: undefined }
  },
  handleCast: (_m: unknown, _s: null): never => {
    throw new Error("crashed")
  }
})

describe("auto_shutdown", () => {
  it.effect("anySignificant: a significant transient child exiting normally shuts the supervisor down", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        autoShutdown: "anySignificant",
        children: [workerSpec(log, "keep"), workerSpec(log, "sig", { restart: "transient", significant: true })]
      })
      yield* exitChild(sup, "sig", ExitReason.normal)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
      assert.isTrue(log.includes("stop keep shutdown"))
    }))

  it.effect("a significant transient child that crashes is restarted, not a shutdown", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        autoShutdown: "anySignificant",
        children: [workerSpec([], "sig", { restart: "transient", significant: true })]
      })
      yield* exitChild(sup, "sig", "crash")
      assert.isUndefined(sup.exitReason)
    }))

  it.effect("allSignificant: only when the last significant child is gone", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        autoShutdown: "allSignificant",
        children: [
          workerSpec([], "s1", { restart: "temporary", significant: true }),
          workerSpec([], "s2", { restart: "transient", significant: true }),
          workerSpec([], "other")
        ]
      })
      yield* exitChild(sup, "s1", "crash")
      assert.isUndefined(sup.exitReason)
      yield* exitChild(sup, "s2", ExitReason.shutdown)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("terminating a significant child through the supervisor does not trigger auto-shutdown", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        autoShutdown: "anySignificant",
        children: [workerSpec([], "sig", { restart: "transient", significant: true })]
      })
      yield* Supervisor.terminateChild(sup, "sig")
      assert.isUndefined(sup.exitReason)
    }))
})

describe("restart backoff (Akka restartWithBackoff)", () => {
  it.effect("each restart waits min × 2^n, capped at max; a stable period resets it", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        maxRestarts: 100,
        maxSeconds: 1,
        children: [workerSpec(log, "w", { backoff: { min: 100, max: 300, randomFactor: 0, resetAfter: 1000 } })]
      })
      const restartAfter = Effect.fnUntraced(function*(expected: number) {
        yield* exitChild(sup, "w", "crash")
        if (expected > 0) {
          yield* TestClock.adjust(expected - 1)
          assert.strictEqual((yield* Supervisor.whichChildren(sup))[0]?.process, "restarting", `not before ${expected}`)
        }
        yield* TestClock.adjust(1)
        const process = (yield* Supervisor.whichChildren(sup))[0]?.process
        assert.isTrue(process !== undefined && process !== "restarting", `restarted at ${expected}`)
      })
      yield* restartAfter(100)
      yield* restartAfter(200)
      yield* restartAfter(300)
      yield* restartAfter(300) // capped
      yield* TestClock.adjust(1000) // stable for resetAfter
      yield* restartAfter(100)
    }))

  it.effect("the random factor stretches the delay by up to randomFactor (seeded Random)", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [workerSpec([], "w", { backoff: { min: 1000, max: 1000, randomFactor: 0.5 } })]
      })
      const events = yield* Lifecycle.use((l) => l.subscribe)
      yield* exitChild(sup, "w", "crash")
      yield* TestClock.adjust(1500)
      const restarted = yield* events.pipe(
        Stream.filter((e) => e._tag === "ChildRestarted"),
        Stream.take(1),
        Stream.runCollect
      )
      const delay = restarted[0]?.delayMillis ?? -1
      assert.isTrue(delay >= 1000 && delay <= 1500, `delay ${delay}`)
    }).pipe(Random.withSeed("troupe"), Effect.provide(Lifecycle.layer)))
})

describe("lifecycle events", () => {
  it.effect("started, exited with reason, restarted, gave up and shutdown are published", () =>
    Effect.gen(function*() {
      const lifecycle = yield* Lifecycle
      const events = yield* lifecycle.subscribe
      const sup = yield* Supervisor.spawn({ name: "watched", maxRestarts: 1, children: [workerSpec([], "w")] })
      yield* exitChild(sup, "w", "crash")
      yield* exitChild(sup, "w", "crash")
      const tags = yield* events.pipe(Stream.take(8), Stream.runCollect)
      assert.deepStrictEqual(tags.map((e) => e._tag), [
        "ChildStarted",
        "SupervisorStarted",
        "ChildExited",
        "ChildStarted",
        "ChildRestarted",
        "ChildExited",
        "RestartIntensityReached",
        "SupervisorStopped"
      ])
      const exited = tags.find((e) => e._tag === "ChildExited")
      assert.strictEqual(exited?.reason?._tag, "Failure")
      assert.isTrue(tags.every((e) => e.supervisor === "watched"))
    }).pipe(Effect.provide(Lifecycle.layer)))
})

describe("application root (layerRoot)", () => {
  it.effect("supervisors started under the root become its subtrees and leave it when their scope closes", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      const log: Array<string> = []
      const inner = yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* Supervisor.start({ name: "svc", children: [workerSpec(log, "w1")] })
        const b = yield* Supervisor.start({ name: "svc", children: [workerSpec(log, "w2")] })
        assert.deepStrictEqual((yield* Supervisor.whichChildren(root)).map((c) => c.id), ["svc", "svc#2"])
        assert.strictEqual(yield* childOf(root, "svc"), a)
        assert.strictEqual(yield* childOf(root, "svc#2"), b)
        return a
      }))
      assert.deepStrictEqual(yield* Supervisor.whichChildren(root), [])
      assert.deepStrictEqual(inner.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(log, ["start w1", "start w2", "stop w2 shutdown", "stop w1 shutdown"])
    }).pipe(Effect.provide(Supervisor.layerRoot({ name: "app" }))))

  it.effect("same-named supervisors started concurrently under a busy root all start, each under a unique id", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      // the root is busy starting a slow child while both supervisors pick their ids
      const busy = yield* Effect.forkChild(
        Supervisor.startChild(root, { id: "slow", start: Actor.start(slowInit([]), undefined) }),
        { startImmediately: true }
      )
      const both = yield* Effect.forkChild(
        Effect.scoped(Effect.gen(function*() {
          const sups = yield* Effect.all(
            [DynamicSupervisor.start({ name: "svc" }), Supervisor.start({ name: "svc" })],
            {
              concurrency: "unbounded"
            }
          )
          const children = yield* Supervisor.whichChildren(root)
          assert.deepStrictEqual(children.map((c) => c.id), ["slow", "svc", "svc#2"])
          assert.sameMembers(children.slice(1).map((c) => c.process), sups)
        })),
        { startImmediately: true }
      )
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(busy)
      yield* Fiber.join(both)
      assert.deepStrictEqual((yield* Supervisor.whichChildren(root)).map((c) => c.id), ["slow"])
    }).pipe(Effect.provide(Supervisor.layerRoot({ name: "app" }))))

  it.effect("closing a scope whose supervisor already left the root does not stop the one that reused its id", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      const log: Array<string> = []
      const scopeA = yield* Scope.make()
      // temporary under the root: once it gives up (intensity 0) it exits and leaves the root, freeing "x"
      const first = yield* DynamicSupervisor.start({ name: "x", maxRestarts: 0 }).pipe(Scope.provide(scopeA))
      const c = yield* DynamicSupervisor.startChild(first, workerSpec(log, "c"))
      yield* Actor.cast(c as Actor.ActorRef<WorkerProtocol>, "crash")
      assert.deepStrictEqual(yield* Process.awaitExit(first), ExitReason.shutdown)
      yield* Supervisor.countChildren(root) // the root has handled the exit
      const second = yield* Effect.scoped(Effect.gen(function*() {
        const second = yield* DynamicSupervisor.start({ name: "x" })
        yield* Scope.close(scopeA, Exit.void)
        assert.isUndefined(second.exitReason, "scope A's release stopped another scope's supervisor")
        assert.deepStrictEqual((yield* Supervisor.whichChildren(root)).map((ch) => [ch.id, ch.process]), [[
          "x",
          second
        ]])
        return second
      }))
      assert.deepStrictEqual(second.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(yield* Supervisor.whichChildren(root), [])
    }).pipe(Effect.provide(Supervisor.layerRoot({ name: "app" }))))

  it.effect("closing the scope of a supervisor that the root restarted terminates and removes the restarted copy", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      const log: Array<string> = []
      const { first, restarted } = yield* Effect.scoped(Effect.gen(function*() {
        // permanent under the root: when it gives up (intensity 0) the root starts it again under the same id
        const first = yield* Supervisor.start({ name: "svc", maxRestarts: 0, children: [workerSpec(log, "w")] })
        yield* exitChild(first, "w", "crash")
        yield* Process.awaitExit(first)
        const restarted = yield* childOf(root, "svc")
        assert.isTrue(restarted !== undefined && restarted !== "restarting" && restarted !== first)
        return { first, restarted }
      }))
      assert.deepStrictEqual(first.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(
        restarted !== undefined && restarted !== "restarting" && restarted.exitReason,
        ExitReason.shutdown
      )
      assert.deepStrictEqual(yield* Supervisor.whichChildren(root), [])
    }).pipe(Effect.provide(Supervisor.layerRoot({ name: "app" }))))
})

/**
 * Tasks under supervision, and the kill rule of `Task`: a kill does not wait for finalizers. A task whose
 * finalizer hangs is still stopped by a `brutalKill` or a shutdown timeout (it exits `killed` at once, its
 * finalizer is detached and reported), while an ordinary shutdown waits for its finalizers within the timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Logger, References } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  ChildSpec,
  CurrentLifecycleSink,
  DynamicSupervisor,
  ExitReason,
  type LifecycleEvent,
  Monitor,
  Process,
  Registry,
  Supervisor
} from "../../src/runtime/index.ts"
import { childOf, pidOf } from "./support/workers.ts"

/**
 * A task that runs until interrupted, with a finalizer that records `id` in `entered` and then waits for
 * `release` (never, without one): the finalizer hangs.
 */
const hanging = (entered: Array<string>, id: string, release: Effect.Effect<void> = Effect.never) =>
  Effect.scoped(
    Effect.andThen(
      Effect.addFinalizer(() => Effect.andThen(Effect.sync(() => entered.push(id)), release)),
      Effect.never
    )
  )

/** Lifecycle events published by the supervisors of the wrapped effect. */
const collecting = (events: Array<LifecycleEvent>) =>
  Effect.provideService(CurrentLifecycleSink, { publish: (event) => void events.push(event) })

const exitsOf = (events: ReadonlyArray<LifecycleEvent>, childId: string) =>
  events.filter((e) => e._tag === "ChildExited" && e.childId === childId).map((e) => e.reason)

const captureWarnings = (lines: Array<string>) =>
  Layer.mergeAll(
    Logger.layer([Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") lines.push(String(Array.isArray(message) ? message.join(" ") : message))
    })]),
    Layer.succeed(References.MinimumLogLevel, "All")
  )

const runningProcess = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.flatMap(
    childOf(sup, id),
    (process) => Process.isProcess(process) ? Effect.succeed(process) : Effect.die(`child ${id} is not running`)
  )

describe("Task: a kill does not wait for finalizers", () => {
  it.effect("a kill does not wait for finalizers: brutalKill of a task whose finalizer hangs returns, the task exits killed", () => {
    const events: Array<LifecycleEvent> = []
    return Effect.gen(function*() {
      const entered: Array<string> = []
      const sup = yield* Supervisor.spawn({
        children: [ChildSpec.task({ id: "t", run: hanging(entered, "t"), shutdown: "brutalKill" })]
      })
      const task = yield* runningProcess(sup, "t")
      const monitor = yield* Monitor.monitor(task)
      yield* Supervisor.terminateChild(sup, "t")
      assert.deepStrictEqual(entered, ["t"]) // interrupted: its finalizer began, and was not awaited
      assert.deepStrictEqual(task.exitReason, ExitReason.killed)
      assert.deepStrictEqual((yield* monitor.down).reason, ExitReason.killed)
      assert.deepStrictEqual(exitsOf(events, "t"), [ExitReason.killed])
      assert.deepStrictEqual(yield* Supervisor.countChildren(sup), { specs: 1, active: 0, supervisors: 0, workers: 1 })
      yield* Supervisor.shutdownTree(sup)
    }).pipe(collecting(events))
  })

  it.effect("a kill does not wait for finalizers: a shutdown timeout escalates to a kill that returns once the timeout has passed", () =>
    Effect.gen(function*() {
      const entered: Array<string> = []
      const sup = yield* Supervisor.spawn({
        children: [ChildSpec.task({ id: "t", run: hanging(entered, "t"), shutdown: 1000 })]
      })
      const task = yield* runningProcess(sup, "t")
      const terminating = yield* Effect.forkChild(Supervisor.terminateChild(sup, "t"), { startImmediately: true })
      yield* TestClock.adjust(999)
      assert.deepStrictEqual(entered, ["t"]) // the ordinary stop: its finalizers run, and are waited for
      assert.isUndefined(task.exitReason)
      assert.isUndefined(terminating.pollUnsafe())
      yield* TestClock.adjust(1)
      yield* Fiber.join(terminating)
      assert.deepStrictEqual(task.exitReason, ExitReason.killed)
      assert.strictEqual((yield* Supervisor.countChildren(sup)).active, 0)
    }))

  it.effect("a kill does not wait for finalizers: a permanent task killed while its finalizer hangs is restarted", () => {
    const events: Array<LifecycleEvent> = []
    return Effect.gen(function*() {
      const entered: Array<string> = []
      const sup = yield* Supervisor.spawn({ children: [ChildSpec.task({ id: "t", run: hanging(entered, "t") })] })
      const first = yield* runningProcess(sup, "t")
      yield* Actor.kill(first)
      assert.deepStrictEqual(first.exitReason, ExitReason.killed)
      const second = yield* runningProcess(sup, "t") // the call is handled after the exit notice
      assert.notStrictEqual(second.pid, first.pid)
      assert.isUndefined(second.exitReason)
      assert.deepStrictEqual(entered, ["t"])
      assert.deepStrictEqual(exitsOf(events, "t"), [ExitReason.killed])
      assert.deepStrictEqual(events.filter((e) => e._tag === "ChildRestarted").map((e) => e.pid), [second.pid])
    }).pipe(collecting(events))
  })

  it.effect("a kill does not wait for finalizers: a oneForAll restart kills a sibling task whose finalizer hangs and restarts both", () =>
    Effect.gen(function*() {
      const entered: Array<string> = []
      const sup = yield* Supervisor.spawn({
        strategy: "oneForAll",
        children: [
          ChildSpec.task({ id: "stuck", run: hanging(entered, "stuck"), shutdown: 500 }),
          ChildSpec.task({ id: "crashing", run: Effect.never })
        ]
      })
      const stuck = yield* runningProcess(sup, "stuck")
      const crashing = yield* runningProcess(sup, "crashing")
      const restarting = yield* Effect.forkChild(
        Effect.andThen(Actor.kill(crashing), Supervisor.whichChildren(sup)),
        { startImmediately: true }
      )
      yield* TestClock.adjust(500)
      const children = yield* Fiber.join(restarting)
      assert.deepStrictEqual(stuck.exitReason, ExitReason.killed)
      assert.deepStrictEqual(entered, ["stuck"])
      const pids = children.map((c) => pidOf(c.process))
      assert.notInclude(pids, stuck.pid)
      assert.notInclude(pids, crashing.pid)
      assert.strictEqual((yield* Supervisor.countChildren(sup)).active, 2)
    }))

  it.effect("a kill does not wait for finalizers: a supervisor shuts down with a task whose finalizer hangs, and frees its name", () =>
    Effect.gen(function*() {
      const entered: Array<string> = []
      const registry = yield* Registry.make({ keys: "unique" })
      const sup = yield* Supervisor.spawn({
        children: [
          ChildSpec.task({ id: "calm", run: Effect.never }),
          ChildSpec.task({ id: "stuck", run: hanging(entered, "stuck"), shutdown: 500 })
        ]
      })
      const calm = yield* runningProcess(sup, "calm")
      const stuck = yield* runningProcess(sup, "stuck")
      yield* Registry.register(registry, "stuck", stuck, undefined)
      const stopping = yield* Effect.forkChild(Supervisor.shutdownTree(sup), { startImmediately: true })
      yield* TestClock.adjust(499)
      assert.isUndefined(stopping.pollUnsafe())
      yield* TestClock.adjust(1)
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
      assert.deepStrictEqual(stuck.exitReason, ExitReason.killed)
      assert.deepStrictEqual(calm.exitReason, ExitReason.shutdown)
      assert.isUndefined(yield* Registry.whereis(registry, "stuck"))
      assert.strictEqual(registry.size, 0)
    }))

  it.effect("a kill does not wait for finalizers: a DynamicSupervisor's brutalKill and shutdown return with such a child", () =>
    Effect.gen(function*() {
      const entered: Array<string> = []
      const sup = yield* DynamicSupervisor.spawn()
      const spec = (id: string) => ChildSpec.task({ id, run: hanging(entered, id), shutdown: "brutalKill" })
      const a = yield* DynamicSupervisor.startChild(sup, spec("a"))
      const b = yield* DynamicSupervisor.startChild(sup, spec("b"))
      if (a === undefined || b === undefined) return yield* Effect.die("a child was ignored")
      yield* DynamicSupervisor.terminateChild(sup, a)
      assert.deepStrictEqual(a.exitReason, ExitReason.killed)
      assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 1)
      yield* Supervisor.shutdownTree(sup)
      assert.deepStrictEqual(b.exitReason, ExitReason.killed)
      assert.deepStrictEqual(entered, ["a", "b"])
    }))

  it.effect("a kill does not wait for finalizers: the runaway finalizer is reported as a warning, and its later end changes nothing", () => {
    const events: Array<LifecycleEvent> = []
    const warnings: Array<string> = []
    return Effect.gen(function*() {
      const entered: Array<string> = []
      const release = yield* Deferred.make<void>()
      const sup = yield* Supervisor.spawn({
        children: [
          ChildSpec.task({ id: "t", run: hanging(entered, "t", Deferred.await(release)), shutdown: "brutalKill" })
        ]
      })
      const task = yield* runningProcess(sup, "t")
      yield* Supervisor.terminateChild(sup, "t")
      yield* Effect.yieldNow // the report is made once the kill's synchronous work is done
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], `t<${task.pid}> was killed while its finalizers were still running`)
      yield* Deferred.succeed(release, undefined)
      yield* Effect.yieldNow
      assert.deepStrictEqual(task.exitReason, ExitReason.killed)
      assert.deepStrictEqual(exitsOf(events, "t"), [ExitReason.killed])
      assert.strictEqual(warnings.length, 1)
    }).pipe(collecting(events), Effect.provide(captureWarnings(warnings)))
  })

  it.effect("a kill that ends the task at once (no finalizer left running) reports nothing", () => {
    const warnings: Array<string> = []
    return Effect.gen(function*() {
      const cleaned: Array<string> = []
      const sup = yield* Supervisor.spawn({
        children: [
          ChildSpec.task({
            id: "t",
            run: Effect.ensuring(Effect.never, Effect.sync(() => cleaned.push("t"))),
            shutdown: "brutalKill"
          })
        ]
      })
      yield* Supervisor.terminateChild(sup, "t")
      yield* Effect.yieldNow
      assert.deepStrictEqual(cleaned, ["t"])
      assert.deepStrictEqual(warnings, [])
    }).pipe(Effect.provide(captureWarnings(warnings)))
  })

  it.effect("an ordinary shutdown waits for a task's finalizers within the shutdown timeout", () =>
    Effect.gen(function*() {
      const cleaned: Array<string> = []
      // TestClock's first sleep in a test briefly runs interruptibly (it forks its "not advanced" warning), which
      // would cut an interrupted fiber's finalizer short; advancing the clock first retires that warning
      yield* TestClock.adjust(0)
      const slowCleanup = Effect.scoped(
        Effect.andThen(
          Effect.addFinalizer(() => Effect.andThen(Effect.sleep(300), Effect.sync(() => cleaned.push("t")))),
          Effect.never
        )
      )
      const sup = yield* Supervisor.spawn({ children: [ChildSpec.task({ id: "t", run: slowCleanup, shutdown: 1000 })] })
      const task = yield* runningProcess(sup, "t")
      const terminating = yield* Effect.forkChild(Supervisor.terminateChild(sup, "t"), { startImmediately: true })
      yield* TestClock.adjust(299)
      assert.isUndefined(task.exitReason)
      assert.deepStrictEqual(cleaned, [])
      yield* TestClock.adjust(1)
      yield* Fiber.join(terminating)
      assert.deepStrictEqual(cleaned, ["t"])
      assert.deepStrictEqual(task.exitReason, ExitReason.shutdown)
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour, ChildSpec, DynamicSupervisor, ExitReason, Process } from "../../src/runtime/index.ts"
import { slowInit, worker, type WorkerProtocol } from "./support/workers.ts"

/** A child with backoff 10 s → 1 min, no jitter; its start fails while `gate.open` is false. */
const backoffSpec = (log: Array<string>, id: string, gate = { open: true }): ChildSpec.ChildSpec => ({
  id,
  backoff: { min: "10 seconds", max: "1 minute", randomFactor: 0 },
  start: Effect.suspend(() => {
    log.push(`attempt ${id}`)
    return gate.open ? Actor.start(worker(log, id), undefined) : Effect.fail(new Error(`${id} cannot start yet`))
  })
})

/** Kills `child` and waits until the supervisor has handled its exit (the next call is served after it). */
const killChild = (sup: DynamicSupervisor.DynamicSupervisorRef, child: Process.Process) =>
  Effect.gen(function*() {
    yield* Actor.kill(child)
    yield* Process.awaitExit(child)
    yield* DynamicSupervisor.countChildren(sup)
  })

const attempts = (log: ReadonlyArray<string>) => log.filter((l) => l.startsWith("attempt")).length

/** The test clock, counting the sleeps in progress: a timer left behind is a sleep that never ends. */
const countingSleeps = Effect.map(Clock.clockWith(Effect.succeed), (clock) => {
  const counter = { pending: 0 }
  const counting: Clock.Clock = {
    currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
    currentTimeMillis: clock.currentTimeMillis,
    currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
    currentTimeNanos: clock.currentTimeNanos,
    monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: clock.monotonicTimeNanos,
    sleep: (duration) =>
      Effect.suspend(() => {
        counter.pending++
        return Effect.ensuring(clock.sleep(duration), Effect.sync(() => counter.pending--))
      })
  }
  return { counter, counting }
})

const spec = (log: Array<string>, id: string, restart: "permanent" | "transient" | "temporary" = "permanent") => ({
  id,
  restart,
  start: Actor.start(worker(log, id), undefined)
})

describe("DynamicSupervisor", () => {
  it.effect("starts children on demand; one_for_one restarts; temporary children are forgotten", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* DynamicSupervisor.spawn({ name: "dyn" })
      const a = (yield* DynamicSupervisor.startChild(sup, spec(log, "a"))) as Actor.ActorRef<WorkerProtocol>
      const t = (yield* DynamicSupervisor.startChild(sup, spec(log, "t", "temporary"))) as Actor.ActorRef<
        WorkerProtocol
      >
      assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 2)
      yield* Actor.cast(a, "crash")
      yield* Actor.cast(t, "crash")
      const children = yield* DynamicSupervisor.whichChildren(sup)
      assert.strictEqual(children.length, 1)
      assert.notStrictEqual(children[0], a)
      assert.deepStrictEqual(log.filter((l) => l.startsWith("start")), ["start a", "start t", "start a"])
    }))

  it.effect("maxChildren: a typed MaxChildren error", () =>
    Effect.gen(function*() {
      const sup = yield* DynamicSupervisor.spawn({ maxChildren: 2 })
      yield* DynamicSupervisor.startChild(sup, spec([], "a"))
      yield* DynamicSupervisor.startChild(sup, spec([], "b"))
      const error = yield* Effect.flip(DynamicSupervisor.startChild(sup, spec([], "c")))
      assert.strictEqual(error._tag, "MaxChildren")
    }))

  it.effect("DynamicSupervisor maxChildren unbounded by default: 2,000 children start", () =>
    Effect.gen(function*() {
      const sup = yield* DynamicSupervisor.spawn()
      for (let i = 0; i < 2_000; i++) yield* DynamicSupervisor.startChild(sup, spec([], `c${i}`))
      assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 2_000)
    }))

  it.effect("extraArguments are prepended to the child's start arguments", () =>
    Effect.gen(function*() {
      const greeter = Behaviour.make<{ call: "hello"; reply: string }>()({
        init: (args: readonly [string, number]) => Behaviour.ok(`${args[0]}-${args[1]}`),
        handleCall: (_r, _f, s) => Behaviour.reply(s, s)
      })
      const sup = yield* DynamicSupervisor.spawn<[tenant: string]>({ extraArguments: ["tenant-1"] })
      const child = yield* DynamicSupervisor.startChild(sup, {
        id: "g",
        start: (tenant: string) => Actor.start(greeter, [tenant, 42] as const)
      })
      assert.strictEqual(
        yield* Actor.call(child as Actor.ActorRef<{ call: "hello"; reply: string }>, "hello"),
        "tenant-1-42"
      )
    }))

  it.effect("default intensity 3 in 5 s: the 4th quick crash shuts everything down", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* DynamicSupervisor.spawn()
      yield* DynamicSupervisor.startChild(sup, spec(log, "b"))
      for (let i = 0; i < 4; i++) {
        const [child] = yield* DynamicSupervisor.whichChildren(sup)
        yield* Actor.cast(child as Actor.ActorRef<WorkerProtocol>, "crash")
      }
      assert.deepStrictEqual(yield* Process.awaitExit(sup), ExitReason.shutdown)
    }))

  it.effect("shutdown terminates all children concurrently", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* DynamicSupervisor.spawn()
      for (const id of ["a", "b", "c"]) yield* DynamicSupervisor.startChild(sup, spec(log, id))
      yield* Actor.stop(sup, ExitReason.shutdown)
      assert.deepStrictEqual(log.filter((l) => l.startsWith("stop")).sort(), [
        "stop a shutdown",
        "stop b shutdown",
        "stop c shutdown"
      ])
    }))

  it.effect("terminateChild by process; an unknown process is ChildNotFound; bad specs are InvalidOptions", () =>
    Effect.gen(function*() {
      const sup = yield* DynamicSupervisor.spawn()
      const child = (yield* DynamicSupervisor.startChild(sup, spec([], "a"))) as Process.Process
      yield* DynamicSupervisor.terminateChild(sup, child)
      assert.deepStrictEqual(child.exitReason, ExitReason.shutdown)
      assert.strictEqual((yield* Effect.flip(DynamicSupervisor.terminateChild(sup, child)))._tag, "ChildNotFound")
      const bad = yield* Effect.flip(
        DynamicSupervisor.startChild<[], never>(sup, {
          id: "x",
          start: Effect.never as never,
          shutdown: "soon" as never
        })
      )
      assert.isTrue(bad._tag === "InvalidOptions" && bad.path === "shutdown")
      // a `start` that is neither an Effect nor a function (an array, a record) is refused, never run
      for (const start of [[1, 2], { pid: 1 }]) {
        const badStart = yield* Effect.flip(
          DynamicSupervisor.startChild<[], never>(sup, { id: "y", start: start as never })
        )
        assert.isTrue(badStart._tag === "InvalidOptions" && badStart.path === "start")
      }
      assert.isUndefined(sup.exitReason)
      const badOptions = yield* Effect.flip(DynamicSupervisor.spawn({ maxChildren: 0 }))
      assert.isTrue(badOptions._tag === "InvalidOptions" && badOptions.path === "maxChildren")
    }))

  it.effect("a dynamic supervisor killed during a slow startChild leaves no child alive", () =>
    Effect.gen(function*() {
      const started: Array<Process.Process> = []
      const slow = slowInit(started)
      const sup = yield* DynamicSupervisor.spawn({ name: "dyn" })
      const first = (yield* DynamicSupervisor.startChild(sup, spec([], "a"))) as Process.Process
      const starting = yield* Effect.forkChild(
        Effect.exit(DynamicSupervisor.startChild(sup, { id: "b", start: Actor.start(slow, undefined) })),
        { startImmediately: true }
      )
      yield* TestClock.adjust(100) // b's init is sleeping
      assert.strictEqual(started.length, 1)
      yield* Actor.kill(sup)
      yield* TestClock.adjust(2000)
      assert.strictEqual((yield* Fiber.join(starting))._tag, "Failure")
      assert.deepStrictEqual(first.exitReason, ExitReason.killed)
      assert.deepStrictEqual(started[0]?.exitReason, ExitReason.killed)
    }))

  describe("restart backoff", () => {
    it.effect(
      "a killed child with backoff is not restarted before its backoff delay and is restarted when the delay is over",
      () =>
        Effect.gen(function*() {
          const log: Array<string> = []
          const sup = yield* DynamicSupervisor.spawn({ maxChildren: 1 })
          const first = (yield* DynamicSupervisor.startChild(sup, backoffSpec(log, "w"))) as Process.Process
          yield* killChild(sup, first)
          // waiting for its backoff: restarting, counted in specs (not active) and toward maxChildren
          assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), ["restarting"])
          assert.deepStrictEqual(yield* DynamicSupervisor.countChildren(sup), {
            specs: 1,
            active: 0,
            supervisors: 0,
            workers: 1
          })
          const full = yield* Effect.flip(DynamicSupervisor.startChild(sup, spec([], "other")))
          assert.strictEqual(full._tag, "MaxChildren")
          yield* TestClock.adjust("9999 millis")
          assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), ["restarting"], "not before 10 s")
          assert.strictEqual(attempts(log), 1)
          yield* TestClock.adjust("1 millis")
          const [restarted] = yield* DynamicSupervisor.whichChildren(sup)
          assert.isTrue(Process.isProcess(restarted) && restarted !== first, "restarted at 10 s")
          assert.strictEqual(attempts(log), 2)
          assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 1)
        })
    )

    it.effect("a failing restart retries after the next backoff step", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const gate = { open: true }
        const sup = yield* DynamicSupervisor.spawn({ maxRestarts: 100 })
        const first = (yield* DynamicSupervisor.startChild(sup, backoffSpec(log, "w", gate))) as Process.Process
        gate.open = false
        yield* killChild(sup, first)
        yield* TestClock.adjust("10 seconds") // the restart after 10 s fails
        assert.strictEqual(attempts(log), 2)
        gate.open = true
        yield* TestClock.adjust("19999 millis") // the next step is 20 s, not an immediate retry
        assert.strictEqual(attempts(log), 2)
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), ["restarting"])
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(attempts(log), 3)
        const [restarted] = yield* DynamicSupervisor.whichChildren(sup)
        assert.isTrue(Process.isProcess(restarted))
        assert.isUndefined(sup.exitReason)
      }))

    it.effect("terminateChild during the backoff wins: no restart later", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const sup = yield* DynamicSupervisor.spawn()
        const first = (yield* DynamicSupervisor.startChild(sup, backoffSpec(log, "w"))) as Process.Process
        yield* killChild(sup, first)
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), ["restarting"])
        // a child waiting for its restart is known by the process it last ran as (Elixir keys it by that pid)
        yield* DynamicSupervisor.terminateChild(sup, first)
        assert.deepStrictEqual(yield* DynamicSupervisor.countChildren(sup), {
          specs: 0,
          active: 0,
          supervisors: 0,
          workers: 0
        })
        yield* TestClock.adjust("5 minutes")
        assert.strictEqual(attempts(log), 1)
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), [])
        assert.strictEqual((yield* Effect.flip(DynamicSupervisor.terminateChild(sup, first)))._tag, "ChildNotFound")
        assert.isUndefined(sup.exitReason)
      }))

    it.effect("shutdown during backoff leaves no timer", () =>
      Effect.gen(function*() {
        const { counter, counting } = yield* countingSleeps
        const log: Array<string> = []
        // the supervisor (and the timers it forks) sleeps on the counting clock
        const sup = yield* DynamicSupervisor.spawn().pipe(Effect.provideService(Clock.Clock, counting))
        const first = (yield* DynamicSupervisor.startChild(sup, backoffSpec(log, "w"))) as Process.Process
        yield* DynamicSupervisor.startChild(sup, spec(log, "running"))
        yield* killChild(sup, first)
        assert.strictEqual(counter.pending, 1, "the backoff timer is sleeping")
        yield* Actor.stop(sup, ExitReason.shutdown)
        assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
        assert.isTrue(log.includes("stop running shutdown"))
        assert.strictEqual(counter.pending, 0, "no timer left")
        yield* TestClock.adjust("5 minutes")
        assert.strictEqual(attempts(log), 1)
      }))
  })
})

/**
 * Strategies, restart types and restart intensity: the `supervisor_SUITE` scenarios restart_one_for_one,
 * restart_one_for_all, restart_rest_for_one (each with escalation), normal/shutdown/abnormal termination ×
 * permanent/transient/temporary, and multiple_restarts (the intensity window sliding).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour, ChildSpec, ExitReason, Process, Supervisor } from "../../src/runtime/index.ts"
import { childOf, exitChild, fastInit, pidOf, slowInit, workerSpec } from "./support/workers.ts"

const threeChildren = (log: Array<string>, strategy: Supervisor.Strategy, maxRestarts = 3) =>
  Supervisor.spawn({
    name: "sup",
    strategy,
    maxRestarts,
    maxSeconds: 5,
    children: [workerSpec(log, "a"), workerSpec(log, "b"), workerSpec(log, "c")]
  })

const pids = (sup: Supervisor.SupervisorRef) =>
  Effect.map(Supervisor.whichChildren(sup), (children) => children.map((c) => pidOf(c.process)))

describe("Supervisor strategies", () => {
  it.effect("oneForOne restarts only the crashed child", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* threeChildren(log, "oneForOne")
      const [a, b, c] = yield* pids(sup)
      log.length = 0
      yield* exitChild(sup, "b", "crash")
      const after = yield* pids(sup)
      assert.strictEqual(after[0], a)
      assert.notStrictEqual(after[1], b)
      assert.strictEqual(after[2], c)
      assert.deepStrictEqual(log, ["stop b failure(Error: b crashed)", "start b"])
    }))

  it.effect("oneForAll terminates the others in reverse start order, then restarts all in start order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* threeChildren(log, "oneForAll")
      const before = yield* pids(sup)
      log.length = 0
      yield* exitChild(sup, "b", "crash")
      assert.deepStrictEqual(log, [
        "stop b failure(Error: b crashed)",
        "stop c shutdown",
        "stop a shutdown",
        "start a",
        "start b",
        "start c"
      ])
      const after = yield* pids(sup)
      after.forEach((pid, i) => assert.notStrictEqual(pid, before[i]))
    }))

  it.effect("restForOne terminates and restarts the children started after the crashed one", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* threeChildren(log, "restForOne")
      const [a] = yield* pids(sup)
      log.length = 0
      yield* exitChild(sup, "b", "crash")
      assert.deepStrictEqual(log, ["stop b failure(Error: b crashed)", "stop c shutdown", "start b", "start c"])
      assert.strictEqual((yield* pids(sup))[0], a)
    }))

  for (const strategy of ["oneForOne", "oneForAll", "restForOne"] as const) {
    it.effect(`${strategy} escalates: past the intensity all children stop in reverse order and the supervisor exits shutdown`, () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const sup = yield* threeChildren(log, strategy, 2)
        yield* exitChild(sup, "b", "crash")
        yield* exitChild(sup, "b", "crash") // 2 restarts: allowed
        log.length = 0
        yield* exitChild(sup, "b", "crash") // the 3rd exceeds maxRestarts = 2
        assert.deepStrictEqual(yield* Process.awaitExit(sup), ExitReason.shutdown)
        const stops = log.filter((l) => l.startsWith("stop") && l.endsWith("shutdown"))
        assert.deepStrictEqual(stops, ["stop c shutdown", "stop a shutdown"])
        assert.isFalse(log.some((l) => l.startsWith("start")))
      }))
  }

  it.effect("a cascade counts once toward the intensity", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* threeChildren(log, "oneForAll", 1)
      yield* exitChild(sup, "a", "crash") // one cascade restarting 3 children = 1 restart
      assert.isUndefined(sup.exitReason)
      yield* exitChild(sup, "c", "crash") // the second restart exceeds 1
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))
})

describe("restart types × exit reasons", () => {
  const cases: ReadonlyArray<
    readonly [
      restart: "permanent" | "transient" | "temporary",
      reason: ExitReason.ExitReason | "crash",
      restarted: boolean,
      kept: boolean
    ]
  > = [
    ["permanent", ExitReason.normal, true, true],
    ["permanent", ExitReason.shutdown, true, true],
    ["permanent", "crash", true, true],
    ["transient", ExitReason.normal, false, true],
    ["transient", ExitReason.shutdown, false, true],
    ["transient", ExitReason.shutdownWith("done"), false, true],
    ["transient", "crash", true, true],
    ["transient", ExitReason.killed, true, true],
    ["temporary", ExitReason.normal, false, false],
    ["temporary", ExitReason.shutdown, false, false],
    ["temporary", "crash", false, false]
  ]
  for (const [restart, reason, restarted, kept] of cases) {
    const label = reason === "crash" ? "crash" : ExitReason.format(reason)
    it.effect(`${restart} child exiting ${label}: ${restarted ? "restarted" : "not restarted"}, spec ${kept ? "kept" : "removed"}`, () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const sup = yield* Supervisor.spawn({ children: [workerSpec(log, "w", { restart })] })
        const before = yield* childOf(sup, "w")
        yield* exitChild(sup, "w", reason)
        const children = yield* Supervisor.whichChildren(sup)
        assert.strictEqual(children.length, kept ? 1 : 0)
        if (kept) {
          const now = children[0]?.process
          if (restarted) assert.isTrue(now !== undefined && now !== "restarting" && now !== before)
          else assert.isUndefined(now)
        }
        assert.isUndefined(sup.exitReason)
      }))
  }

  it.effect("temporary children are never restarted, even in a cascade, and are removed", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({
        strategy: "oneForAll",
        children: [workerSpec(log, "a"), workerSpec(log, "t", { restart: "temporary" }), workerSpec(log, "c")]
      })
      log.length = 0
      yield* exitChild(sup, "a", "crash")
      assert.deepStrictEqual(log, [
        "stop a failure(Error: a crashed)",
        "stop c shutdown",
        "stop t shutdown",
        "start a",
        "start c"
      ])
      assert.deepStrictEqual((yield* Supervisor.whichChildren(sup)).map((c) => c.id), ["a", "c"])
    }))
})

describe("restart intensity (multiple_restarts)", () => {
  it.effect("3 restarts within 5 s are allowed; a 4th while the first is exactly 5 s old is not", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ maxRestarts: 3, maxSeconds: 5, children: [workerSpec(log, "w")] })
      yield* exitChild(sup, "w", "crash") // t = 0
      yield* TestClock.adjust(1000)
      yield* exitChild(sup, "w", "crash") // t = 1000
      yield* TestClock.adjust(1000)
      yield* exitChild(sup, "w", "crash") // t = 2000
      yield* TestClock.adjust(3000)
      assert.isUndefined(sup.exitReason)
      yield* exitChild(sup, "w", "crash") // t = 5000: the t = 0 restart still counts (OTP: R >= Now - Period)
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("the window slides: a restart older than the period no longer counts", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sup = yield* Supervisor.spawn({ maxRestarts: 3, maxSeconds: 5, children: [workerSpec(log, "w")] })
      for (const t of [0, 1000, 1000]) {
        yield* TestClock.adjust(t)
        yield* exitChild(sup, "w", "crash") // t = 0, 1000, 2000
      }
      yield* TestClock.adjust(3001) // t = 5001: the t = 0 restart has left the window
      yield* exitChild(sup, "w", "crash")
      assert.isUndefined(sup.exitReason)
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust(1700) // one restart every 1.7 s: never more than 3 in 5 s
        yield* exitChild(sup, "w", "crash")
      }
      assert.isUndefined(sup.exitReason)
      yield* exitChild(sup, "w", "crash") // two within the same instant: now 4 in the window
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("maxRestarts 0: the first crash shuts the supervisor down", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({ maxRestarts: 0, children: [workerSpec([], "w")] })
      yield* exitChild(sup, "w", "crash")
      assert.deepStrictEqual(sup.exitReason, ExitReason.shutdown)
    }))

  it.effect("escalation: a child supervisor that gives up exits shutdown and its (permanent) parent restarts it", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const parent = yield* Supervisor.spawn({
        name: "parent",
        children: [Supervisor.childSpec("child-sup", { maxRestarts: 0, children: [workerSpec(log, "w")] })]
      })
      const childSup = (yield* childOf(parent, "child-sup")) as Supervisor.SupervisorRef
      yield* exitChild(childSup, "w", "crash")
      assert.deepStrictEqual(childSup.exitReason, ExitReason.shutdown)
      yield* Supervisor.countChildren(parent) // let the parent handle the exit
      const restarted = yield* childOf(parent, "child-sup")
      assert.isTrue(restarted !== undefined && restarted !== "restarting" && restarted !== childSup)
      assert.strictEqual(log.filter((l) => l === "start w").length, 2)
    }))
})

describe("Supervisor links", () => {
  /** Children a (started at once) and b (init sleeping 1 s); b's start runs on the supervisor's fiber, so it sees it. */
  const tree = (started: Array<Process.Process>, supervisor: Array<Process.Process>) =>
    Supervisor.spawn({
      name: "sup",
      children: [
        ChildSpec.actor("a", fastInit(started), undefined),
        {
          id: "b",
          start: Effect.flatMap(Actor.self, (self) => {
            if (self !== undefined) supervisor.push(self)
            return Actor.start(slowInit(started), undefined)
          })
        }
      ]
    })

  it.effect("a supervisor killed during its own init leaves no child alive", () =>
    Effect.gen(function*() {
      const started: Array<Process.Process> = []
      const supervisor: Array<Process.Process> = []
      const spawning = yield* Effect.forkChild(Effect.exit(tree(started, supervisor)), { startImmediately: true })
      yield* TestClock.adjust(100) // a is running, b's init is sleeping
      assert.strictEqual(started.length, 2)
      supervisor[0]?.kill()
      yield* TestClock.adjust(2000)
      assert.strictEqual((yield* Fiber.join(spawning))._tag, "Failure")
      assert.deepStrictEqual(started.map((p) => p.exitReason), [ExitReason.killed, ExitReason.killed])
    }))

  it.effect("a supervisor interrupted during its own init leaves no child alive", () =>
    Effect.gen(function*() {
      const started: Array<Process.Process> = []
      const supervisor: Array<Process.Process> = []
      const spawning = yield* Effect.forkChild(Effect.exit(Effect.timeout(tree(started, supervisor), 100)), {
        startImmediately: true
      })
      yield* TestClock.adjust(2000)
      assert.strictEqual((yield* Fiber.join(spawning))._tag, "Failure")
      assert.deepStrictEqual(supervisor[0]?.exitReason, ExitReason.killed)
      assert.deepStrictEqual(started.map((p) => p.exitReason), [ExitReason.killed, ExitReason.killed])
    }))

  it.effect("a supervisor killed during a slow child start leaves no child alive", () =>
    Effect.gen(function*() {
      const started: Array<Process.Process> = []
      const sup = yield* Supervisor.spawn({
        name: "sup",
        children: [ChildSpec.actor("a", fastInit(started), undefined)]
      })
      const starting = yield* Effect.forkChild(
        Effect.exit(Supervisor.startChild(sup, ChildSpec.actor("b", slowInit(started), undefined))),
        { startImmediately: true }
      )
      yield* TestClock.adjust(100) // b's init is sleeping
      assert.strictEqual(started.length, 2)
      yield* Actor.kill(sup)
      yield* TestClock.adjust(2000)
      assert.strictEqual((yield* Fiber.join(starting))._tag, "Failure")
      assert.deepStrictEqual(started.map((p) => p.exitReason), [ExitReason.killed, ExitReason.killed])
    }))
})

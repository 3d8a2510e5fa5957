/**
 * Property: for random supervisors (strategy, intensity, children's restart types) and random sequences of
 * crashes, normal and shutdown exits, kills, terminate/restart calls and clock advances:
 * - while the supervisor is alive, the children it reports as running are exactly the live processes it
 *   started (no running child it does not report, no reported child that is dead);
 * - once it is dead, none of its children is alive;
 * - it exits exactly when an independent model of OTP's intensity rule says the restarts within the window
 *   exceeded `maxRestarts` (never later, never earlier).
 */
import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Actor, ExitReason, type Process, Supervisor } from "../../src/runtime/index.ts"
import { worker, type WorkerProtocol } from "./support/workers.ts"

type Restart = "permanent" | "transient" | "temporary"
type Op =
  | { readonly kind: "crash" | "normal" | "shutdown" | "kill" | "terminate" | "restart"; readonly target: number }
  | { readonly kind: "advance"; readonly millis: number }

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("crash", "normal", "shutdown", "kill", "terminate", "restart") as fc.Arbitrary<
      "crash" | "normal" | "shutdown" | "kill" | "terminate" | "restart"
    >,
    target: fc.nat(5)
  }),
  fc.record({ kind: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 3000 }) })
)

const scenario = fc.record({
  strategy: fc.constantFrom("oneForOne", "oneForAll", "restForOne") as fc.Arbitrary<Supervisor.Strategy>,
  maxRestarts: fc.integer({ min: 0, max: 4 }),
  maxSeconds: fc.integer({ min: 1, max: 5 }),
  restarts: fc.array(fc.constantFrom("permanent", "transient", "temporary") as fc.Arbitrary<Restart>, {
    minLength: 1,
    maxLength: 4
  }),
  ops: fc.array(opArbitrary, { maxLength: 30 })
})

const restartWorthy = (restart: Restart, how: "crash" | "normal" | "shutdown" | "kill"): boolean =>
  restart === "permanent" || (restart === "transient" && (how === "crash" || how === "kill"))

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never
const exitOf = (process: Process.Process) => process.exitReason

const run = (s: Scenario) =>
  Effect.gen(function*() {
    const started: Array<Process.Process> = []
    const children = s.restarts.map((restart, i) => ({
      id: `c${i}`,
      restart,
      start: Effect.tap(Actor.start(worker([], `c${i}`), undefined), (ref) => Effect.sync(() => started.push(ref)))
    }))
    const sup = yield* Supervisor.spawn({
      strategy: s.strategy,
      maxRestarts: s.maxRestarts,
      maxSeconds: s.maxSeconds,
      children
    })
    let now = 0
    const decisions: Array<number> = []
    const windowMillis = s.maxSeconds * 1000

    const check = (label: string) =>
      Effect.gen(function*() {
        if (sup.exitReason !== undefined) {
          const alive = started.filter((p) => p.exitReason === undefined)
          if (alive.length > 0) throw new Error(`${label}: supervisor dead but ${alive.length} children alive`)
          return
        }
        const reported = new Set(
          (yield* Supervisor.whichChildren(sup)).flatMap((c) =>
            c.process !== undefined && c.process !== "restarting" ? [c.process] : []
          )
        )
        for (const p of started) {
          const alive = p.exitReason === undefined
          if (alive && !reported.has(p)) throw new Error(`${label}: running child ${p.name} not reported`)
          if (!alive && reported.has(p)) throw new Error(`${label}: dead child ${p.name} reported as running`)
        }
      })

    for (const [index, op] of s.ops.entries()) {
      if (sup.exitReason !== undefined) break
      const label = `op ${index} ${JSON.stringify(op)}`
      if (op.kind === "advance") {
        yield* TestClock.adjust(op.millis)
        now += op.millis
      } else {
        const infos = yield* Supervisor.whichChildren(sup)
        const info = infos[op.target % Math.max(1, infos.length)]
        if (info === undefined) continue
        if (op.kind === "terminate") yield* Supervisor.terminateChild(sup, info.id)
        else if (op.kind === "restart") yield* Effect.exit(Supervisor.restartChild(sup, info.id))
        else if (info.process !== undefined && info.process !== "restarting") {
          const process = info.process as Actor.ActorRef<WorkerProtocol>
          if (op.kind === "kill") process.kill()
          else if (op.kind === "crash") yield* Actor.cast(process, "crash")
          else yield* Actor.cast(process, { exit: op.kind === "normal" ? ExitReason.normal : ExitReason.shutdown })
          if (restartWorthy(info.restart, op.kind)) decisions.push(now)
          const inWindow = decisions.filter((t) => t >= now - windowMillis).length
          if (sup.exitReason === undefined) yield* Effect.exit(Supervisor.countChildren(sup))
          const exceeded = inWindow > s.maxRestarts
          const dead = sup.exitReason !== undefined
          if (exceeded !== dead) {
            throw new Error(
              `${label}: ${inWindow} restarts in window, max ${s.maxRestarts}, supervisor ${dead ? "dead" : "alive"}`
            )
          }
          const reason = exitOf(sup)
          if (dead && reason?._tag !== "Shutdown") throw new Error(`${label}: exit reason ${reason?._tag}`)
        }
      }
      yield* check(label)
    }
    yield* Supervisor.shutdownTree(sup)
    yield* check("after shutdown")
    return true
  })

describe("Supervisor properties", () => {
  it("random crash/stop sequences keep whichChildren exact and respect the intensity", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => Effect.runPromise(run(s).pipe(Effect.provide(Layer.fresh(TestClock.layer()))))),
      { numRuns: 300 }
    )
  })
})

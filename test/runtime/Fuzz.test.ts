/**
 * Fuzz (issue 10 §5): no input from outside a process crashes it. fast-check throws arbitrary values at every
 * public runtime entry point that takes a message — raw `Actor.call` / `cast` / `send` to a supervisor and a
 * dynamic supervisor, their management calls, `Actor.stop`'s reason — and asserts a typed failure (or a harmless
 * success), unchanged children and a live tree. Mirrors OTP's supervisor, which answers unknown calls with an
 * error and logs and drops unexpected casts and infos.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Result } from "effect"
import * as fc from "fast-check"
import { Actor, DynamicSupervisor, ExitReason, Supervisor } from "../../src/runtime/index.ts"
import { workerSpec } from "./support/workers.ts"

type Loose = Actor.ActorRef<
  { readonly call: unknown; readonly reply: unknown; readonly cast: unknown; readonly info: unknown }
>

/** The exit is a success or a typed failure (a tagged error value), never a defect or an interruption. */
const typedOrOk = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isSuccess(exit) ||
  (exit.cause.reasons.length > 0 &&
    exit.cause.reasons.every((r) => r._tag === "Fail" && typeof (r.error as { _tag?: unknown })._tag === "string"))

const show = (u: unknown): string => fc.stringify(u)

const describeExit = (
  exit: Exit.Exit<unknown, unknown>
): string => (Exit.isSuccess(exit) ? "ok" : Cause.pretty(exit.cause))

describe("Runtime fuzz: bad messages never crash a supervised process", () => {
  it("arbitrary values to every supervisor entry point: typed failures, unchanged children, a live tree", async () => {
    const log: Array<string> = []
    const setup = await Effect.runPromise(Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [workerSpec(log, "a"), Supervisor.childSpec("sub", { children: [workerSpec(log, "b")] })]
      })
      const dyn = yield* DynamicSupervisor.spawn({ maxChildren: 5 })
      yield* DynamicSupervisor.startChild(dyn, workerSpec(log, "d"))
      const before = (yield* Supervisor.whichChildren(sup)).map((c) => c.process)
      const dynBefore = yield* DynamicSupervisor.whichChildren(dyn)
      return { sup, dyn, before, dynBefore }
    }))
    const { sup, dyn, before, dynBefore } = setup
    const entryPoints: ReadonlyArray<readonly [string, (u: unknown) => Effect.Effect<unknown, unknown>]> = [
      ["Actor.call(supervisor)", (u) => Actor.call(sup as unknown as Loose, u)],
      ["Actor.cast(supervisor)", (u) => Actor.cast(sup as unknown as Loose, u)],
      ["Actor.send(supervisor)", (u) => Actor.send(sup as unknown as Loose, u)],
      ["Actor.call(dynamic supervisor)", (u) => Actor.call(dyn as unknown as Loose, u)],
      ["Actor.cast(dynamic supervisor)", (u) => Actor.cast(dyn as unknown as Loose, u)],
      ["Actor.send(dynamic supervisor)", (u) => Actor.send(dyn as unknown as Loose, u)],
      ["Supervisor.startChild", (u) => Supervisor.startChild(sup, u as never)],
      ["Supervisor.terminateChild", (u) => Supervisor.terminateChild(sup, u as string)],
      ["Supervisor.restartChild", (u) => Supervisor.restartChild(sup, u as string)],
      ["Supervisor.deleteChild", (u) => Supervisor.deleteChild(sup, u as string)],
      ["Supervisor.getChildSpec", (u) => Supervisor.getChildSpec(sup, u as string)],
      ["DynamicSupervisor.startChild", (u) => DynamicSupervisor.startChild(dyn, u as never)],
      ["DynamicSupervisor.terminateChild", (u) => DynamicSupervisor.terminateChild(dyn, u as never)],
      ["Actor.stop(reason)", (u) => Actor.stop(sup, u as ExitReason.ExitReason)]
    ]
    // values that look like the runtime's own messages, with the wrong insides
    const lookalike = fc.oneof(
      fc.anything(),
      fc.record({
        _tag: fc.constantFrom(
          "StartChild",
          "TerminateChild",
          "RestartChild",
          "DeleteChild",
          "GetChildSpec",
          "ChildExit",
          "TryAgain",
          "BackoffDue",
          "Down"
        ),
        id: fc.anything(),
        spec: fc.anything(),
        child: fc.anything(),
        process: fc.anything()
      }),
      fc.record({ id: fc.string(), start: fc.anything(), restart: fc.anything(), shutdown: fc.anything() })
    )
    await fc.assert(
      fc.asyncProperty(fc.nat(entryPoints.length - 1), lookalike, async (index, value) => {
        const [name, entry] = entryPoints[index] as (typeof entryPoints)[number]
        // a value that happens to be a real exit reason would legitimately stop the tree
        if (name === "Actor.stop(reason)" && (value === undefined || ExitReason.isExitReason(value))) return
        const exit = await Effect.runPromise(Effect.exit(entry(value)))
        assert.isTrue(typedOrOk(exit), `${name}(${show(value)}): ${describeExit(exit)}`)
        const raw = name.startsWith("Actor.call") && Exit.isSuccess(exit) ? exit.value : undefined
        if (raw !== undefined) assert.isTrue(Result.isResult(raw), `${name}: replied ${show(raw)}`)
        assert.isUndefined(sup.exitReason, `${name} stopped the supervisor`)
        assert.isUndefined(dyn.exitReason, `${name} stopped the dynamic supervisor`)
      }),
      { numRuns: 400 }
    )
    await Effect.runPromise(Effect.gen(function*() {
      // what a valid `startChild` may have added is removed; the original children are the same processes
      const after = (yield* Supervisor.whichChildren(sup)).filter((c) => c.id === "a" || c.id === "sub").map((c) =>
        c.process
      )
      assert.deepStrictEqual(after, before)
      const dynAfter = yield* DynamicSupervisor.whichChildren(dyn)
      assert.strictEqual(dynAfter[0], dynBefore[0])
      assert.deepStrictEqual(log.filter((l) => l.startsWith("start")).slice(0, 3), ["start a", "start b", "start d"])
      yield* Supervisor.shutdownTree(sup)
      yield* Supervisor.shutdownTree(dyn)
    }))
  })
})

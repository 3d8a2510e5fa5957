/**
 * Monitors under churn (issue 10 §4), named after the Erlang rules they mirror: a monitor whose watcher died is
 * removed, `demonitor` is O(1), and a property test over random interleavings of monitor / demonitor / crash /
 * normal exit of watchers and targets: every live monitor gets exactly one `Down`, none after `demonitor`, and no
 * entries are left behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Actor, Behaviour, ExitReason, Monitor } from "../../src/runtime/index.ts"
import type { ProcessBase } from "../../src/runtime/Process.ts"

type WatcherProtocol = { readonly call: "ping"; readonly reply: ReadonlyArray<number>; readonly cast: "crash" }

/** Records the monitor id of every `Down` it receives. */
const Watcher = Behaviour.make<WatcherProtocol>()({
  init: () => Behaviour.ok<Array<number>>([]),
  handleCall: (_request, _from, downs) => Behaviour.reply([...downs], downs),
  handleCast: () => {
    throw new Error("watcher crashed")
  },
  handleInfo: (message, downs) => {
    if (message._tag === "Down") downs.push(message.monitor)
    return Behaviour.noreply(downs)
  }
})

const observers = (process: unknown): number => (process as ProcessBase).observerCount

describe("Monitor (erlang:monitor/demonitor under churn)", () => {
  it.effect("a monitor whose watcher has died is removed from the target", () =>
    Effect.gen(function*() {
      const target = yield* Actor.start(Watcher, undefined)
      for (let i = 0; i < 1000; i++) {
        const watcher = yield* Actor.start(Watcher, undefined)
        yield* Monitor.monitorFrom(watcher, target)
        yield* Monitor.monitorFrom(watcher, target)
        if (i % 2 === 0) yield* Actor.kill(watcher)
        else yield* Actor.cast(watcher, "crash")
      }
      assert.strictEqual(observers(target), 0)
      // `monitor` called inside an actor belongs to that actor
      const owner = yield* Actor.start(
        Behaviour.make<{ readonly call: "watch"; readonly reply: number }>()({
          init: () => Behaviour.ok(0),
          handleCall: (_request, _from, s) => Effect.map(Monitor.monitor(target), (m) => Behaviour.reply(m.id, s))
        }),
        undefined
      )
      yield* Actor.call(owner, "watch")
      assert.strictEqual(observers(target), 1)
      yield* Actor.stop(owner)
      assert.strictEqual(observers(target), 0)
      yield* Actor.stop(target)
    }))

  it.effect("erlang:demonitor is O(1): 50,000 demonitors in the worst order leave nothing behind", () =>
    Effect.gen(function*() {
      const target = yield* Actor.start(Watcher, undefined)
      const watcher = yield* Actor.start(Watcher, undefined)
      const refs: Array<{ readonly demonitor: Effect.Effect<void> }> = []
      for (let i = 0; i < 50_000; i++) refs.push(yield* Monitor.monitorFrom(watcher, target))
      const started = performance.now()
      for (let i = 0; i < refs.length; i++) yield* (refs[i] as { readonly demonitor: Effect.Effect<void> }).demonitor
      const millis = performance.now() - started
      assert.strictEqual(observers(target), 0)
      assert.strictEqual(observers(watcher), 0)
      assert.isBelow(millis, 2000, `50,000 demonitors took ${millis.toFixed(0)} ms (the O(n) version took 4–5 s)`)
      yield* Actor.stop(target)
      assert.deepStrictEqual(yield* Actor.call(watcher, "ping"), []) // no Down after demonitor
      yield* Actor.stop(watcher)
    }))

  type Op =
    | { readonly kind: "monitor"; readonly watcher: number; readonly target: number }
    | { readonly kind: "demonitor"; readonly monitor: number }
    | { readonly kind: "crashTarget" | "stopTarget"; readonly target: number }
    | { readonly kind: "crashWatcher" | "stopWatcher"; readonly watcher: number }

  const WATCHERS = 4
  const TARGETS = 4
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("monitor" as const),
        watcher: fc.nat(WATCHERS - 1),
        target: fc.nat(TARGETS - 1)
      })
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("demonitor" as const), monitor: fc.nat(40) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constantFrom("crashTarget" as const, "stopTarget" as const),
        target: fc.nat(TARGETS - 1)
      })
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constantFrom("crashWatcher" as const, "stopWatcher" as const),
        watcher: fc.nat(WATCHERS - 1)
      })
    }
  )

  interface Model {
    readonly id: number
    readonly watcher: number
    readonly target: number
    readonly demonitor: Effect.Effect<void>
    /** how many `Down`s it must deliver: 1 while live; 0 once demonitored or its watcher died first */
    expected: 0 | 1
    settled: boolean
  }

  const run = (ops: ReadonlyArray<Op>) =>
    Effect.gen(function*() {
      const watchers = yield* Effect.forEach(Array.from({ length: WATCHERS }), () => Actor.start(Watcher, undefined))
      const targets = yield* Effect.forEach(Array.from({ length: TARGETS }), () => Actor.start(Watcher, undefined))
      const monitors: Array<Model> = []
      const settle = (predicate: (m: Model) => boolean, expected: 0 | 1) => {
        for (const m of monitors) {
          if (!m.settled && predicate(m)) {
            m.settled = true
            m.expected = expected
          }
        }
      }
      for (const o of ops) {
        switch (o.kind) {
          case "monitor": {
            const w = watchers[o.watcher] as Actor.ActorRef<WatcherProtocol>
            const t = targets[o.target] as Actor.ActorRef<WatcherProtocol>
            const { id, demonitor } = yield* Monitor.monitorFrom(w, t)
            const alive = w.exitReason === undefined
            // a dead target: `noproc` at once; a dead watcher: nothing is ever delivered
            monitors.push({
              id,
              watcher: o.watcher,
              target: o.target,
              demonitor,
              expected: alive ? 1 : 0,
              settled: !alive || t.exitReason !== undefined
            })
            break
          }
          case "demonitor": {
            const m = monitors[o.monitor]
            if (m === undefined) break
            yield* m.demonitor
            settle((x) => x === m, 0)
            break
          }
          case "crashTarget":
          case "stopTarget": {
            const t = targets[o.target] as Actor.ActorRef<WatcherProtocol>
            if (t.exitReason !== undefined) break
            if (o.kind === "crashTarget") yield* Actor.cast(t, "crash")
            else yield* Actor.stop(t)
            settle((m) => m.target === o.target, 1)
            break
          }
          case "crashWatcher":
          case "stopWatcher": {
            const w = watchers[o.watcher] as Actor.ActorRef<WatcherProtocol>
            if (w.exitReason !== undefined) break
            if (o.kind === "crashWatcher") yield* Actor.cast(w, "crash")
            else yield* Actor.stop(w, ExitReason.shutdown)
            settle((m) => m.watcher === o.watcher, 0)
            break
          }
        }
      }
      // no entries left behind: a live target holds exactly its live monitors, a live watcher exactly its own
      for (const [i, t] of targets.entries()) {
        if (t.exitReason !== undefined) continue
        const live = monitors.filter((m) => m.target === i && !m.settled).length
        assert.strictEqual(observers(t), live, `target ${i}`)
      }
      for (const [i, w] of watchers.entries()) {
        if (w.exitReason !== undefined) continue
        const live = monitors.filter((m) => m.watcher === i && !m.settled).length
        assert.strictEqual(observers(w), live, `watcher ${i}`)
      }
      // end every target: each monitor still live gets its Down now
      for (const [i, t] of targets.entries()) {
        if (t.exitReason === undefined) yield* Actor.stop(t)
        settle((m) => m.target === i, 1)
      }
      for (const [i, w] of watchers.entries()) {
        if (w.exitReason !== undefined) continue
        const downs = yield* Actor.call(w, "ping")
        for (const m of monitors.filter((x) => x.watcher === i)) {
          assert.strictEqual(downs.filter((d) => d === m.id).length, m.expected, `monitor ${m.id} of watcher ${i}`)
        }
        assert.strictEqual(downs.length, new Set(downs).size, "a Down delivered twice")
        assert.strictEqual(observers(w), 0, `watcher ${i} after all targets exited`)
        yield* Actor.stop(w)
      }
    })

  it("random monitor / demonitor / crash / exit interleavings: exactly one Down per live monitor, none after demonitor, no entries left", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => Effect.runPromise(run(ops))),
      { numRuns: 150 }
    )
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Bus, Signal } from "../../src/agent/index.ts"

const sig = (type: string, n = 0) => Signal.make({ type, data: { n } }).pipe(Effect.orDie)

describe("Bus", () => {
  it.effect("publish/subscribe by pattern; take waits", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const orders = yield* bus.subscribe("order.*")
      const all = yield* bus.subscribe("**")
      const waiting = yield* Effect.forkChild(orders.take, { startImmediately: true })
      const r = yield* bus.publish(yield* sig("order.created"))
      assert.strictEqual(r.delivered, 2)
      yield* bus.publish(yield* sig("user.created"))
      assert.strictEqual((yield* Fiber.join(waiting)).type, "order.created")
      assert.deepStrictEqual((yield* all.drain).map((s) => s.type), ["order.created", "user.created"])
      assert.deepStrictEqual(yield* orders.drain, [])
    }))

  it.effect("late subscribers replay the last N matching signals", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ replay: 3 })
      for (let i = 0; i < 5; i++) yield* bus.publish(yield* sig(i % 2 === 0 ? "a.x" : "b.x", i))
      const late = yield* bus.subscribe("**", { replay: 10 })
      assert.deepStrictEqual((yield* late.drain).map((s) => (s.data as { n: number }).n), [2, 3, 4])
      const lateA = yield* bus.subscribe("a.*", { replay: 1 })
      assert.deepStrictEqual((yield* lateA.drain).map((s) => (s.data as { n: number }).n), [4])
    }))

  it.effect("overflow policies and dead letters", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const dropping = yield* bus.subscribe("t", { capacity: 2, overflow: "dropping" })
      const sliding = yield* bus.subscribe("t", { capacity: 2, overflow: "sliding" })
      for (let i = 0; i < 3; i++) yield* bus.publish(yield* sig("t", i))
      assert.deepStrictEqual((yield* dropping.drain).map((s) => (s.data as { n: number }).n), [0, 1])
      assert.deepStrictEqual((yield* sliding.drain).map((s) => (s.data as { n: number }).n), [1, 2])
      assert.strictEqual(dropping.lost(), 1)
      const failing = yield* bus.subscribe("f", { capacity: 1, overflow: "fail" })
      const other = yield* bus.subscribe("f", { capacity: 10 })
      yield* bus.publish(yield* sig("f", 0))
      const error = yield* Effect.flip(bus.publish(yield* sig("f", 1)))
      assert.strictEqual(error._tag, "BusOverflow")
      assert.deepStrictEqual(error.subscribers, [failing.id])
      assert.strictEqual((yield* other.drain).length, 2) // the others still got it
      yield* bus.publish(yield* sig("nobody.listens"))
      const dead = yield* bus.deadLetters
      assert.deepStrictEqual(dead.map((d) => [d.reason, (d.signal.data as { n: number }).n]), [
        ["Dropped", 2],
        ["Evicted", 0],
        ["Rejected", 1],
        ["NoSubscriber", 0]
      ])
    }))

  it.effect("unsubscribes when the scope closes; bad options are typed", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* Effect.scoped(bus.subscribe("x"))
      yield* bus.publish(yield* sig("x"))
      assert.strictEqual((yield* bus.deadLetters)[0]?.reason, "NoSubscriber")
      const e = yield* Effect.flip(bus.subscribe("x", { capacity: 0 }))
      assert.strictEqual(e._tag, "InvalidAgentOptions")
      if (e._tag === "InvalidAgentOptions") assert.strictEqual(e.path, "capacity")
      const e2 = yield* Effect.flip(bus.subscribe("x..y"))
      assert.strictEqual(e2._tag, "InvalidRoute")
    }))

  it.effect("options are bounded: replay and dead letters at most 100,000, a subscription's capacity and replay too; past that InvalidAgentOptions", () =>
    Effect.gen(function*() {
      for (
        const [options, path] of [[{ replay: 2 ** 32 }, "replay"], [{ deadLetters: 100_001 }, "deadLetters"]] as const
      ) {
        const e = yield* Effect.flip(Bus.make(options))
        assert.deepStrictEqual([e._tag, e.path], ["InvalidAgentOptions", path])
      }
      const bus = yield* Bus.make({ replay: 100_000, deadLetters: 100_000 })
      for (const [options, path] of [[{ capacity: 2 ** 32 }, "capacity"], [{ replay: 100_001 }, "replay"]] as const) {
        const e = yield* Effect.flip(bus.subscribe("x", options))
        assert.deepStrictEqual([e._tag, e._tag === "InvalidAgentOptions" ? e.path : ""], ["InvalidAgentOptions", path])
      }
      yield* bus.subscribe("x", { capacity: 1_000_000, replay: 100_000 })
      // the replay log grows with use, not with its bound
      yield* bus.publish(yield* sig("x"))
      assert.lengthOf(yield* bus.recent, 1)
    }).pipe(Effect.scoped))
})

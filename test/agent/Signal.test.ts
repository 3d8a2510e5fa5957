import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Signal, Uuid7 } from "../../src/agent/index.ts"

describe("Signal", () => {
  it.effect("make: CloudEvents 1.0 attributes, UUIDv7 id and RFC 3339 time from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 2, 3, 4, 5))
      const s = yield* Signal.make({ type: "order.created", source: "/shop", subject: "o-1", data: { id: 1 } })
      assert.strictEqual(s.specversion, "1.0")
      assert.isTrue(Uuid7.isUuid7(s.id))
      assert.strictEqual(Uuid7.timestampOf(s.id), Date.UTC(2026, 0, 2, 3, 4, 5))
      assert.strictEqual(s.time, "2026-01-02T03:04:05.000Z")
      assert.strictEqual(s.datacontenttype, "application/json")
      assert.deepStrictEqual(s.data, { id: 1 })
    }))

  it.effect("UUIDv7 ids are time-ordered, also within one millisecond", () =>
    Effect.gen(function*() {
      const ids: Array<string> = []
      for (let i = 0; i < 5000; i++) ids.push(yield* Uuid7.make)
      yield* TestClock.adjust("1 millis")
      ids.push(yield* Uuid7.make)
      const sorted = [...ids].sort()
      assert.deepStrictEqual(sorted, ids)
      assert.strictEqual(new Set(ids).size, ids.length)
    }))

  it.effect("bad input fails with InvalidSignal naming the field", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(Signal.make({ type: "bad type!" }))
      assert.strictEqual(e1.path, "type")
      const e2 = yield* Effect.flip(Signal.decode({ specversion: "0.3", id: "x", source: "s", type: "a.b" }))
      assert.strictEqual(e2.path, "specversion")
      const e3 = yield* Effect.flip(
        Signal.decode({ specversion: "1.0", id: "x", source: "s", type: "a..b", time: "yesterday" })
      )
      assert.include(e3.detail, "time")
      assert.include(e3.detail, "type")
    }))
})

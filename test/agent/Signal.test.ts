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

  it("time is an RFC 3339 date-time with valid field ranges (t and z in any case); an impossible one fails with InvalidSignal at time", () => {
    const at = (time: string) => Signal.decodeResult({ specversion: "1.0", id: "1", source: "/s", type: "a", time })
    for (
      const good of [
        "2024-02-29T23:59:60Z",
        "2023-12-31t00:00:00.123456z",
        "2024-06-30T12:00:00+14:00",
        "1999-01-01T00:00:00-00:30"
      ]
    ) {
      assert.strictEqual(at(good)._tag, "Success", good)
    }
    for (
      const bad of [
        "2024-13-45T99:99:99Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:61Z",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01 00:00:00Z"
      ]
    ) {
      const r = at(bad)
      assert.strictEqual(r._tag, "Failure", bad)
      if (r._tag === "Failure") assert.deepStrictEqual([r.failure._tag, r.failure.path], ["InvalidSignal", "time"])
    }
  })

  it("a type is bounded: at most 1,024 characters and 128 segments, else InvalidSignal at type", () => {
    const of = (type: string) => Signal.decodeResult({ specversion: "1.0", id: "1", source: "/s", type })
    const segments = (n: number) => Array.from({ length: n }, () => "a").join(".")
    assert.strictEqual(of(segments(128))._tag, "Success")
    assert.strictEqual(of("a".repeat(1_024))._tag, "Success")
    for (const bad of [segments(129), "a".repeat(1_025), Array.from({ length: 3_000 }, () => "error").join(".")]) {
      const r = of(bad)
      assert.strictEqual(r._tag, "Failure")
      if (r._tag === "Failure") {
        assert.deepStrictEqual([r.failure._tag, r.failure.path], ["InvalidSignal", "type"])
        assert.isBelow(r.failure.detail.length, 1_000)
      }
    }
  })
})

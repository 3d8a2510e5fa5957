/**
 * The frames of `/admin/events` (`ObserverStream.frame`): a frame's data is always JSON, whatever a hub event's
 * metadata holds; data that cannot be rendered drops that one frame.
 */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { frame, jsonSafe } from "../../../src/gateway/internal/ObserverStream.ts"

const dataOf = (bytes: Uint8Array | undefined) => {
  const text = new TextDecoder().decode(bytes)
  return JSON.parse(/^data: (.*)$/m.exec(text)![1]!)
}

describe("ObserverStream: a frame's data is always JSON", () => {
  it("a Redacted is \"<redacted>\", a bigint its decimal string, a cycle \"[Circular]\"; a shared object is kept", () => {
    const shared = { n: 1 }
    const cyclic: Record<string, unknown> = { name: "loop" }
    cyclic["self"] = cyclic
    const data = {
      key: Redacted.make("sk-secret"),
      id: 12345678901234567890n,
      cyclic,
      pair: [shared, shared],
      at: new Date(0)
    }
    expect(dataOf(frame("telemetry", data))).toEqual({
      key: "<redacted>",
      id: "12345678901234567890",
      cyclic: { name: "loop", self: "[Circular]" },
      pair: [{ n: 1 }, { n: 1 }],
      at: "1970-01-01T00:00:00.000Z"
    })
    expect(jsonSafe([1n, [2n]])).toEqual(["1", ["2"]])
  })

  it("data that still cannot be rendered (a throwing getter, a throwing toJSON) drops that one frame", () => {
    const getter = Object.defineProperty({}, "boom", {
      enumerable: true,
      get: () => {
        throw new Error("boom")
      }
    })
    expect(frame("telemetry", { getter })).toBeUndefined()
    expect(frame("telemetry", {
      toJSON: () => {
        throw new Error("boom")
      }
    })).toBeUndefined()
    expect(dataOf(frame("telemetry", { ok: true }))).toEqual({ ok: true })
  })
})

import { assert, describe, it } from "@effect/vitest"
import { renderUnknown, UNRENDERABLE } from "../../../src/telemetry/internal/Render.ts"

describe("renderUnknown", () => {
  it("is total: a value with no string form renders as [object Object], a revoked Proxy as UNRENDERABLE", () => {
    assert.strictEqual(renderUnknown("x"), "x")
    assert.strictEqual(renderUnknown(Object.create(null)), "[object Object]")
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    assert.strictEqual(renderUnknown(proxy), UNRENDERABLE)
  })
})

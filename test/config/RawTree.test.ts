import { assert, describe, it } from "@effect/vitest"
import { Duration, Redacted } from "effect"
import { diffPaths, mergeAll, overlay, parsePath, removeAt, setAt } from "../../src/config/RawTree.ts"

describe("raw configuration trees", () => {
  it("deep-merges layers; scalars replace; null in a higher layer deletes", () => {
    const merged = mergeAll([
      { a: { x: 1, y: 2 }, b: [1, 2], c: "keep" },
      { a: { y: 3 }, b: [9] },
      { a: { x: null }, d: { e: null, f: 1 } }
    ])
    assert.deepStrictEqual(merged, { a: { y: 3 }, b: [9], c: "keep", d: { f: 1 } })
  })

  it("overlay keeps null markers for the final merge; setAt/removeAt are immutable", () => {
    const runtime = overlay({ a: { x: 1 } }, { a: { x: null, y: 2 } })
    assert.deepStrictEqual(runtime, { a: { x: null, y: 2 } })
    const base = { a: { b: 1 } }
    assert.deepStrictEqual(setAt(base, parsePath("a.c.d"), 2), { a: { b: 1, c: { d: 2 } } })
    assert.deepStrictEqual(removeAt(base, ["a", "b"]), { a: {} })
    assert.deepStrictEqual(base, { a: { b: 1 } })
  })

  it("diffs leaf paths, comparing Redacted and Duration values by value", () => {
    const before = { k: Redacted.make("s1"), d: Duration.seconds(1), n: { x: 1, y: [1, 2] } }
    const same = { k: Redacted.make("s1"), d: Duration.millis(1000), n: { x: 1, y: [1, 2] } }
    assert.deepStrictEqual(diffPaths(before, same), [])
    const after = { k: Redacted.make("s2"), d: Duration.seconds(2), n: { y: [1, 3], z: true } }
    assert.deepStrictEqual(diffPaths(before, after), ["d", "k", "n.x", "n.y", "n.z"])
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { Router } from "../../src/agent/index.ts"

/** The reference matcher: one pattern against one type, segment by segment (`*` one, `**` any number). */
const naiveMatch = (pattern: ReadonlyArray<string>, type: ReadonlyArray<string>, p = 0, t = 0): boolean => {
  if (p === pattern.length) return t === type.length
  const head = pattern[p]
  if (head === "**") {
    for (let k = t; k <= type.length; k++) if (naiveMatch(pattern, type, p + 1, k)) return true
    return false
  }
  if (t === type.length) return false
  return (head === "*" || head === type[t]) && naiveMatch(pattern, type, p + 1, t + 1)
}

/** The reference router: every route tested on its own, highest priority first, ties in registration order. */
const naiveRoute = (
  routes: ReadonlyArray<{ readonly pattern: string; readonly priority: number }>,
  type: string
): ReadonlyArray<number> =>
  routes
    .map((route, id) => ({ ...route, id }))
    .filter((route) => naiveMatch(route.pattern.split("."), type.split(".")))
    .sort((a, b) => b.priority - a.priority || a.id - b.id)
    .map((route) => route.id)

const segment = fc.constantFrom("a", "b", "c")
const patternSegment = fc.constantFrom("a", "b", "c", "*", "**", "**")
const dotted = (arb: fc.Arbitrary<string>, max: number) =>
  fc.array(arb, { minLength: 1, maxLength: max }).map((xs) => xs.join("."))

describe("Router", () => {
  it("exact, * (one segment) and ** (any number, including zero)", () => {
    const r = Router.make<string>()
    Router.add(r, "user.created", "exact")
    Router.add(r, "user.*", "star")
    Router.add(r, "user.**", "globstar")
    Router.add(r, "**", "all")
    Router.add(r, "*.created", "any-created")
    Router.add(r, "user.**.done", "deep-done")
    assert.deepStrictEqual([...Router.route(r, "user.created")].sort(), [
      "all",
      "any-created",
      "exact",
      "globstar",
      "star"
    ])
    assert.deepStrictEqual([...Router.route(r, "user")].sort(), ["all", "globstar"])
    assert.deepStrictEqual([...Router.route(r, "user.a.b")].sort(), ["all", "globstar"])
    assert.deepStrictEqual([...Router.route(r, "user.done")].sort(), ["all", "deep-done", "globstar", "star"])
    assert.deepStrictEqual([...Router.route(r, "user.x.y.done")].sort(), ["all", "deep-done", "globstar"])
    assert.deepStrictEqual(Router.route(r, "order.paid"), ["all"])
  })

  it("several handlers per pattern: higher priority first, ties in registration order", () => {
    const r = Router.make<string>()
    Router.add(r, "a.b", "low", { priority: -10 })
    Router.add(r, "a.*", "first0")
    Router.add(r, "a.b", "high", { priority: 50 })
    Router.add(r, "a.**", "second0")
    Router.add(r, "a.b", "third0")
    assert.deepStrictEqual(Router.route(r, "a.b"), ["high", "first0", "second0", "third0", "low"])
  })

  it("a pattern that could match twice through ** yields its handler once; remove works", () => {
    const r = Router.make<string>()
    const id = Router.add(r, "a.**.**", "x")
    assert.deepStrictEqual(Router.route(r, "a.b.c"), ["x"])
    assert.isTrue(Result.isSuccess(id))
    if (Result.isSuccess(id)) Router.remove(r, id.success)
    assert.deepStrictEqual(Router.route(r, "a.b.c"), [])
    assert.strictEqual(Router.size(r), 0)
  })

  it("the trie walk returns what the reference matcher returns, route by route (property test)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ pattern: dotted(patternSegment, 6), priority: fc.integer({ min: -2, max: 2 }) }), {
          minLength: 1,
          maxLength: 8
        }),
        fc.array(dotted(segment, 10), { minLength: 1, maxLength: 5 }),
        (routes, types) => {
          const router = Router.make<number>()
          for (const [id, route] of routes.entries()) {
            Router.add(router, route.pattern, id, { priority: route.priority })
          }
          for (const type of types) assert.deepStrictEqual(Router.route(router, type), naiveRoute(routes, type), type)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("matching costs at most trie nodes times type depth: globstars on a 3,000-segment type route in milliseconds", () => {
    const router = Router.make<string>()
    Router.add(router, "**.error.**.failed.**", "h")
    Router.add(router, "**.**.**.**", "all")
    const type = Array.from({ length: 3_000 }, (_, i) => (i % 2 ? "failed" : "error")).join(".")
    const t0 = performance.now()
    const found = Router.route(router, type)
    const ms = performance.now() - t0
    assert.deepStrictEqual(found, ["h", "all"])
    // each (trie node, segment index) pair is visited once: about 10 nodes x 3,001 indices
    assert.isBelow(ms, 250, `Router.route took ${ms.toFixed(0)} ms`)
  })

  it("bad patterns are typed errors", () => {
    for (const bad of ["", "a..b", "a.b*", "a.**x", "a b"]) {
      const result = Router.add(Router.make<string>(), bad, "x")
      assert.isTrue(Result.isFailure(result), bad)
      if (Result.isFailure(result)) assert.strictEqual(result.failure._tag, "InvalidRoute")
    }
  })
})

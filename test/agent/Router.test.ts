import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { Router } from "../../src/agent/index.ts"

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

  it("bad patterns are typed errors", () => {
    for (const bad of ["", "a..b", "a.b*", "a.**x", "a b"]) {
      const result = Router.add(Router.make<string>(), bad, "x")
      assert.isTrue(Result.isFailure(result), bad)
      if (Result.isFailure(result)) assert.strictEqual(result.failure._tag, "InvalidRoute")
    }
  })
})

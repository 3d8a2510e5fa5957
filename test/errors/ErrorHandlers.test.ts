/** ErrorHandlers: a handler never changes the caller's outcome, whatever it returns; its options are decoded. */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { type ErrorHandler, ErrorHandlers, handled } from "../../src/errors/index.ts"

const blocked = { _tag: "GuardBlocked", message: "blocked" } as const

describe("ErrorHandlers rules", () => {
  it.effect("a handler that returns no Effect (a plain callback) or throws never changes the caller's outcome, and the handlers after it still run", () =>
    Effect.gen(function*() {
      const h = yield* ErrorHandlers
      const ran: Array<string> = []
      // the casts are the point of the test: JavaScript callers, whose handlers the type system does not check
      const plain = ((_e: unknown) => {
        ran.push("plain")
      }) as unknown as ErrorHandler
      const returnsValue = (() => 42) as unknown as ErrorHandler
      yield* h.register("plain", { recovery: "reject" }, plain)
      yield* h.register("value", { recovery: "reject" }, returnsValue)
      yield* h.register("throws", { recovery: "reject" }, () => {
        throw new Error("boom")
      })
      yield* h.register("last", { recovery: "reject" }, () => Effect.sync(() => void ran.push("last")))
      const exit = yield* Effect.exit(Effect.fail(blocked).pipe(handled()))
      assert.deepStrictEqual(exit, Exit.fail(blocked))
      assert.deepStrictEqual(ran, ["plain", "last"])
      yield* h.handle(blocked)
      assert.deepStrictEqual(ran, ["plain", "last", "plain", "last"])
    }).pipe(Effect.provide(ErrorHandlers.layer())))

  it.effect("maxHandlers is an integer from 1 to 10,000: another value fails the layer with InvalidOptions naming maxHandlers", () =>
    Effect.gen(function*() {
      for (const maxHandlers of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, 10_001]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(ErrorHandlers.layer({ maxHandlers }))))
        assert.strictEqual(error._tag, "InvalidOptions", String(maxHandlers))
        assert.strictEqual(error.path, "maxHandlers", String(maxHandlers))
      }
      const h = Context.get(yield* Effect.scoped(Layer.build(ErrorHandlers.layer({ maxHandlers: 1 }))), ErrorHandlers)
      assert.isTrue(yield* h.register("a", { recovery: "alert" }, () => Effect.void))
      assert.isFalse(yield* h.register("b", { recovery: "alert" }, () => Effect.void))
    }))
})

/**
 * The runtime's untrusted options, decoded at each entry point: a malformed `Actor.call` or `Actor.stop` option
 * (a timeout that is not a duration, an unknown `onTimeout`) fails with `InvalidOptions` naming its path, never
 * with a defect in the caller, and the actor is not disturbed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as fc from "fast-check"
import { Actor, Behaviour } from "../../../src/runtime/index.ts"
import { CallOptions, checkCallOptions } from "../../../src/runtime/internal/Options.ts"

const Echo = Behaviour.make<{ readonly call: "ping"; readonly reply: string }>()({
  init: () => Behaviour.ok(0),
  handleCall: (_request, _from, s) => Behaviour.reply("pong", s)
})

/** The `path` of the `InvalidOptions` an exit failed with, or what it ended with instead. */
const invalidPath = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly path?: string }>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
  return error === undefined
    ? "defect"
    : error._tag === "InvalidOptions"
    ? `InvalidOptions at ${error.path}`
    : error._tag
}

/** Options as an untyped caller may pass them. */
const untyped = (options: unknown): Actor.CallOptions =>
  // deliberately malformed input, as from JavaScript or decoded JSON
  options as Actor.CallOptions

describe("Options (untrusted options fail with InvalidOptions)", () => {
  it("checkCallOptions accepts exactly what the CallOptions Schema accepts (property test against the reference)", () => {
    const isCallOptions = Schema.is(CallOptions)
    const field = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom("continue", "interrupt", "infinity", "5 seconds", "100 millis", "soon", ""),
      fc.double(),
      fc.integer(),
      fc.constant(Infinity),
      fc.anything()
    )
    const options = fc.oneof(
      fc.record({ timeout: field, onTimeout: field }, { requiredKeys: [] }),
      fc.dictionary(fc.string(), field),
      fc.array(field),
      fc.anything()
    )
    fc.assert(
      fc.property(options, (o) => {
        assert.strictEqual(checkCallOptions(o) === undefined, isCallOptions(o))
      }),
      { numRuns: 2_000 }
    )
  })

  it.effect("Actor.call with a malformed option fails with InvalidOptions naming it, and the actor goes on", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(Echo, undefined)
      for (
        const [options, path] of [
          [{ timeout: "soon" }, "timeout"],
          [{ timeout: -1 }, "timeout"],
          [{ timeout: Number.NaN }, "timeout"],
          [{ onTimeout: "abort" }, "onTimeout"]
        ] as const
      ) {
        assert.strictEqual(
          invalidPath(yield* Effect.exit(Actor.call(ref, "ping", untyped(options)))),
          `InvalidOptions at ${path}`
        )
      }
      for (const timeout of [0, 1000, "5 seconds", "infinity", Number.POSITIVE_INFINITY] as const) {
        assert.strictEqual(yield* Actor.call(ref, "ping", { timeout }), "pong")
      }
      yield* Actor.stop(ref)
    }))

  it.effect("Actor.stop with a malformed timeout fails with InvalidOptions naming it, and the actor keeps running", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(Echo, undefined)
      // deliberately malformed input, as from JavaScript or decoded JSON
      const exit = yield* Effect.exit(Actor.stop(ref, undefined, "soon" as unknown as number))
      assert.strictEqual(invalidPath(exit), "InvalidOptions at timeout")
      assert.isTrue(Actor.isAlive(ref))
      yield* Actor.stop(ref)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { inline, inline2 } from "../../src/internal/InlineEffect.ts"

/** What the operation answers: at once (an Exit), or through the fiber (a suspended or async Effect). */
const outcome = fc.oneof(
  fc.record({ kind: fc.constant("succeed" as const), value: fc.integer() }),
  fc.record({ kind: fc.constant("fail" as const), value: fc.integer() }),
  fc.record({ kind: fc.constant("sync" as const), value: fc.integer() }),
  fc.record({ kind: fc.constant("async" as const), value: fc.integer() })
)
type Outcome = typeof outcome extends fc.Arbitrary<infer T> ? T : never

const effectOf = (o: Outcome, extra: number): Effect.Effect<number, number> => {
  switch (o.kind) {
    case "succeed":
      return Exit.succeed(o.value + extra)
    case "fail":
      return Exit.fail(o.value + extra)
    case "sync":
      return Effect.sync(() => o.value + extra)
    case "async":
      return Effect.callback<number>((resume) => void setImmediate(() => resume(Effect.succeed(o.value + extra))))
  }
}

describe("InlineEffect: the synchronous-completion shortcut", () => {
  it("inline and inline2 under yield* and run as Effects answer exactly what Effect.suspend does (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(outcome, fc.integer({ min: -5, max: 5 })), { maxLength: 8 }), async (ops) => {
        let calls = 0
        const op1 = (o: Outcome) => {
          calls++
          return effectOf(o, 0)
        }
        const op2 = (o: Outcome, extra: number) => {
          calls++
          return effectOf(o, extra)
        }
        const program = (one: typeof op1, two: typeof op2, mk: "inline" | "suspend") =>
          Effect.gen(function*() {
            const out: Array<number> = []
            for (const [o, extra] of ops) {
              const a = mk === "inline" ? inline(one, o) : Effect.suspend(() => one(o))
              const b = mk === "inline" ? inline2(two, o, extra) : Effect.suspend(() => two(o, extra))
              out.push(yield* Effect.orElseSucceed(a, () => -1))
              out.push(yield* Effect.orElseSucceed(b, () => -2))
              // run through a combinator (not `yield*`): evaluated by the fiber like `suspend`
              out.push(yield* Effect.orElseSucceed(Effect.map(b, (n) => n * 2), () => -3))
            }
            return out
          })
        calls = 0
        const viaInline = await Effect.runPromise(program(op1, op2, "inline"))
        const inlineCalls = calls
        calls = 0
        const viaSuspend = await Effect.runPromise(program(op1, op2, "suspend"))
        expect(viaInline).toStrictEqual(viaSuspend)
        expect(inlineCalls).toBe(calls) // lazy and re-run per evaluation, as suspend
      }),
      { numRuns: 300 }
    )
  })
})

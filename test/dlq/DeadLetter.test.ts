import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { decodeFilter, describeError, MAX_INPUT_CHARS, sanitizeInput } from "../../src/dlq/index.ts"

describe("DeadLetter", () => {
  it("fuzz: sanitizeInput of any value is JSON, bounded, and never keeps an API key", () => {
    const key = "sk-live-abcdefghijklmnopqrstuvwxyz123456"
    fc.assert(
      fc.property(fc.anything(), fc.string(), (value, text) => {
        const out = JSON.stringify(sanitizeInput({ value, note: `${text} ${key}` }))
        assert.isString(out)
        assert.isAtMost(out.length, MAX_INPUT_CHARS + 64)
        assert.strictEqual(out.includes(key), false)
      }),
      { numRuns: 300 }
    )
  })

  it("fuzz: describeError of any value is a bounded tag and message", () => {
    fc.assert(
      fc.property(fc.anything(), (e) => {
        const d = describeError(e)
        assert.isAtMost(d.message.length, 2000)
        assert.isAtMost(d.tag.length, 200)
      }),
      { numRuns: 300 }
    )
  })

  it.effect("fuzz: decodeFilter accepts or rejects any value with a typed error, never throws", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(fc.anything(), (v) => {
          const exit = Effect.runSyncExit(decodeFilter(v))
          assert.isTrue(Exit.isSuccess(exit) || Exit.isFailure(exit))
        }),
        { numRuns: 300 }
      )
    ))
})

import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { assert } from "vitest"
import {
  checkSafety,
  detectInjection,
  detectPii,
  detectSecrets,
  Guard,
  maskSecrets,
  sanitize
} from "../../src/guard/index.ts"

/** Adversarial inputs: long repeats of regex-hostile fragments (nested-quantifier triggers), mixed with noise. */
const hostile = fc.oneof(
  fc.constantFrom(
    "a",
    "1",
    " ",
    "-",
    ".",
    ":",
    "@",
    "=",
    "\\n",
    "\\ ",
    "ignore ",
    "all ",
    "previous ",
    "eyJ",
    "sk-",
    "xoxb-1-",
    "AKIA",
    "0000 ",
    "1.",
    "::",
    "ff:",
    "aaaa@",
    "a.a.",
    "![",
    "](",
    "http://a?",
    "<img ",
    "-----BEGIN ",
    "key=",
    "\u200B",
    "\u{E0041}",
    "ı",
    "ѕ",
    "(",
    ")",
    "+1 ",
    "DE89",
    "to kill ",
    "you will need ",
    "system: "
  ),
  fc.string({ maxLength: 8 })
)
const adversarial = fc.tuple(
  fc.array(hostile, { maxLength: 20 }),
  fc.integer({ min: 1, max: 2_000 }),
  fc.string({ maxLength: 40 })
)
  .map(([parts, repeat, tail]) => (parts.join("").repeat(repeat) + tail).slice(0, 20_000))

const bounded = (label: string, f: () => unknown, text: string, maxMillis: number) => {
  const start = performance.now()
  f()
  const took = performance.now() - start
  assert.isBelow(
    took,
    maxMillis,
    `${label} took ${took.toFixed(1)} ms on ${text.length} chars (${JSON.stringify(text.slice(0, 60))}…)`
  )
}

describe("guard scanners under adversarial input (no catastrophic backtracking)", () => {
  it("every scan of up to 20,000 characters finishes within the bound and never throws", () => {
    // bound: 250 ms per scan of 20 KB on a loaded 2-core machine; a catastrophic regex takes seconds or hangs
    fc.assert(
      fc.property(adversarial, (text) => {
        bounded("sanitize", () => sanitize(text), text, 250)
        bounded("injection", () => detectInjection(text), text, 250)
        bounded("injection/document", () => detectInjection(text, { channel: "document" }), text, 250)
        bounded("pii", () => detectPii(text), text, 250)
        bounded("secrets", () => detectSecrets(text), text, 250)
        bounded("mask", () => maskSecrets(text), text, 250)
        bounded("content", () => checkSafety(text), text, 250)
      }),
      { numRuns: 60, seed: 14 }
    )
  })
  it("known worst cases (50,000-character runs of one class, then a mismatch) finish within the bound", () => {
    const runs = [
      "a",
      "1",
      "a1",
      "a-",
      "1 ",
      "a.",
      "a@",
      "=",
      ":",
      "f:",
      "\\ n",
      "A",
      "eyJa.",
      "x",
      "_",
      "sk-a",
      " ignore"
    ]
    for (const unit of runs) {
      const text = unit.repeat(Math.ceil(50_000 / unit.length)) + "!\u0000"
      for (
        const [label, f] of [
          ["injection", () => detectInjection(text, { channel: "document" })],
          ["pii", () => detectPii(text)],
          ["secrets", () => detectSecrets(text)],
          ["content", () => checkSafety(text)]
        ] as const
      ) bounded(`${label} on ${JSON.stringify(unit)}×`, f, text, 1_500)
    }
  })
  it.effect("Guard.check fails only with GuardBlocked (never a defect) on arbitrary input", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      const samples = fc.sample(
        fc.oneof(adversarial, fc.string({ maxLength: 500 }), fc.string({ unit: "binary", maxLength: 200 })),
        { numRuns: 80, seed: 7 }
      )
      for (const text of samples) {
        for (const stage of ["input", "document", "output"] as const) {
          const exit = yield* Effect.exit(guard.check(text, stage))
          if (exit._tag === "Failure") {
            const error = exit.cause.reasons[0]
            assert.strictEqual(error?._tag, "Fail")
          }
        }
      }
    }))
})

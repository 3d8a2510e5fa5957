/**
 * The issue's targets for the heuristic layer, measured with the labelled development sets' own scorer
 * (../shared/eval/guardrails/score.mjs, via bench/guard-eval.ts; the rows are read there, never copied here).
 * Without the sets the suite is skipped with a message, except under CI=true, where that is a failure.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { evalDir, evaluate } from "../../bench/guard-eval.ts"

const present = fs.existsSync(path.join(evalDir, "score.mjs"))
if (!present && process.env.CI === "true") throw new Error(`guardrail evaluation sets not found at ${evalDir}`)
if (!present) console.warn(`skipping the guardrail evaluation: no sets at ${evalDir}`)

/** A number at `path` of score.mjs's JSON output (NaN when absent, which fails the assertion). */
const at = (json: unknown, ...path: ReadonlyArray<string>): number => {
  let node = json
  for (const key of path) {
    node = typeof node === "object" && node !== null
      ? (node as Record<string, unknown>)[key]
      : undefined
  }
  return typeof node === "number" ? node : Number.NaN
}

describe.skipIf(!present)("guardrail evaluation (heuristic layer, score.mjs)", () => {
  it("injection: precision ≥ 0.95 with recall ≥ 0.80", () => {
    const r = evaluate("injection").result
    assert.isAtLeast(at(r, "overall", "precision"), 0.95)
    assert.isAtLeast(at(r, "overall", "recall"), 0.8)
  })
  it("PII: per-entity recall ≥ 0.95 with precision ≥ 0.98 for the checksum-validated types", () => {
    const r = evaluate("pii").result
    for (const type of ["CREDIT_CARD", "IBAN"]) {
      assert.isAtLeast(at(r, "per_type", type, "overlap", "recall"), 0.95, type)
      assert.isAtLeast(at(r, "per_type", type, "overlap", "precision"), 0.98, type)
    }
  })
  it("secrets: recall ≥ 0.98, and no secret survives masking", () => {
    const r = evaluate("secrets").result
    assert.isAtLeast(at(r, "overall", "recall"), 0.98)
    assert.strictEqual(at(r, "masking", "leaked"), 0)
  })
  it("content: false-positive rate on the safe texts ≤ 2%", () => {
    const r = evaluate("content").result
    assert.isAtMost(at(r, "overall", "false_positive_rate"), 0.02)
  })
})

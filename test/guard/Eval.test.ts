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

// figures are read from score.mjs's JSON output
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe.skipIf(!present)("guardrail evaluation (heuristic layer, score.mjs)", () => {
  it("injection: precision ≥ 0.95 with recall ≥ 0.80", () => {
    const r = evaluate("injection").result as Json
    assert.isAtLeast(r.overall.precision, 0.95)
    assert.isAtLeast(r.overall.recall, 0.8)
  })
  it("PII: per-entity recall ≥ 0.95 with precision ≥ 0.98 for the checksum-validated types", () => {
    const r = evaluate("pii").result as Json
    for (const type of ["CREDIT_CARD", "IBAN"]) {
      assert.isAtLeast(r.per_type[type].overlap.recall, 0.95, type)
      assert.isAtLeast(r.per_type[type].overlap.precision, 0.98, type)
    }
  })
  it("secrets: recall ≥ 0.98, and no secret survives masking", () => {
    const r = evaluate("secrets").result as Json
    assert.isAtLeast(r.overall.recall, 0.98)
    assert.strictEqual(r.masking.leaked, 0)
  })
  it("content: false-positive rate on the safe texts ≤ 2%", () => {
    const r = evaluate("content").result as Json
    assert.isAtMost(r.overall.false_positive_rate, 0.02)
  })
})

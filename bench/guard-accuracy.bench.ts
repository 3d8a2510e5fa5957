/**
 * Guardrail accuracy rows in `bench/results.json`: each scanner's heuristic layer run on every row of the labelled
 * development sets (`../shared/eval/guardrails`, through `bench/guard-eval.ts` and the set's own `score.mjs`).
 * `median` holds the figure itself (unit `score`, 0..1); the target is in the note. Without the data set the
 * file yields no rows (and says so on stderr).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { evalDir, evaluate } from "./guard-eval.ts"
import type { BenchRow } from "./harness.ts"

type Scores = Record<string, number>

const row = (id: string, value: number | undefined, note: string): ReadonlyArray<BenchRow> =>
  value === undefined ? [] : [{ id, unit: "score", median: value, note }]

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  if (!fs.existsSync(path.join(evalDir, "injection.jsonl"))) {
    process.stderr.write(`  guard accuracy: no data set at ${evalDir}; no rows\n`)
    return []
  }
  const injection = evaluate("injection").result
  const secrets = evaluate("secrets").result
  const content = evaluate("content").result
  const pii = evaluate("pii").result
  const overall = (r: Record<string, unknown>) => (r["overall"] ?? {}) as Scores
  const perType = (pii["per_type"] ?? {}) as Record<string, { readonly overlap?: Scores }>
  const rows: Array<BenchRow> = [
    ...row("guard.eval.injection.precision", overall(injection)["precision"], "development split; target ≥ 0.95"),
    ...row("guard.eval.injection.recall", overall(injection)["recall"], "development split; target ≥ 0.80"),
    ...row("guard.eval.injection.f1", overall(injection)["f1"], "development split"),
    ...row(
      "guard.eval.injection.fpr-hard-negatives",
      (injection["false_positive_rate_hard_negatives"] as Scores | undefined)?.["fpr"],
      "107 benign prompts with trigger words, role-play, other languages"
    ),
    ...row("guard.eval.secrets.recall", overall(secrets)["recall"], "target ≥ 0.98"),
    ...row("guard.eval.secrets.precision", overall(secrets)["precision"], ""),
    ...row("guard.eval.content.recall", overall(content)["recall"], ""),
    ...row(
      "guard.eval.content.fpr-benign",
      overall(content)["false_positive_rate"],
      "safe news/medical/history texts; target ≤ 0.02"
    )
  ]
  for (const type of ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS"]) {
    const o = perType[type]?.overlap
    rows.push(
      ...row(`guard.eval.pii.${type.toLowerCase()}.recall`, o?.["recall"], "span overlap; checksum types target ≥ 0.95")
    )
    rows.push(
      ...row(
        `guard.eval.pii.${type.toLowerCase()}.precision`,
        o?.["precision"],
        "span overlap; checksum types target ≥ 0.98"
      )
    )
  }
  return rows
}

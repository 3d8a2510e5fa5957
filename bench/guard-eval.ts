/**
 * The guardrail evaluation runner: runs each scanner's heuristic layer on every row of the labelled development sets
 * in `../shared/eval/guardrails` (override with `GUARD_EVAL_DIR`), writes one prediction per row to a temporary
 * directory, and runs the set's own `score.mjs` on it. Prints the headline figures (and, with `--json`, every
 * figure). The rows are read at run time and never copied into the repository.
 *
 *   node bench/guard-eval.ts [--json] [--misses]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkSafety } from "../src/guard/ContentFilter.ts"
import { detectInjection } from "../src/guard/InjectionDetector.ts"
import { detectPii } from "../src/guard/PiiDetector.ts"
import { detectSecrets, maskSecrets } from "../src/guard/SecretDetector.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
export const evalDir = process.env.GUARD_EVAL_DIR ?? path.resolve(here, "../../shared/eval/guardrails")

interface Row {
  readonly id: string
  readonly text: string
  readonly label?: string
  readonly channel?: "user" | "document"
  readonly doubtful?: boolean
  readonly category?: string
}

const read = (task: string): Array<Row> =>
  fs.readFileSync(path.join(evalDir, `${task}.jsonl`), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as Row
  )

/** The prediction of each scanner for one row (the format score.mjs reads). */
export const predict = {
  injection: (row: Row) => {
    const v = detectInjection(row.text, { channel: row.channel ?? "user" })
    return { id: row.id, flagged: v.flagged, score: v.score, rules: v.findings.map((f) => f.rule) }
  },
  pii: (row: Row) => ({
    id: row.id,
    entities: detectPii(row.text).map((e) => ({ type: e.type, start: e.start, end: e.end }))
  }),
  secrets: (row: Row) => {
    const found = detectSecrets(row.text)
    return {
      id: row.id,
      flagged: found.length > 0,
      secrets: found.map((s) => ({ type: s.type, start: s.start, end: s.end })),
      masked: maskSecrets(row.text)
    }
  },
  content: (row: Row) => {
    const v = checkSafety(row.text)
    return { id: row.id, flagged: v.flagged, score: v.score, categories: v.categories }
  }
} as const

export type Task = keyof typeof predict

/** Runs one task: predictions → score.mjs → its JSON result. */
export const evaluate = (
  task: Task
): {
  readonly result: Record<string, unknown>
  readonly rows: Array<Row>
  readonly predictions: Array<Record<string, unknown>>
} => {
  const rows = read(task)
  const predictions = rows.map((row) => predict[task](row) as Record<string, unknown>)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guard-eval-"))
  const file = path.join(dir, `${task}.jsonl`)
  fs.writeFileSync(file, predictions.map((p) => JSON.stringify(p)).join("\n") + "\n")
  const out = execFileSync(process.execPath, [path.join(evalDir, "score.mjs"), task, file, "--json"], {
    encoding: "utf8"
  })
  fs.rmSync(dir, { recursive: true, force: true })
  return { result: JSON.parse(out) as Record<string, unknown>, rows, predictions }
}

const main = () => {
  const json = process.argv.includes("--json")
  const misses = process.argv.includes("--misses")
  const only = process.argv.find((a) => a in predict) as Task | undefined
  const all: Record<string, unknown> = {}
  for (const task of (only !== undefined ? [only] : Object.keys(predict)) as Array<Task>) {
    const { result, rows, predictions } = evaluate(task)
    all[task] = result
    if (!json) {
      console.log(`== ${task}`)
      if (task === "pii") {
        const perType = (result["per_type"] ?? {}) as Record<string, Record<string, Record<string, unknown>>>
        for (const [t, v] of Object.entries(perType)) {
          console.log(
            `  ${t.padEnd(12)} exact P=${v["exact"]?.["precision"]} R=${v["exact"]?.["recall"]}  overlap P=${
              v["overlap"]?.["precision"]
            } R=${v["overlap"]?.["recall"]} F1=${v["overlap"]?.["f1"]}`
          )
        }
        console.log(
          `  core micro overlap`,
          JSON.stringify((result["core_micro"] as Record<string, unknown> | undefined)?.["overlap"]),
          `lookalike clean`,
          JSON.stringify(result["lookalike_rows_without_false_alarm"])
        )
      } else {
        console.log(`  overall`, JSON.stringify(result["overall"]))
        for (const k of Object.keys(result)) {
          if (
            k.startsWith("recall_by") || k.startsWith("false_positive_rate_by") ||
            ["false_positive_rate_hard_negatives", "by_channel", "masking", "paired_documents"].includes(k)
          ) console.log(`  ${k}`, JSON.stringify(result[k]))
        }
      }
    }
    if (misses && task !== "pii") {
      rows.forEach((row, i) => {
        const p = predictions[i] ?? {}
        const pos = row.label === "injection" || row.label === "unsafe" || row.label === "secret"
        if (pos !== p["flagged"]) {
          console.log(
            `  ${pos ? "MISS" : "FP  "} ${row.doubtful === true ? "D" : " "} ${row.category} ${
              JSON.stringify(row.text.slice(0, 140))
            } ${JSON.stringify(p["rules"] ?? p["categories"] ?? "")}`
          )
        }
      })
    }
  }
  if (json) console.log(JSON.stringify(all, null, 1))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main()

/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those whose name contains one of the arguments) in one
 * process, computes each row's `ratio` against the `baseline` row measured in the same run, writes
 * `bench/results.json`, and prints the table as Markdown for the README.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { BenchResults, BenchRow, RefreshedRun } from "./harness.ts"

const here = dirname(fileURLToPath(import.meta.url))

if ((globalThis as { gc?: unknown }).gc === undefined) {
  // Re-exec with --expose-gc so memory rows can force collections.
  execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit"
  })
  process.exit(0)
}

const filters = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()

const rows: Array<BenchRow> = []
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`)
  const mod = (await import(pathToFileURL(join(here, file)).href)) as {
    default: () => Promise<ReadonlyArray<BenchRow>>
  }
  for (const row of await mod.default()) {
    rows.push(row)
    process.stderr.write(`  ${row.id}: ${row.median} ${row.unit}${row.p99 !== undefined ? ` (p99 ${row.p99})` : ""}\n`)
  }
}

const byId = new Map(rows.map((r) => [r.id, r]))
const results = rows.map((row): BenchRow => {
  if (row.baseline === undefined) return row
  const base = byId.get(row.baseline)
  if (base === undefined) throw new Error(`row ${row.id} names baseline ${row.baseline}, which was not measured`)
  return { ...row, ratio: Math.round((row.median / base.median) * 1000) / 1000 }
})

const effectVersion = (JSON.parse(readFileSync(join(here, "..", "node_modules", "effect", "package.json"), "utf8")) as {
  version: string
}).version
const outFile = join(here, "results.json")
let merged: ReadonlyArray<BenchRow> = results
/** Filtered runs since the last full run: which bench files they re-measured, and when (shown in the README). */
let refreshed: ReadonlyArray<RefreshedRun> = []
if (filters.length > 0) {
  // A filtered run refreshes its own rows and keeps the others from the last full run.
  try {
    const previous = JSON.parse(readFileSync(outFile, "utf8")) as BenchResults
    const fresh = new Set(results.map((r) => r.id))
    merged = [...previous.results.filter((r) => !fresh.has(r.id)), ...results]
    const names = files.map((f) => f.replace(/\.bench\.ts$/, ""))
    // an earlier refresh keeps only the files this run did not re-measure again
    const earlier = (previous.refreshed ?? [])
      .map((run) => ({ ...run, files: run.files.filter((f) => !names.includes(f)) }))
      .filter((run) => run.files.length > 0)
    refreshed = [...earlier, { files: names, at: new Date().toISOString().slice(0, 10) }]
  } catch {
    merged = results
  }
}
const output: BenchResults = {
  node: process.version,
  effect: effectVersion,
  ...(refreshed.length > 0 ? { refreshed } : {}),
  results: merged
}
writeFileSync(outFile, JSON.stringify(output, null, 2) + "\n")

const fmt = (n: number | undefined) => (n === undefined ? "" : n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2))
console.log("| id | unit | median | p99 | baseline | ratio | note |")
console.log("|---|---|---:|---:|---|---:|---|")
for (const r of merged) {
  console.log(
    `| ${r.id} | ${r.unit} | ${fmt(r.median)} | ${fmt(r.p99)} | ${r.baseline ?? ""} | ${fmt(r.ratio)} | ${
      r.note ?? ""
    } |`
  )
}

// Refresh the README's generated sections (benchmark table, event catalogue) from what was just written.
await import("./readme.ts")

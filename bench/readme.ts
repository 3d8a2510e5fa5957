/**
 * Regenerates the generated sections of README.md: the benchmark table (from `bench/results.json`) and the
 * telemetry event catalogue (from `src/telemetry/EventCatalogue.ts`). Run by `npm run bench` after the
 * benchmarks, or alone with `node bench/readme.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { catalogueMarkdown } from "../src/telemetry/EventCatalogue.ts"
import type { BenchResults } from "./harness.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const readmePath = join(root, "README.md")

const fmt = (n: number | undefined): string =>
  n === undefined ? "" : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)

const benchTable = (): string => {
  const results = JSON.parse(readFileSync(join(root, "bench", "results.json"), "utf8")) as BenchResults
  const refreshed = (results.refreshed ?? []).map((r) =>
    `Rows of ${
      r.files.map((f) => `\`bench/${f}.bench.ts\``).join(", ")
    } were re-measured on ${r.at} by a filtered run ` +
    "(each ratio still against a baseline from that same run); the other rows come from the last full run."
  )
  const lines = [
    `Measured with Node ${results.node}, effect ${results.effect}, on this project's 2-core machine.`,
    ...refreshed.flatMap((line) => ["", line]),
    "",
    "| id | unit | median | p99 | baseline | ratio | note |",
    "|---|---|---:|---:|---|---:|---|"
  ]
  for (const r of results.results) {
    lines.push(
      `| \`${r.id}\` | ${r.unit} | ${fmt(r.median)} | ${fmt(r.p99)} | ${
        r.baseline === undefined ? "" : `\`${r.baseline}\``
      } | ${fmt(r.ratio)} | ${r.note ?? ""} |`
    )
  }
  return lines.join("\n")
}

const replaceSection = (text: string, name: string, body: string): string => {
  const start = `<!-- ${name} -->`
  const end = `<!-- /${name} -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < 0) throw new Error(`README.md has no ${start} … ${end} section`)
  return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`
}

let readme = readFileSync(readmePath, "utf8")
try {
  readme = replaceSection(readme, "bench-table", benchTable())
} catch (error) {
  console.error(`bench table not updated: ${String(error)}`)
}
readme = replaceSection(readme, "event-catalogue", catalogueMarkdown())
writeFileSync(readmePath, readme)
console.log("README.md: generated sections updated")

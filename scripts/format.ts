/**
 * `node scripts/format.ts [--write] [path…]`: the formatter of the repository — dprint's TypeScript plugin
 * (`@dprint/typescript`, run through `@dprint/formatter`), the engine and the settings of Effect's own
 * `@effect/dprint` lint rule (2 spaces, 120 columns, no semicolons, double quotes, no trailing commas). Without
 * `--write` it lists the files that are not formatted and exits 1 (`npm test` runs it so); with `--write` it
 * rewrites them.
 *
 * Why not the `@effect/dprint` ESLint rule itself: `@effect/eslint-plugin` loads `@typescript-eslint/utils`, whose
 * peer range (`typescript` < 6.1) excludes the TypeScript 7 compiler the project type-checks with, so npm refuses to
 * install it; this script calls the same formatter with the same configuration.
 *
 * It covers `src/`, `test/`, `bench/`, `examples/` and `scripts/` (`.ts` files), or the paths given.
 */
import { createFromBuffer } from "@dprint/formatter"
import { getPath } from "@dprint/typescript"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

/** The formatter settings: Effect's `@effect/dprint` rule configuration. */
export const settings = {
  indentWidth: 2,
  lineWidth: 120,
  semiColons: "asi",
  quoteStyle: "alwaysDouble",
  trailingCommas: "never",
  operatorPosition: "maintain",
  "arrowFunction.useParentheses": "force"
} as const

const formatter = createFromBuffer(readFileSync(getPath()))
formatter.setConfig({}, settings)

/**
 * The formatted text of `source` (the file name picks the syntax: `.ts`, `.tsx`, `.js`, …). dprint can need a second
 * pass to settle (a line it breaks can change how the next one fits), so this formats until the text is stable.
 */
export const format = (fileName: string, source: string): string => {
  let text = source
  for (let pass = 0; pass < 5; pass++) {
    const next = formatter.formatText({ filePath: fileName, fileText: text })
    if (next === text) return text
    text = next
  }
  return text
}

const roots = ["src", "test", "bench", "examples", "scripts", "vitest.config.ts"]

const walk = (path: string): Array<string> => {
  if (statSync(path).isDirectory()) {
    return readdirSync(path).flatMap((entry) => (entry === "node_modules" ? [] : walk(join(path, entry))))
  }
  return /\.(ts|mts)$/.test(path) && !path.endsWith(".d.ts") ? [path] : []
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const write = args.includes("--write")
  const paths = args.filter((a) => a !== "--write")
  const base = join(import.meta.dirname, "..")
  const files = (paths.length > 0 ? paths : roots.map((r) => join(base, r))).flatMap(walk)
  const unformatted: Array<string> = []
  for (const file of files) {
    const source = readFileSync(file, "utf8")
    const formatted = format(file, source)
    if (formatted !== source) {
      unformatted.push(relative(base, file))
      if (write) writeFileSync(file, formatted)
    }
  }
  if (write) console.log(`format: ${unformatted.length} of ${files.length} files rewritten`)
  else if (unformatted.length > 0) {
    console.error(`format: ${unformatted.length} of ${files.length} files are not formatted (npm run format):`)
    for (const f of unformatted) console.error(`  ${f}`)
    process.exit(1)
  } else console.log(`format: ${files.length} files formatted`)
}

/**
 * `node scripts/doc-check.ts [folder…]`: lists every exported declaration of the public modules of `src/` (every
 * file but `internal/` machinery and `index.ts` re-exports) that has no doc comment (`/** … *\/` right above it),
 * and exits 1 when there is one. Top-level exports and the exported members of an exported namespace are checked.
 * With folder names (`runtime`, `cache`, …) only those subsystems are checked.
 *
 * A plain scanner rather than typedoc's `notDocumented` validation: typedoc also asks for a comment on every member
 * of every Schema struct and object literal (6,656 warnings, mostly fields whose name says it all), which drowns the
 * declarations a reader looks up. `test/DocComments.test.ts` runs it over the subsystems that are held to it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

/** One exported declaration without a doc comment. */
export interface Undocumented {
  readonly file: string
  readonly line: number
  readonly name: string
}

const exportLine =
  /^(\s*)export\s+(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(const|let|function\*?|class|interface|type|namespace|enum)\s+([A-Za-z_$][\w$]*)/

const publicFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return entry === "internal" ? [] : publicFiles(path)
    return entry.endsWith(".ts") && entry !== "index.ts" && !entry.endsWith(".d.ts") ? [path] : []
  })

/** True when the lines above `index` (skipping decorators and blank lines) end a `/** … *\/` comment. */
const hasDocAbove = (lines: ReadonlyArray<string>, index: number): boolean => {
  let i = index - 1
  while (i >= 0 && (lines[i]!.trim() === "" || lines[i]!.trim().startsWith("@"))) i--
  if (i < 0 || !lines[i]!.trim().endsWith("*/")) return false
  if (lines[i]!.trim().startsWith("/**")) return true
  while (i >= 0 && !lines[i]!.trim().startsWith("/*")) i--
  return i >= 0 && lines[i]!.trim().startsWith("/**")
}

/** The exported declarations of `src/<folder>` (every folder when `folders` is empty) without a doc comment. */
export const undocumented = (srcRoot: string, folders: ReadonlyArray<string> = []): Array<Undocumented> => {
  const roots = folders.length === 0 ? [srcRoot] : folders.map((folder) => join(srcRoot, folder))
  const found: Array<Undocumented> = []
  for (const file of roots.flatMap(publicFiles)) {
    const lines = readFileSync(file, "utf8").split("\n")
    // Names of documented `export const`s: their companion `export type X = typeof X.Type` needs no second comment.
    const documentedValues = new Set<string>()
    lines.forEach((line, index) => {
      const match = exportLine.exec(line)
      if (match !== null && match[2] === "const" && hasDocAbove(lines, index)) documentedValues.add(match[3]!)
    })
    let namespaceDepth = 0
    let previous: { readonly name: string; readonly index: number } | undefined
    lines.forEach((line, index) => {
      const match = exportLine.exec(line)
      if (match === null) return
      const indent = match[1]!.length
      // Top-level exports, and one level of exported namespace members.
      if (indent > 0 && namespaceDepth === 0) return
      if (indent === 0) namespaceDepth = match[2] === "namespace" ? 1 : 0
      // `export const X = …` and its companion `export type X = typeof X…`: one doc comment covers both.
      const companion = (previous !== undefined && previous.name === match[3] && previous.index === index - 1) ||
        (match[2] === "type" && documentedValues.has(match[3]!))
      previous = { name: match[3]!, index }
      if (!companion && !hasDocAbove(lines, index)) {
        found.push({ file: relative(srcRoot, file), line: index + 1, name: match[3]! })
      }
    })
  }
  return found
}

if (import.meta.main) {
  const srcRoot = join(import.meta.dirname, "..", "src")
  const missing = undocumented(srcRoot, process.argv.slice(2))
  for (const m of missing) process.stdout.write(`src/${m.file}:${m.line} ${m.name}\n`)
  process.stdout.write(`${missing.length} exported declaration(s) without a doc comment\n`)
  process.exit(missing.length === 0 ? 0 : 1)
}

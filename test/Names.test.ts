/**
 * The naming rules of CONTRIBUTING.md (issue 20 §3), checked over src/:
 * - no stutter: a module re-exported as a namespace (`export * as X`) does not also define a service named `X`
 *   (services are exported as their class, `Keys.layer`, never `Keys.Keys.layer`);
 * - every layer constructor (`layer…`, static or exported) takes at most one parameter, its options object.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"

const src = join(import.meta.dirname, "..", "src")
const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((e) => {
    const p = join(dir, e)
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : []
  })

/** The parameter list starting at `open` (just after its `(`), split at top-level commas. */
const paramsAt = (text: string, open: number): Array<string> => {
  const params: Array<string> = []
  let depth = 1
  let start = open
  for (let i = open; i < text.length; i++) {
    const c = text[i]
    if (c === "(" || c === "[" || c === "{" || c === "<") depth++
    else if (c === ")" || c === "]" || c === "}" || (c === ">" && text[i - 1] !== "=")) depth--
    if (depth === 0) {
      params.push(text.slice(start, i))
      break
    }
    if (c === "," && depth === 1) {
      params.push(text.slice(start, i))
      start = i + 1
    }
  }
  return params.map((p) => p.trim()).filter((p) => p !== "")
}

describe("names", () => {
  it("no stutter: a namespace-exported module defines no service of its own name", () => {
    const stutters: Array<string> = []
    for (const index of files(src).filter((f) => f.endsWith("index.ts"))) {
      for (const m of readFileSync(index, "utf8").matchAll(/export \* as (\w+) from "\.\/([\w/]+)\.ts"/g)) {
        const [, name, path] = m
        const module = readFileSync(join(index, "..", `${path}.ts`), "utf8")
        const service = new RegExp(`^export (class ${name} extends Context\\.|const ${name} = Context\\.)`, "m")
        if (service.test(module)) {
          stutters.push(`${relative(src, index)}: ${name}.${name}`)
        }
      }
    }
    expect(stutters).toEqual([])
  })

  it("every layer constructor takes at most one parameter, its options object", () => {
    const offenders: Array<string> = []
    for (const file of files(src).filter((f) => !f.includes(`${"/"}internal${"/"}`))) {
      const text = readFileSync(file, "utf8")
      for (const m of text.matchAll(/(?:static readonly|export const) (layer\w*)(?::[^=\n]+)? = (?:<[^>]*>)?\(/g)) {
        const params = paramsAt(text, (m.index ?? 0) + m[0].length)
        if (params.length > 1) offenders.push(`${relative(src, file)}: ${m[1]}(${params.length} parameters)`)
      }
    }
    expect(offenders).toEqual([])
  })
})

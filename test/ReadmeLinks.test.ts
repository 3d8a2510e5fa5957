/**
 * The README links the test file of each rule it states (issue 20 §4), and the links stay true: every `test/…`,
 * `src/…` and `examples/…` path README.md mentions exists, and every quoted test name — written
 * `([test](test/x/Y.test.ts): "name", "other name")` or `(test/x/Y.test.ts: "name")` — occurs as a string literal
 * in that file, so renaming a test without the README (or the other way round) fails here. A name with Markdown
 * syntax in it is written with backslash escapes (`"\_\_proto\_\_ …"`), compared as it renders.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..")
const readme = readFileSync(join(root, "README.md"), "utf8")

/** Every repository path under test/, src/ or examples/ the README mentions, trailing punctuation removed. */
const mentionedPaths = (text: string): ReadonlyArray<string> => {
  const paths = new Set<string>()
  for (const match of text.matchAll(/(?<![\w./-])((?:test|src|examples)\/[\w./-]*)/g)) {
    const path = match[1]!.replace(/[.,;:]+$/, "")
    paths.add(path)
  }
  return [...paths].sort()
}

/** A quoted name as it reads once rendered: Markdown's backslash escapes (`\_\_proto\_\_`, `\<model>`) removed. */
const unescape = (name: string): string => name.replace(/\\([\\`*_{}[\]()#+\-.!<>])/g, "$1")

/** Every quoted test name, as `{ file, name }`, from `path: "a", "b"` and `[text](path): "a", "b"`. */
const quotedNames = (text: string): ReadonlyArray<{ readonly file: string; readonly name: string }> => {
  const found: Array<{ file: string; name: string }> = []
  for (const match of text.matchAll(/(test\/[\w./-]+\.ts)\)?: ((?:"[^"\n]+"(?:, )?)+)/g)) {
    for (const name of match[2]!.matchAll(/"([^"\n]+)"/g)) found.push({ file: match[1]!, name: unescape(name[1]!) })
  }
  return found
}

/** Whether `name` is a string literal of `source` (double, single or backtick quotes). */
const hasLiteral = (source: string, name: string): boolean =>
  [`"${name}"`, `'${name}'`, `\`${name}\``].some((literal) => source.includes(literal))

describe("README links", () => {
  it("every test/, src/ and examples/ path README.md mentions exists", () => {
    const paths = mentionedPaths(readme)
    expect(paths.length).toBeGreaterThan(50)
    expect(paths.filter((path) => !existsSync(join(root, path)))).toEqual([])
  })

  it("every quoted test name occurs in the test file it is quoted with", () => {
    const names = quotedNames(readme)
    expect(names.length).toBeGreaterThan(50)
    const missing = names.filter(({ file, name }) =>
      !existsSync(join(root, file)) || !hasLiteral(readFileSync(join(root, file), "utf8"), name)
    )
    expect(missing).toEqual([])
  })

  it("the parsers read both link forms and strip trailing punctuation", () => {
    expect(quotedNames(`a ([test](test/a/B.test.ts): "x y", "z") and (test/c/D.test.ts: "w").`)).toEqual([
      { file: "test/a/B.test.ts", name: "x y" },
      { file: "test/a/B.test.ts", name: "z" },
      { file: "test/c/D.test.ts", name: "w" }
    ])
    expect(quotedNames(`([test](test/a/B.test.ts): "\\_\\_proto\\_\\_ and provider:\\<model>")`)).toEqual([
      { file: "test/a/B.test.ts", name: "__proto__ and provider:<model>" }
    ])
    expect(mentionedPaths("see src/budget/Budgets.ts, test/gateway. and `examples/cache.ts`")).toEqual([
      "examples/cache.ts",
      "src/budget/Budgets.ts",
      "test/gateway"
    ])
  })
})

/**
 * `node scripts/error-docs.ts [folder…]`: lists every exported declaration of the public modules of `src/` whose
 * declared type or return type is an `Effect.Effect<A, E, R>`, `Stream.Stream<A, E, R>` or `Layer.Layer<A, E, R>`
 * and whose doc comment does not name each member of the error type `E`, and exits 1 when there is one. Issue 20 §4:
 * a function's doc says when each of its typed errors happens, as Elixir's docs state every return case.
 *
 * Checked: top-level `export const` / `export function`, the `static` members of exported classes, and the members
 * of exported interfaces (the service shapes, `readonly f: (…) => Effect.Effect<A, E>` or `f(…): Effect.Effect<A, E>`),
 * each against its own doc comment. The error type is split on its top-level `|`; a member that is an alias defined
 * in the same module as a plain union (`type StartError = A | B`) is replaced by its members; a member that is a type
 * parameter (`E`, `E2`), `never`, `unknown`, or anything but a (qualified) name is skipped. A name counts as mentioned when it
 * appears as a word anywhere in the doc comment (`ChildNotFound`, `RuntimeError.ChildNotFound`, a `{@link …}`).
 *
 * A scanner over the source text, as `scripts/doc-check.ts` is (TypeScript 7 has no JS API here): what it cannot
 * parse it skips rather than reports. Only the outermost `Effect`/`Stream`/`Layer` of a type is read, and only
 * outside parameter lists (an `Effect` parameter's errors are the caller's). `test/ErrorDocs.test.ts` runs it over
 * the subsystems that are held to it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

/** One exported declaration whose doc comment does not name some of its typed errors. */
export interface MissingErrorDoc {
  readonly file: string
  readonly line: number
  /** The declaration: `start`, `Cache.layerMemory` (a static member), `KeysShape.rotate` (an interface member). */
  readonly name: string
  /** The error type members the doc comment does not mention. */
  readonly missing: ReadonlyArray<string>
}

const publicFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return entry === "internal" ? [] : publicFiles(path)
    return entry.endsWith(".ts") && entry !== "index.ts" && !entry.endsWith(".d.ts") ? [path] : []
  })

/** The `/** … *\/` comment right above line `index` (skipping decorators and blank lines), or `undefined`. */
const docAbove = (lines: ReadonlyArray<string>, index: number): string | undefined => {
  let end = index - 1
  while (end >= 0 && (lines[end]!.trim() === "" || lines[end]!.trim().startsWith("@"))) end--
  if (end < 0 || !lines[end]!.trim().endsWith("*/")) return undefined
  let start = end
  while (start >= 0 && !lines[start]!.trim().startsWith("/*")) start--
  if (start < 0 || !lines[start]!.trim().startsWith("/**")) return undefined
  return lines.slice(start, end + 1).join("\n")
}

const opens = "([{<"
const closes = ")]}>"

/**
 * Reads a declaration's text from `from` and returns the slice up to where its type ends: the first `=` (not `=>`)
 * at depth 0 (`stopAtAssign`), the first `{` at depth 0 after a parameter list (`stopAtBody`), or a `;`/line end at
 * depth 0 (interface members). `undefined` when the brackets do not balance within the text.
 */
const headerOf = (
  text: string,
  from: number,
  mode: "assign" | "body" | "member"
): string | undefined => {
  let depth = 0
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i)
      if (nl < 0) return undefined
      i = nl - 1
      continue
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i)
      if (close < 0) return undefined
      i = close + 1
      continue
    }
    if (c === "\"" || c === "'" || c === "`") {
      const close = text.indexOf(c, i + 1)
      if (close < 0) return undefined
      i = close
      continue
    }
    if (depth === 0) {
      if (mode === "assign" && c === "=" && text[i + 1] !== ">" && text[i + 1] !== "=") return text.slice(from, i)
      if (mode === "body" && c === "{" && text.slice(from, i).trim() !== "") return text.slice(from, i)
      if (mode === "member" && (c === ";" || c === "\n")) {
        // A member type continues on the next line when this one ends inside an arrow or a union.
        const before = text.slice(from, i).trimEnd()
        if (c === "\n" && (before.endsWith("=>") || before.endsWith("|") || before.endsWith(":"))) continue
        const next = text.slice(i + 1).trimStart()
        if (c === "\n" && (next.startsWith("|") || next.startsWith("=>"))) continue
        return text.slice(from, i)
      }
    }
    if (c === ">" && text[i - 1] === "=") continue
    if (opens.includes(c)) depth++
    else if (closes.includes(c)) {
      depth--
      if (depth < 0) return mode === "member" ? text.slice(from, i) : undefined
    }
  }
  return undefined
}

/** Splits `text` on `separator` at bracket depth 0. */
const splitTop = (text: string, separator: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let current = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === ">" && text[i - 1] === "=") {
      current += c
      continue
    }
    if (opens.includes(c)) depth++
    else if (closes.includes(c)) depth--
    if (c === separator && depth === 0) {
      parts.push(current)
      current = ""
    } else current += c
  }
  parts.push(current)
  return parts
}

const effectLike = /\b(?:Effect\.Effect|Stream\.Stream|Layer\.Layer)</g

/** The error types `E` of the outermost `Effect`/`Stream`/`Layer` of a type text, outside parameter lists. */
const errorTypesOf = (type: string): Array<string> => {
  const found: Array<string> = []
  let parens = 0
  let angles = 0
  let skipUntil = -1
  // Bracket depth at each index, to tell parameter lists and type arguments apart.
  for (let i = 0; i < type.length; i++) {
    const c = type[i]!
    if (i >= skipUntil) {
      effectLike.lastIndex = i
      const match = effectLike.exec(type)
      if (match !== null && match.index === i && parens === 0 && angles === 0) {
        const argsStart = i + match[0].length
        let depth = 1
        let j = argsStart
        for (; j < type.length && depth > 0; j++) {
          const d = type[j]!
          if (d === ">" && type[j - 1] === "=") continue
          if (opens.includes(d)) depth++
          else if (closes.includes(d)) depth--
        }
        if (depth !== 0) return found
        const args = splitTop(type.slice(argsStart, j - 1), ",")
        found.push((args[1] ?? "never").trim())
        skipUntil = j
        i = j - 1
        continue
      }
    }
    if (c === ">" && type[i - 1] === "=") continue
    if (c === "(") parens++
    else if (c === ")") parens--
    else if (c === "<") angles++
    else if (c === ">") angles--
  }
  return found
}

const qualifiedName = /^(?:[A-Za-z_$][\w$]*\.)*([A-Za-z_$][\w$]*)$/
/** A type parameter by this code base's naming: `E`, `E2`, `R`, `EX`. */
const typeParameter = /^[A-Z][A-Z0-9]?$/

/** A union member without its `import("…").` qualifier: `import("./RuntimeError.ts").CallingSelf` is `CallingSelf`. */
const unimported = (member: string): string => member.trim().replace(/^import\(\s*["'][^"']*["']\s*\)\./, "")

/** The plain union aliases of a module: `type X = A | B | Mod.C` (export or not), by name. */
const aliasesOf = (text: string): Map<string, ReadonlyArray<string>> => {
  const aliases = new Map<string, ReadonlyArray<string>>()
  for (const match of text.matchAll(/^(?:export\s+)?type\s+([A-Za-z_$][\w$]*)\s*=\s*/gm)) {
    const body = headerOf(text, match.index + match[0].length, "member")
    if (body === undefined) continue
    const members = splitTop(body, "|").map(unimported).filter((m) => m !== "")
    if (members.length > 0 && members.every((m) => qualifiedName.test(m))) aliases.set(match[1]!, members)
  }
  return aliases
}

/** The error names of an error type text, aliases of the module resolved; unparseable members skipped. */
const errorNames = (error: string, aliases: Map<string, ReadonlyArray<string>>, seen = new Set<string>()) => {
  const names: Array<string> = []
  for (const raw of splitTop(error, "|")) {
    const member = unimported(raw)
    const match = qualifiedName.exec(member)
    if (match === null) continue
    const name = match[1]!
    if (name === "never" || name === "unknown" || typeParameter.test(name)) continue
    const alias = member === name ? aliases.get(name) : undefined
    if (alias !== undefined && !seen.has(name)) {
      seen.add(name)
      names.push(...errorNames(alias.join(" | "), aliases, seen))
    } else names.push(name)
  }
  return names
}

/**
 * The type texts that a declaration's text (from after its name) declares: a `: T =` type, or the return type(s) of
 * an arrow function `= <…>(…): R =>` (curried arrows followed), or a function's `(…): R {`.
 */
const declaredTypes = (text: string, from: number, kind: "const" | "function" | "method"): Array<string> => {
  let i = from
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const skipBalanced = (): boolean => {
    let depth = 0
    for (; i < text.length; i++) {
      const c = text[i]!
      if (c === ">" && text[i - 1] === "=") continue
      if (opens.includes(c)) depth++
      else if (closes.includes(c)) {
        depth--
        if (depth === 0) {
          i++
          return true
        }
      }
    }
    return false
  }
  skipSpace()
  if (kind === "function" || kind === "method") {
    if (text[i] === "<" && !skipBalanced()) return []
    skipSpace()
    if (text[i] !== "(" || !skipBalanced()) return []
    skipSpace()
    if (text[i] !== ":") return []
    const type = headerOf(text, i + 1, kind === "function" ? "body" : "member")
    return type === undefined ? [] : [type]
  }
  if (text[i] === ":") {
    const type = headerOf(text, i + 1, "assign")
    return type === undefined ? [] : [type]
  }
  if (text[i] !== "=") return []
  i++
  const types: Array<string> = []
  // `= <A>(…): R => <B>(…): R2 =>`: each arrow's declared return type.
  for (;;) {
    skipSpace()
    if (text[i] === "<" && !skipBalanced()) return types
    skipSpace()
    if (text[i] !== "(" || !skipBalanced()) return types
    skipSpace()
    if (text[i] !== ":") return types
    const start = i + 1
    let depth = 0
    let end = -1
    for (let j = start; j < text.length; j++) {
      const c = text[j]!
      if (c === "=" && text[j + 1] === ">" && depth === 0) {
        end = j
        break
      }
      if (c === ">" && text[j - 1] === "=") continue
      if (opens.includes(c)) depth++
      else if (closes.includes(c)) depth--
      if (depth < 0) break
    }
    if (end < 0) return types
    types.push(text.slice(start, end))
    i = end + 2
  }
}

const topLevel = /^export\s+(?:declare\s+)?(?:async\s+)?(const|let|function\*?|class|interface)\s+([A-Za-z_$][\w$]*)/
const staticMember = /^ {2}(?:public\s+)?static\s+(?:readonly\s+)?(?:async\s+)?([A-Za-z_$][\w$]*)\s*(\??)/
const interfaceMember = /^ {2}(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*(?=[:(<])/

/** The exported declarations of `src/<folder>` (every folder when `folders` is empty) missing error docs. */
export const missingErrorDocs = (srcRoot: string, folders: ReadonlyArray<string> = []): Array<MissingErrorDoc> => {
  const roots = folders.length === 0 ? [srcRoot] : folders.map((folder) => join(srcRoot, folder))
  const found: Array<MissingErrorDoc> = []
  for (const file of roots.flatMap(publicFiles)) {
    const text = readFileSync(file, "utf8")
    const lines = text.split("\n")
    const offsets: Array<number> = []
    let offset = 0
    for (const line of lines) {
      offsets.push(offset)
      offset += line.length + 1
    }
    const aliases = aliasesOf(text)
    let container: { readonly kind: string; readonly name: string } | undefined
    let previous: { readonly name: string; readonly doc: string | undefined } | undefined
    const check = (index: number, name: string, types: ReadonlyArray<string>) => {
      let doc = docAbove(lines, index)
      // An overload without its own comment shares the one above the first signature.
      if (doc === undefined && previous?.name === name) doc = previous.doc
      previous = { name, doc }
      const names = [...new Set(types.flatMap(errorTypesOf).flatMap((e) => errorNames(e, aliases)))]
      const missing = names.filter((n) => doc === undefined || !new RegExp(`\\b${n}\\b`).test(doc))
      if (missing.length > 0) found.push({ file: relative(srcRoot, file), line: index + 1, name, missing })
    }
    lines.forEach((line, index) => {
      if (/^\S/.test(line) && !line.startsWith("}")) container = undefined
      const top = topLevel.exec(line)
      if (top !== null) {
        const kind = top[1]!
        if (kind === "class" || kind === "interface") {
          container = { kind, name: top[2]! }
          return
        }
        const from = offsets[index]! + top[0].length
        check(index, top[2]!, declaredTypes(text, from, kind.startsWith("function") ? "function" : "const"))
        return
      }
      if (container?.kind === "class") {
        const member = staticMember.exec(line)
        if (member === null) return
        const from = offsets[index]! + member[0].length
        const rest = text.slice(from).trimStart()
        const kind = rest.startsWith("(") || rest.startsWith("<") ? "method" : "const"
        check(index, `${container.name}.${member[1]!}`, declaredTypes(text, from, kind))
        return
      }
      if (container?.kind === "interface") {
        const member = interfaceMember.exec(line)
        if (member === null) return
        const from = offsets[index]! + member[0].length
        const rest = text.slice(from).trimStart()
        const types = rest.startsWith(":")
          ? [headerOf(text, from + text.slice(from).indexOf(":") + 1, "member")].filter((t) => t !== undefined)
          : declaredTypes(text, from, "method")
        check(index, `${container.name}.${member[1]!}`, types)
      }
    })
  }
  return found
}

if (import.meta.main) {
  const srcRoot = join(import.meta.dirname, "..", "src")
  const missing = missingErrorDocs(srcRoot, process.argv.slice(2))
  for (const m of missing) process.stdout.write(`src/${m.file}:${m.line} ${m.name}: ${m.missing.join(", ")}\n`)
  process.stdout.write(`${missing.length} exported declaration(s) whose doc does not name each typed error\n`)
  process.exit(missing.length === 0 ? 0 : 1)
}

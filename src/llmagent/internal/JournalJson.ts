/**
 * How the `RunJournal` keeps a value: as JSON, exactly as given, on every backend.
 *
 * Rules (tests in test/llmagent/RunJournalConformance.test.ts):
 * - **A value is kept as its JSON copy** (`JSON.parse(JSON.stringify(value))`: `-0` is `0`, a function is `null`), so
 *   a caller mutating its object later changes nothing. **A value that is not JSON** (a `bigint`, a cycle: the
 *   stringify throws — a value nested too deep for it too) **is kept as `{ unserialisable: <the error's message> }`**,
 *   never a crash of the turn. Escaping and unescaping walk the value without recursion, so any depth that
 *   `JSON.stringify` writes is kept exactly.
 * - **Every string round-trips exactly, keys included**: PostgreSQL's `jsonb` refuses a NUL character (`\u0000`)
 *   and a lone surrogate (`\ud83d` without its pair), which model output, tool output and user input can all hold.
 *   `encode` escapes them with SOH (`\u0001`) before the value is written: NUL is `\u0001` `0`, a lone surrogate is
 *   `\u0001` `u` and its four lower-case hex digits, and SOH itself is `\u0001` `1`; `decode` undoes it when the value
 *   is read. Any other string is stored unchanged, so the column stays readable and queryable `jsonb`. An SOH followed
 *   by anything else (a value written before this escaping) is read as it is.
 *
 * The memory backend keeps the JSON copy itself (no escaping is needed in memory), so both backends read back the
 * same value.
 *
 * @internal
 */

/** The escape character: SOH, rare in text and accepted by `jsonb`. */
const ESC = "\u0001"

/** What `jsonb` refuses (NUL, a lone surrogate) and the escape character itself. */
// eslint-disable-next-line no-control-regex -- NUL and SOH are what this module escapes, matched on purpose
const UNSAFE = /\u0000|\u0001|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

// eslint-disable-next-line no-control-regex -- SOH is the escape character, matched on purpose
const ESCAPED = /\u0001(?:0|1|u([0-9a-f]{4}))/g

const escapeString = (text: string): string =>
  text.replace(UNSAFE, (ch) => {
    if (ch === "\u0000") return `${ESC}0`
    if (ch === ESC) return `${ESC}1`
    return `${ESC}u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`
  })

const unescapeString = (text: string): string =>
  text.includes(ESC)
    ? text.replace(ESCAPED, (whole, hex: string | undefined) =>
      hex !== undefined ? String.fromCharCode(Number.parseInt(hex, 16)) : whole === `${ESC}0` ? "\u0000" : ESC)
    : text

type Container = Array<unknown> | Record<string, unknown>

/**
 * Maps every string of a JSON value (keys included), without recursion: any nesting depth is mapped. A key is
 * defined as an own property, so a `__proto__` key stays an own key.
 */
const mapStrings = (value: unknown, f: (text: string) => string): unknown => {
  const work: Array<readonly [from: object, to: Container]> = []
  const child = (v: unknown): unknown => {
    if (typeof v === "string") return f(v)
    if (typeof v !== "object" || v === null) return v
    const to: Container = Array.isArray(v) ? [] : {}
    work.push([v, to])
    return to
  }
  const root = child(value)
  while (work.length > 0) {
    // non-empty, checked just above
    const [from, to] = work.pop() as readonly [object, Container]
    if (Array.isArray(from)) {
      // `to` was made an array for an array `from`
      for (const v of from as ReadonlyArray<unknown>) (to as Array<unknown>).push(child(v))
    } else {
      for (const [k, v] of Object.entries(from)) {
        Object.defineProperty(to, f(k), { value: child(v), enumerable: true, writable: true, configurable: true })
      }
    }
  }
  return root
}

const unserialisable = (error: unknown) => ({ unserialisable: error instanceof Error ? error.message : String(error) })

/** The value as the journal keeps it: its JSON copy, or `{ unserialisable }` when it is not JSON. */
export const copy = (value: unknown): unknown => {
  if (value === undefined) return undefined
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    return unserialisable(error)
  }
  return text === undefined ? null : JSON.parse(text)
}

/**
 * JSON text for a `jsonb` parameter, with the strings `jsonb` refuses escaped (`undefined` becomes SQL null); never
 * throws: a value that cannot be written as JSON is written as `{ unserialisable }`.
 */
export const encode = (value: unknown): string | null => {
  const copied = copy(value)
  if (copied === undefined) return null
  try {
    return JSON.stringify(mapStrings(copied, escapeString))
  } catch (error) {
    return JSON.stringify(unserialisable(error))
  }
}

/** A value read from a `jsonb` column written by `encode`, with its strings as they were given (any depth). */
export const decode = (value: unknown): unknown => mapStrings(value, unescapeString)

/**
 * The dead letter: what troupe keeps of a request or an agent turn that failed permanently (after its retries and
 * fallbacks) — its input with secrets masked, its error, the attempts made and when it failed — and the filter that
 * selects letters for list, redrive and purge.
 *
 * Rules: a letter's input is masked at every level — guard's `maskSecrets` on every string (with no depth bound), the
 * value of every record key that names a credential (`authorization`, `x-api-key`, `apiKey`, `password`, `cookie`,
 * `…_secret`, `…_token`: guard's `isCredentialKey`) replaced by `"[REDACTED:CREDENTIAL]"` whatever it looks like,
 * secrets used as keys masked — and every `Redacted` value becomes `"<redacted>"`, so an API key never reaches a
 * store; inputs past 64 KiB of JSON or nested past 128 levels (`MAX_INPUT_DEPTH`) are kept as a truncated preview
 * (`{ truncated: true, preview }`, a string), so every backend holds and redrives the same letters.
 *
 * A letter's `status` is `dead` (waiting), `redriving` (claimed by one redrive at `claimedAt`; see `DeadLetters` for
 * its lease) or `redriven` (handed back successfully; kept as a tombstone until purged, so a second redrive of the
 * same id is a no-op).
 */
import { Redacted, Schema } from "effect"
import { maskSecrets, maskTree } from "../guard/SecretDetector.ts"

/** What failed: an HTTP/pipeline request or an agent turn. */
export const DeadLetterKind = Schema.Literals(["request", "turn"])
/** What failed: an HTTP/pipeline request or an agent turn. */
export type DeadLetterKind = typeof DeadLetterKind.Type

/** `dead` (waiting), `redriving` (claimed by one redrive) or `redriven` (handed back; a tombstone until purged). */
export const DeadLetterStatus = Schema.Literals(["dead", "redriving", "redriven"])
/** `dead` (waiting), `redriving` (claimed by one redrive) or `redriven` (handed back; a tombstone until purged). */
export type DeadLetterStatus = typeof DeadLetterStatus.Type

/** The last error of a letter: its tag (`_tag`, else `name`) and its masked message (at most 2,000 characters). */
export const DeadLetterError = Schema.Struct({ tag: Schema.String, message: Schema.String })
/** The last error of a letter. */
export type DeadLetterError = typeof DeadLetterError.Type

/** A dead letter as stored and as the admin API returns it (times are epoch milliseconds). */
export const DeadLetter = Schema.Struct({
  id: Schema.String,
  kind: DeadLetterKind,
  /** The route, model or agent the input was for. */
  source: Schema.String,
  input: Schema.Unknown,
  error: DeadLetterError,
  attempts: Schema.Int,
  firstFailedAt: Schema.Number,
  deadAt: Schema.Number,
  status: DeadLetterStatus,
  redrives: Schema.Int,
  redrivenAt: Schema.optional(Schema.Number),
  /** When the redrive holding a `redriving` letter claimed it (absent otherwise); its lease runs from here. */
  claimedAt: Schema.optional(Schema.Number)
})
/** A dead letter as stored and as the admin API returns it. */
export type DeadLetter = typeof DeadLetter.Type

/** Selects letters: every given field must match (`ids`: one of them; `deadBefore`/`deadAfter`: epoch ms). */
export const DeadLetterFilter = Schema.Struct({
  ids: Schema.optional(Schema.Array(Schema.String)),
  kind: Schema.optional(DeadLetterKind),
  source: Schema.optional(Schema.String),
  errorTag: Schema.optional(Schema.String),
  status: Schema.optional(DeadLetterStatus),
  deadBefore: Schema.optional(Schema.Number),
  deadAfter: Schema.optional(Schema.Number)
})
/** Selects letters: every given field must match. */
export type DeadLetterFilter = typeof DeadLetterFilter.Type

/** Whether `letter` matches every field of `filter`. */
export const matches = (filter: DeadLetterFilter, letter: DeadLetter): boolean =>
  (filter.ids === undefined || filter.ids.includes(letter.id)) &&
  (filter.kind === undefined || filter.kind === letter.kind) &&
  (filter.source === undefined || filter.source === letter.source) &&
  (filter.errorTag === undefined || filter.errorTag === letter.error.tag) &&
  (filter.status === undefined || filter.status === letter.status) &&
  (filter.deadBefore === undefined || letter.deadAt < filter.deadBefore) &&
  (filter.deadAfter === undefined || letter.deadAt > filter.deadAfter)

/** The largest input kept whole, in characters of JSON; a larger one is kept as `{ truncated: true, preview }`. */
export const MAX_INPUT_CHARS = 65_536
/**
 * The deepest input kept whole, in nested objects and arrays (the input itself is level 1); a deeper one is kept as
 * `{ truncated: true, preview }`, its levels past this one replaced by `"[TRUNCATED:DEPTH]"`. Well under what every
 * backend and the admin API handle (Redis's cjson refuses 1,000 levels; `JSON.stringify` overflows the stack at a
 * few thousand), so every backend keeps, lists and redrives the same letters.
 */
export const MAX_INPUT_DEPTH = 128
const MAX_MESSAGE_CHARS = 2_000

/**
 * The input as a letter keeps it: JSON-safe (a `Redacted` value becomes `"<redacted>"`, a bigint its decimal string,
 * functions and symbols are dropped, cycles cut), masked at every level (`maskTree` with `keys`: every string, the
 * value of every credential-named key, secrets used as keys), and kept as a truncated preview past
 * `MAX_INPUT_DEPTH` levels or `MAX_INPUT_CHARS` characters.
 */
export const sanitizeInput = (input: unknown): unknown => {
  const seen = new WeakSet<object>()
  // the level of each object met (the holder `JSON.stringify` passes as `this`; its root holder is level 0)
  const levels = new WeakMap<object, number>()
  let tooDeep = false
  let json: string | undefined
  try {
    json = JSON.stringify(input, function(this: unknown, _key, value: unknown) {
      if (Redacted.isRedacted(value)) return "<redacted>"
      if (typeof value === "bigint") return value.toString()
      if (typeof value === "object" && value !== null) {
        if (seen.has(value)) return "<cycle>"
        const level = (typeof this === "object" && this !== null ? levels.get(this) ?? 0 : 0) + 1
        // not descended into: the walk (and so the stack) never goes deeper than MAX_INPUT_DEPTH + 1
        if (level > MAX_INPUT_DEPTH) {
          tooDeep = true
          return "[TRUNCATED:DEPTH]"
        }
        seen.add(value)
        levels.set(value, level)
      }
      return value
    })
  } catch {
    json = JSON.stringify(String(input))
  }
  if (json === undefined) return null
  const masked = maskTree(JSON.parse(json) as unknown, { keys: true }) // JSON.parse of our own stringify
  const out = JSON.stringify(masked)
  return tooDeep || out.length > MAX_INPUT_CHARS ? { truncated: true, preview: out.slice(0, MAX_INPUT_CHARS) } : masked
}

/** The error as a letter keeps it: its `_tag` (else `name`, else `"Unknown"`) and its masked, bounded message. */
export const describeError = (error: unknown): DeadLetterError => {
  const record = typeof error === "object" && error !== null ? error as Record<string, unknown> : undefined // read-only probe
  const tag = typeof record?.["_tag"] === "string" ? record["_tag"] : error instanceof Error ? error.name : "Unknown"
  const raw = error instanceof Error
    ? error.message
    : typeof record?.["message"] === "string"
    ? record["message"]
    : typeof error === "string"
    ? error
    : (() => {
      try {
        return JSON.stringify(sanitizeInput(error)) ?? String(error)
      } catch {
        return String(error)
      }
    })()
  return { tag: maskSecrets(tag).slice(0, 200), message: maskSecrets(raw).slice(0, MAX_MESSAGE_CHARS) }
}

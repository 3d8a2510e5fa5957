/**
 * The dead letter: what troupe keeps of a request or an agent turn that failed permanently (after its retries and
 * fallbacks) — its input with secrets masked, its error, the attempts made and when it failed — and the filter that
 * selects letters for list, redrive and purge.
 *
 * Rules: a letter's input passes through guard's `maskSecrets` (every string, depth-bounded) and every `Redacted`
 * value becomes `"<redacted>"`, so an API key never reaches a store; inputs past 64 KiB of JSON are kept as a
 * truncated preview. A letter's `status` is `dead` (waiting), `redriving` (claimed by one redrive) or `redriven`
 * (handed back successfully; kept as a tombstone until purged, so a second redrive of the same id is a no-op).
 */
import { Redacted, Schema } from "effect"
import { maskDeep, maskSecrets } from "../guard/SecretDetector.ts"

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
  redrivenAt: Schema.optional(Schema.Number)
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
const MAX_MESSAGE_CHARS = 2_000

/**
 * The input as a letter keeps it: JSON-safe (a `Redacted` value becomes `"<redacted>"`, a bigint its decimal string,
 * functions and symbols are dropped, cycles cut), every string masked, truncated past `MAX_INPUT_CHARS`.
 */
export const sanitizeInput = (input: unknown): unknown => {
  const seen = new WeakSet<object>()
  let json: string | undefined
  try {
    json = JSON.stringify(input, (_key, value: unknown) => {
      if (Redacted.isRedacted(value)) return "<redacted>"
      if (typeof value === "bigint") return value.toString()
      if (typeof value === "object" && value !== null) {
        if (seen.has(value)) return "<cycle>"
        seen.add(value)
      }
      return value
    })
  } catch {
    json = JSON.stringify(String(input))
  }
  if (json === undefined) return null
  const masked = maskDeep(JSON.parse(json) as unknown) // JSON.parse of our own stringify
  const out = JSON.stringify(masked)
  return out.length > MAX_INPUT_CHARS ? { truncated: true, preview: out.slice(0, MAX_INPUT_CHARS) } : masked
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

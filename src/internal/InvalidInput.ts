/**
 * One shape, one path format and one decoder for invalid input, shared by every subsystem.
 *
 * Rules:
 * - Every invalid-input error of troupe (`InvalidOptions`, `InvalidCacheOptions`, `InvalidRateLimitInput`,
 *   `InvalidLlmRequest`, …) carries the same three fields, `InvalidInputFields`: `subject` (what was being decoded,
 *   in the caller's words: "cache options", "rate-limit policy openai"), `path` (the first bad field) and `detail`
 *   (every problem found, each as `path: message`, joined by `; `). Some add the id of what they belong to (an
 *   action, a provider, a step); none drops or renames the three.
 * - One path format: properties joined by `.`, array indices in brackets, `""` for the root —
 *   `policies.openai.tiers[2].limit`. A prefix names where the decoded value sits in the caller's input.
 * - One message: `invalid <subject>: at <path>: <detail>` (without `at …` when the root is at fault).
 * - Bounded: a detail lists at most `MAX_ISSUES` problems, each message cut to `MAX_MESSAGE_CHARS` (a message may
 *   quote the offending value, which is untrusted and may be large).
 * - Every Schema failure is turned into those fields here (`describeIssue`), by `decode` / `fromSchemaError`; a
 *   rule Schema cannot express (a cross-field check) builds them with `fields`.
 *
 * Mirrors effect's `SchemaIssue` standard-schema formatter (the messages are its messages); adds the path format
 * and the error shape.
 *
 * @internal
 */
import { Result, Schema, SchemaIssue } from "effect"

/** The fields of every invalid-input error: what was decoded, the first bad path, and every problem. */
export const InvalidInputFields = {
  /** What was being decoded, in the caller's words ("cache options", "rate-limit policy openai"). */
  subject: Schema.String,
  /** The first bad field, `a.b[2].c`; `""` for the root. */
  path: Schema.String,
  /** Every problem found, each as `path: message`, joined by `; `. */
  detail: Schema.String
} as const

/** The three fields of an invalid-input error. */
export interface InvalidInputShape {
  readonly subject: string
  readonly path: string
  readonly detail: string
}

/** A path segment as effect's formatter reports it. */
type Segment = PropertyKey | { readonly key: PropertyKey }

/** Renders a property path as `a.b[2].c`, after `prefix` (itself already in that format). */
export const formatPath = (path: ReadonlyArray<Segment> | undefined, prefix = ""): string => {
  let out = prefix
  for (const segment of path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** At most this many problems are listed in a `detail` (the rest are counted). */
export const MAX_ISSUES = 20
/** A problem's message is cut to this many characters (a message may quote the offending, untrusted value). */
export const MAX_MESSAGE_CHARS = 300

const bounded = (message: string): string =>
  message.length <= MAX_MESSAGE_CHARS ? message : `${message.slice(0, MAX_MESSAGE_CHARS)}…`

/** The path of the first problem of a Schema issue and the detail listing every problem (at most `limit`). */
export const describeIssue = (
  issue: SchemaIssue.Issue,
  prefix = "",
  limit = Number.POSITIVE_INFINITY
): { readonly path: string; readonly detail: string } => {
  const issues = formatter(issue).issues
  const detail = issues.slice(0, Math.min(limit, MAX_ISSUES))
    .map((i) => `${formatPath(i.path, prefix) || "(root)"}: ${bounded(i.message)}`).join("; ")
  const more = issues.length > MAX_ISSUES && limit > MAX_ISSUES ? `; … ${issues.length - MAX_ISSUES} more` : ""
  return { path: formatPath(issues[0]?.path, prefix), detail: detail === "" ? "invalid value" : detail + more }
}

/** The fields for a rule Schema cannot express: `detail` is prefixed with the path, as a Schema problem is. */
export const fields = (subject: string, path: string, detail: string): InvalidInputShape => ({
  subject,
  path,
  detail: `${path || "(root)"}: ${detail}`
})

/** The one message of an invalid-input error: `invalid <subject>: at <path>: <detail>`. */
export const invalidMessage = (error: InvalidInputShape): string =>
  `invalid ${error.subject}: ${error.path === "" ? "" : `at ${error.path}: `}${error.detail}`

/** Decodes `input` with `schema`; on failure, `make` builds the subsystem's error from the shared fields. */
export const decode = <S extends Schema.Codec<unknown, unknown, never, never>, E>(
  schema: S,
  input: unknown,
  subject: string,
  make: (fields: InvalidInputShape) => E,
  prefix = ""
): Result.Result<S["Type"], E> => {
  const result = Schema.decodeUnknownResult(schema)(input, { errors: "all" })
  if (Result.isSuccess(result)) return Result.succeed(result.success)
  return Result.fail(fromSchemaError(result.failure, subject, make, prefix))
}

/** Maps a `SchemaError` (from any decoder) to the subsystem's error. */
export const fromSchemaError = <E>(
  error: Schema.SchemaError,
  subject: string,
  make: (fields: InvalidInputShape) => E,
  prefix = ""
): E => make({ subject, ...describeIssue(error.issue, prefix) })

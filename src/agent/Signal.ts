/**
 * Signals: CloudEvents 1.0.2 envelopes for everything agents receive and emit.
 *
 * Mirrors `Jido.Signal` (jido_signal), which is CloudEvents-shaped: `specversion` ("1.0"), `id` (a time-ordered
 * UUIDv7), `source` (URI-reference of the producer), `type` (dot-separated, routed by `Router`), and the optional
 * `subject`, `time` (RFC 3339), `datacontenttype` (default `application/json`) and `data`.
 *
 * The shape is an Effect `Schema` (`Signal.Schema`); `make` fills `id` and `time` from Effect's `Clock` and
 * validates, `decode` validates untrusted input. Both fail with `InvalidSignal` naming the bad field.
 *
 * Bounds and ranges: a `type` has at most `MAX_TYPE_LENGTH` (1,024) characters and `MAX_TYPE_SEGMENTS` (128)
 * segments — a type arrives from outside (`AgentServer.call`, `Signal.decode`) and every route and publish walks
 * its segments. A `time` is an RFC 3339 `date-time` whose fields are in range: month 01–12, a day that exists in
 * that month (leap years included), hour 00–23, minute 00–59, second 00–60 (a leap second), offset hours 00–23 and
 * minutes 00–59; `T` and `Z` may be lowercase (RFC 3339 §5.6). `2024-13-45T99:99:99Z` fails at `time`.
 */
import { Clock, DateTime, Effect, Result, Schema } from "effect"
import { fromSchemaError, InvalidSignal } from "./AgentError.ts"
import * as Uuid7 from "./Uuid7.ts"

/** The longest signal type accepted, in characters. */
export const MAX_TYPE_LENGTH = 1_024
/** The most segments a signal type may have. */
export const MAX_TYPE_SEGMENTS = 128

const Segment = /^[A-Za-z0-9_-]+$/
const checkType = (s: string): true | string => {
  if (s.length > MAX_TYPE_LENGTH) return `at most ${MAX_TYPE_LENGTH} characters (got ${s.length})`
  const segments = s.split(".")
  if (segments.length > MAX_TYPE_SEGMENTS) return `at most ${MAX_TYPE_SEGMENTS} segments (got ${segments.length})`
  return (s.length > 0 && segments.every((seg) => Segment.test(seg))) || "a dot-separated type such as order.created"
}

const Rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/
const DAYS_IN_MONTH: ReadonlyArray<number> = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const isLeapYear = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
const isRfc3339 = (s: string): boolean => {
  const m = Rfc3339.exec(s)
  if (m === null) return false
  // groups 1-6 (date and time) always match digits; 8 and 9 (the offset) are absent for Z
  const field = (group: number): number => Number(m[group])
  const month = field(2)
  if (month < 1 || month > 12) return false
  const days = month === 2 && isLeapYear(field(1)) ? 29 : DAYS_IN_MONTH[month - 1] ?? 0
  const offsetOk = m[8] === undefined || (field(8) <= 23 && field(9) <= 59)
  return field(3) >= 1 && field(3) <= days && field(4) <= 23 && field(5) <= 59 && field(6) <= 60 && offsetOk
}

/**
 * A dot-separated type of non-empty `[A-Za-z0-9_-]` segments, e.g. `order.created`: at most `MAX_TYPE_LENGTH`
 * characters and `MAX_TYPE_SEGMENTS` segments.
 */
export const SignalType = Schema.String.pipe(Schema.check(Schema.makeFilter(checkType)))

/** An RFC 3339 `date-time` with every field in range (`T`/`Z` in either case), e.g. `2026-01-02T03:04:05.000Z`. */
export const SignalTime = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => isRfc3339(s) || "an RFC 3339 date-time such as 2026-01-02T03:04:05Z"))
)

/** The CloudEvents 1.0.2 attributes troupe uses. */
export const Signal = Schema.Struct({
  specversion: Schema.Literal("1.0"),
  id: Schema.NonEmptyString,
  source: Schema.NonEmptyString,
  type: SignalType,
  subject: Schema.optionalKey(Schema.String),
  time: Schema.optionalKey(SignalTime),
  datacontenttype: Schema.optionalKey(Schema.String),
  data: Schema.optionalKey(Schema.Unknown)
})
/**
 * A CloudEvents 1.0 signal (Jido's `Signal`): `specversion`, `id`, `source`, `type`, optional subject, RFC 3339
 * time, content type and data. Decoded with Schema wherever one arrives from outside.
 */
export type Signal = typeof Signal.Type

/** What `make` needs: the rest is filled in. */
export interface SignalInput {
  readonly type: string
  readonly source?: string
  readonly subject?: string
  readonly data?: unknown
  readonly datacontenttype?: string
  /** defaults to a fresh UUIDv7 */
  readonly id?: string
}

const decodeSignal = Schema.decodeUnknownResult(Signal)

/** Validates an untrusted signal. */
export const decodeResult = (input: unknown): Result.Result<Signal, InvalidSignal> => {
  const result = decodeSignal(input, { errors: "all" })
  if (Result.isSuccess(result)) return Result.succeed(result.success)
  const { path, detail } = fromSchemaError(result.failure)
  return Result.fail(new InvalidSignal({ subject: "signal", path, detail }))
}

/** Validates an untrusted signal (e.g. from the wire). Fails with `InvalidSignal` when it does not decode. */
export const decode = (input: unknown): Effect.Effect<Signal, InvalidSignal> =>
  Effect.suspend(() => {
    const r = decodeResult(input)
    return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)
  })

/** Builds a signal at `millis` (synchronous; validation included). */
export const makeAt = (input: SignalInput, millis: number): Result.Result<Signal, InvalidSignal> => {
  const signal: Record<string, unknown> = {
    specversion: "1.0",
    id: input.id ?? Uuid7.fromMillis(millis),
    source: input.source ?? "troupe",
    type: input.type,
    time: DateTime.formatIso(DateTime.makeUnsafe(millis)),
    datacontenttype: input.datacontenttype ?? "application/json"
  }
  if (input.subject !== undefined) signal.subject = input.subject
  if (input.data !== undefined) signal.data = input.data
  return decodeResult(signal)
}

/**
 * Builds a signal: `id` is a UUIDv7 and `time` the current time, both from Effect's `Clock`. Fails with
 * `InvalidSignal` when the input does not make a valid signal .
 *
 * @example
 * ```ts
 * const s = yield* Signal.make({ type: "order.created", source: "/shop", data: { id: 7 } })
 * ```
 */
export const make = (input: SignalInput): Effect.Effect<Signal, InvalidSignal> =>
  Effect.flatMap(Clock.currentTimeMillis, (millis) => {
    const r = makeAt(input, millis)
    return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)
  })

/** Is the value a (structurally valid) signal? */
export const isSignal = (u: unknown): u is Signal => Result.isSuccess(decodeSignal(u))

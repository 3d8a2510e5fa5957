/**
 * Signals: CloudEvents 1.0.2 envelopes for everything agents receive and emit.
 *
 * Mirrors `Jido.Signal` (jido_signal), which is CloudEvents-shaped: `specversion` ("1.0"), `id` (a time-ordered
 * UUIDv7), `source` (URI-reference of the producer), `type` (dot-separated, routed by `Router`), and the optional
 * `subject`, `time` (RFC 3339), `datacontenttype` (default `application/json`) and `data`.
 *
 * The shape is an Effect `Schema` (`Signal.Schema`); `make` fills `id` and `time` from Effect's `Clock` and
 * validates, `decode` validates untrusted input. Both fail with `InvalidSignal` naming the bad field.
 */
import { Clock, DateTime, Effect, Result, Schema } from "effect"
import { fromSchemaError, InvalidSignal } from "./AgentError.ts"
import * as Uuid7 from "./Uuid7.ts"

const Segment = /^[A-Za-z0-9_-]+$/
const isType = (s: string): boolean => s.length > 0 && s.split(".").every((seg) => Segment.test(seg))
const Rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** A dot-separated type of non-empty `[A-Za-z0-9_-]` segments, e.g. `order.created`. */
export const SignalType = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => isType(s) || "a dot-separated type such as order.created"))
)

/** The CloudEvents 1.0.2 attributes troupe uses. */
export const Signal = Schema.Struct({
  specversion: Schema.Literal("1.0"),
  id: Schema.NonEmptyString,
  source: Schema.NonEmptyString,
  type: SignalType,
  subject: Schema.optionalKey(Schema.String),
  time: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isPattern(Rfc3339)))),
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

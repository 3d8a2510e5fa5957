/**
 * `CallLimits`: the bounds of every `Llm` call, whatever the provider does.
 *
 * - **Deadline.** A call's `options.timeout` bounds the *whole* call — every attempt, the backoff between retries,
 *   `Retry-After` waits and fallbacks, and the wait for an identical call it shares — not each HTTP request; without
 *   one, `deadline` (default 2 minutes) does. A call past it fails with `CallDeadlineExceeded`; a retry whose wait
 *   would end past it is not made (the call fails at once with the provider's error, so no time is spent sleeping
 *   towards a certain timeout). Its clock starts after the response cache's lookup (a hit pays for no timer).
 * - **Shared calls keep per-caller deadlines** (the response cache's single-flight, `CoalesceStep`): each caller of a
 *   shared call is bounded by its own deadline: a waiter whose deadline passes fails with its own
 *   CallDeadlineExceeded and only leaves the shared call; a leader's own deadline is not handed to waiters: a waiter
 *   with time left still gets the answer (or runs the call itself, in what is left of its own deadline).
 * - **Streams** are bounded three ways: the same deadline over the whole stream (`streamDeadline`, default
 *   10 minutes, or the call's `timeout`), an idle deadline between two parts (`streamIdle`, default 60 s, never
 *   more than the call's `timeout`: keep-alive comments and empty chunks are not parts, so they do not hold a call
 *   open), and a size cap on the text, refusal and tool-call argument characters received (`maxStreamChars`,
 *   default 4,000,000). Each ends the stream with `StreamLimitExceeded` naming the limit, and the provider's HTTP
 *   request is aborted.
 *
 * A `Context.Reference`: the defaults apply unless `LlmPipeline.layer({ limits })` (or `CallLimits.layer`)
 * provides others. Options are decoded with Schema (`InvalidPipelineOptions` naming the bad field).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"

/** The resolved limits, in milliseconds and characters. */
export interface CallLimitsShape {
  readonly deadlineMillis: number
  readonly streamDeadlineMillis: number
  readonly streamIdleMillis: number
  readonly maxStreamChars: number
}

/** The defaults: 2 minutes per call, 10 minutes per stream, 60 s idle, 4,000,000 characters. */
export const defaultCallLimits: CallLimitsShape = {
  deadlineMillis: 120_000,
  streamDeadlineMillis: 600_000,
  streamIdleMillis: 60_000,
  maxStreamChars: 4_000_000
}

const DurationInput = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThan(0)),
  Schema.String.check(Schema.isMinLength(1))
])

/** Options of `CallLimits.layer` (decoded with Schema). */
export const CallLimitsOptions = Schema.Struct({
  /** Whole-call deadline when the call sets no `timeout` (ms or a duration string). Default 2 minutes. */
  deadline: Schema.optionalKey(DurationInput),
  /** Whole-stream deadline when the call sets no `timeout`. Default 10 minutes. */
  streamDeadline: Schema.optionalKey(DurationInput),
  /** Longest wait between two stream parts. Default 60 seconds. */
  streamIdle: Schema.optionalKey(DurationInput),
  /** Most characters of text, refusal and tool arguments one stream may carry. Default 4,000,000. */
  maxStreamChars: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000_000 })))
})
export type CallLimitsOptions = typeof CallLimitsOptions.Encoded

const millisOf = (
  input: number | string | undefined,
  fallback: number,
  path: string
): Effect.Effect<number, InvalidPipelineOptions> => {
  if (input === undefined) return Effect.succeed(fallback)
  const d = Duration.fromInput(input as Duration.Input) // a number or a string, decoded above
  return d._tag === "Some" && Duration.toMillis(d.value) > 0
    ? Effect.succeed(Duration.toMillis(d.value))
    : Effect.fail(
      InvalidPipelineOptions.at("CallLimits", path, `Expected a positive duration, got ${JSON.stringify(input)}`)
    )
}

/** Decodes `CallLimits` options (failing with `InvalidPipelineOptions` naming the bad field). */
export const make = (input: CallLimitsOptions): Effect.Effect<CallLimitsShape, InvalidPipelineOptions> =>
  Effect.gen(function*() {
    const o = yield* Schema.decodeUnknownEffect(CallLimitsOptions)(input, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("CallLimits", e.issue))
    )
    return {
      deadlineMillis: yield* millisOf(o.deadline, defaultCallLimits.deadlineMillis, "deadline"),
      streamDeadlineMillis: yield* millisOf(o.streamDeadline, defaultCallLimits.streamDeadlineMillis, "streamDeadline"),
      streamIdleMillis: yield* millisOf(o.streamIdle, defaultCallLimits.streamIdleMillis, "streamIdle"),
      maxStreamChars: o.maxStreamChars ?? defaultCallLimits.maxStreamChars
    }
  })

/** The limits of `Llm` calls (a reference: the defaults unless provided). */
export class CallLimits extends Context.Reference<CallLimitsShape>("troupe/pipeline/CallLimits", {
  defaultValue: () => defaultCallLimits
}) {
  /**
   * Limits from options. Fails to build with `InvalidPipelineOptions` (naming the field) when `deadline`,
   * `streamDeadline` or `streamIdle` is not a positive duration (ms or a duration string) or `maxStreamChars` is not an
   * integer from 1 to 1,000,000,000.
   */
  static readonly layer = (options: CallLimitsOptions = {}): Layer.Layer<never, InvalidPipelineOptions> =>
    // a reference: provided, never required
    Layer.effect(CallLimits, make(options))
}

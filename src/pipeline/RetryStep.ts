/**
 * `RetryStep`: retries a provider call after a retryable failure — HTTP 429, 5xx, overload, timeouts, connection
 * resets (`ProviderError.retryable`) — and never after auth, validation, quota, content-policy or context-length
 * failures, our own rate-limit refusals, defects or interruption.
 *
 * Default: 3 retries, exponential backoff 1 s → 2 s → 4 s (factor 2, capped at `maxDelay` 30 s) with ±20 % jitter
 * (`jitter: 0` disables it; jitter draws from Effect's `Random`, so `Random.withSeed` makes it reproducible). A
 * `Retry-After` from the provider (429, or overload) wins over the backoff: the retry waits exactly that long — unless
 * it exceeds `maxRetryAfter` (default 60 s), in which case the call fails at once so a fallback can answer.
 * Waits use Effect's `Clock` (`TestClock` drives them). A call's `options.retries` overrides the count. A retry whose
 * wait would end at or past the call's deadline (`CallLimits`: the call's `timeout` bounds the whole call) is not
 * made: the call fails at once with the provider's error.
 *
 * Hand-rolled over `Effect.catch` + `Effect.sleep` rather than `Effect.retry(Schedule…)`: the success path then costs
 * one catch frame (no schedule step is built per call), and an exact `Retry-After` is simpler to state than a
 * `Schedule.modifyDelay` over a jittered exponential. Mirrors the OpenAI / Anthropic SDKs' retry policy (2–3 retries,
 * exponential backoff with jitter, honouring `retry-after`) and LiteLLM's `num_retries`. `RetryStep.none` disables it.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Random, Schema } from "effect"
import { dual } from "effect/Function"
import { isProviderError } from "../llm/index.ts"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"

/** The service interface. */
export interface RetryStepShape {
  /** Runs `attempt`, retrying it after retryable provider failures. */
  readonly around: {
    (context: CallContext, target: Target): <A, E, R>(attempt: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    <A, E, R>(attempt: Effect.Effect<A, E, R>, context: CallContext, target: Target): Effect.Effect<A, E, R>
  }
}

const DurationInput = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(Schema.isMinLength(1))
])

/** Options of `RetryStep.layer` (decoded with Schema). */
export const RetryStepOptions = Schema.Struct({
  /** Retries after the first attempt. Default 3. */
  retries: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 }))),
  /** First backoff delay. Default 1 second. */
  baseDelay: Schema.optionalKey(DurationInput),
  /** Backoff growth per retry. Default 2. */
  factor: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 1, maximum: 10 }))),
  /** Longest backoff delay. Default 30 seconds. */
  maxDelay: Schema.optionalKey(DurationInput),
  /** Jitter as a fraction of the delay (0.2: ×[0.8, 1.2]). Default 0.2; 0 disables it. */
  jitter: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** Longest `Retry-After` honoured; a longer one fails the call at once. Default 60 seconds. */
  maxRetryAfter: Schema.optionalKey(DurationInput)
})
export type RetryStepOptions = typeof RetryStepOptions.Encoded

const millisOf = (
  input: number | string | undefined,
  fallback: number,
  path: string
): number | InvalidPipelineOptions => {
  if (input === undefined) return fallback
  // fromInput validates any input and returns undefined for a bad one
  const d = Duration.fromInput(input as Duration.Input)
  return d._tag === "Some"
    ? Duration.toMillis(d.value)
    : InvalidPipelineOptions.at(
      "RetryStep",
      path,
      `Expected a duration such as "1 second", got ${JSON.stringify(input)}`
    )
}

/** The server's requested wait carried by a provider error, if any. */
const retryAfterOf = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "retryAfterMillis" in error &&
    typeof error.retryAfterMillis === "number"
    ? error.retryAfterMillis
    : undefined

const make = (input: RetryStepOptions) =>
  Effect.gen(function*() {
    const options = yield* Schema.decodeUnknownEffect(RetryStepOptions)(input, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("RetryStep", e.issue))
    )
    const base = millisOf(options.baseDelay, 1000, "baseDelay")
    const maxDelay = millisOf(options.maxDelay, 30_000, "maxDelay")
    const maxRetryAfter = millisOf(options.maxRetryAfter, 60_000, "maxRetryAfter")
    if (typeof base !== "number") return yield* base
    if (typeof maxDelay !== "number") return yield* maxDelay
    if (typeof maxRetryAfter !== "number") return yield* maxRetryAfter
    const defaultRetries = options.retries ?? 3
    const factor = options.factor ?? 2
    const jitter = options.jitter ?? 0.2

    const backoff = (retry: number): Effect.Effect<number> => {
      const delay = Math.min(base * Math.pow(factor, retry), maxDelay)
      return jitter === 0
        ? Effect.succeed(delay)
        : Effect.map(Random.nextBetween(1 - jitter, 1 + jitter), (f) => Math.round(delay * f))
    }

    return RetryStep.of({
      around: dual(
        3,
        <A, E, R>(
          attempt: Effect.Effect<A, E, R>,
          { call, state }: CallContext,
          target: Target
        ): Effect.Effect<A, E, R> => {
          const retries = call.options?.retries ?? defaultRetries
          if (retries === 0) return attempt
          const loop = (retry: number): Effect.Effect<A, E, R> =>
            Effect.catch(attempt, (error): Effect.Effect<A, E, R> => {
              if (retry >= retries || !isProviderError(error) || !error.retryable) return Effect.fail(error)
              const hinted = retryAfterOf(error)
              if (hinted !== undefined && hinted > maxRetryAfter) return Effect.fail(error)
              const wait = hinted !== undefined ? Effect.succeed(hinted) : backoff(retry)
              return Effect.flatMap(wait, (millis) =>
                state.deadlineAt === undefined ?
                  sleepThenRetry(millis, error, retry) :
                  Effect.flatMap(Clock.currentTimeMillis, (now) =>
                    // a retry that could only start after the call's deadline is not made: fail now with the real error
                    now + millis >= (state.deadlineAt as number)
                      ? Effect.fail(error)
                      : sleepThenRetry(millis, error, retry)))
            })
          const sleepThenRetry = (
            millis: number,
            error: E & { readonly _tag: string },
            retry: number
          ): Effect.Effect<A, E, R> =>
            Effect.logDebug(
              `retrying ${target.spec} in ${millis} ms after ${error._tag} (retry ${retry + 1} of ${retries})`
            ).pipe(
              Effect.andThen(Effect.sleep(Duration.millis(millis))),
              Effect.andThen(loop(retry + 1))
            )
          return loop(0)
        }
      )
    })
  })

/**
 * The retry step.
 *
 * @example
 * ```ts
 * const step = RetryStep.layer({ retries: 2, baseDelay: "500 millis", jitter: 0 })
 * ```
 */
export class RetryStep extends Context.Service<RetryStep, RetryStepShape>()("troupe/pipeline/RetryStep") {
  /**
   * Retries retryable provider failures (defaults: 3 retries, 1 s → 2 s → 4 s, ±20 % jitter). Fails to build with
   * `InvalidPipelineOptions` (naming the field) when `retries` is not an integer from 0 to 10, `factor` is outside
   * 1–10, `jitter` outside 0–1, or `baseDelay` / `maxDelay` / `maxRetryAfter` is neither a non-negative number of ms
   * nor a duration string.
   */
  static readonly layer = (options: RetryStepOptions = {}): Layer.Layer<RetryStep, InvalidPipelineOptions> =>
    Layer.effect(RetryStep, make(options))

  /** No retries. */
  static readonly none: Layer.Layer<RetryStep> = Layer.succeed(RetryStep, {
    around: dual(3, <A, E, R>(attempt: Effect.Effect<A, E, R>, _context: CallContext, _target: Target) => attempt)
  })
}

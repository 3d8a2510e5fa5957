/**
 * The whole-call deadline of an `Llm.generate` (see `CallLimits`): the call's `timeout`, else `CallLimits.deadline`.
 *
 * - **One clock per call**: it starts the first time the call computes an answer or waits for a shared one (after
 *   the response cache's lookup, so a hit never pays for a timer) and is kept on the call's state (`deadlineAt`, which
 *   the retry step reads), so a waiter that takes a shared call over has only what is left of its own deadline.
 * - **Each caller its own**: the bound is per caller; a waiter's bound ends only its own wait (see `SharedCall.ts`).
 * - A call past it fails with `CallDeadlineExceeded` (its configured `timeoutMillis` and the attempts made); when
 *   the call's own provider side was running, that failure is a dead letter (`DeadLetterStep`), as it was recorded
 *   from inside the provider side before.
 *
 * @internal
 */
import { Clock, Duration, Effect } from "effect"
import type { DeadLetterStepShape } from "../DeadLetterStep.ts"
import type { LlmCall } from "../LlmCall.ts"
import { CallDeadlineExceeded } from "../PipelineError.ts"
import type { CallContext } from "../Target.ts"
import type { CallerDeadline } from "./SharedCall.ts"

/** The whole-call deadline in ms: the call's `timeout` (validated by decodeLlmCall), else `fallbackMillis`. */
export const deadlineOf = (call: LlmCall, fallbackMillis: number): number => {
  const timeout = call.options?.timeout
  if (timeout === undefined) return fallbackMillis
  if (typeof timeout === "number") return timeout
  const d = Duration.fromInput(timeout as Duration.Input) // a positive duration string, validated by decodeLlmCall
  return d._tag === "Some" ? Duration.toMillis(d.value) : fallbackMillis
}

/** The bound of one call: `millis` from its first use (see the module doc), failing with `CallDeadlineExceeded`. */
export const makeCallDeadline =
  (deadLetters: DeadLetterStepShape | undefined) =>
  (context: CallContext, millis: number): CallerDeadline =>
  <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | CallDeadlineExceeded> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const state = context.state
      state.deadlineAt ??= now + millis
      const exceeded = Effect.suspend(() => {
        const failed = Effect.fail(new CallDeadlineExceeded({ timeoutMillis: millis, attempts: state.attempts }))
        // the call's own provider side was cut off: a permanent failure, recorded as it fails
        return deadLetters === undefined || !state.computed
          ? failed
          : Effect.andThen(Effect.exit(deadLetters.around(failed, context)), failed)
      })
      const left = state.deadlineAt - now
      return left <= 0
        ? exceeded
        : Effect.timeoutOrElse(self, { duration: Duration.millis(left), orElse: () => exceeded })
    })

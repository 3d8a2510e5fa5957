/**
 * A caller's waits: for room in a bounded `backpressure` mailbox, and for the reply, bounded by the call's timeout
 * (default 5 s, `"infinity"` waits forever), as `gen_server:call/3`'s timeout bounds the whole call.
 *
 * Rules:
 * - The timeout covers the wait for room and the wait for the reply together (`Actor.call` puts one `withTimeout`
 *   around both); it fails with `CallTimeout`.
 * - A caller that gives up (timeout, interruption) abandons its call (`From.abandon`): a later reply is dropped,
 *   and a blocked sender that gives up never delivers and never takes a slot.
 * - The timeout is trusted here: `Actor.call` and `Actor.stop` decode it first (`Options.checkCallOptions`).
 */
import { Duration, Effect } from "effect"
import type { Process } from "../Process.ts"
import { CallTimeout } from "../RuntimeError.ts"
import type { ActorProcess, DeliveryOutcome } from "./ActorProcess.ts"
import type { CallError, Envelope, From } from "./From.ts"

/** The timeout part of `Actor.CallOptions`. */
export interface Timed {
  readonly timeout?: Duration.Input | "infinity"
}

const DEFAULT_CALL_TIMEOUT = Duration.seconds(5)

/** No timeout: for a wait already bounded from outside. */
export const untimed: Timed = { timeout: "infinity" }

/** Bounds `effect` by the timeout (default 5 s), failing with `CallTimeout`. */
export const withTimeout = <A, E>(
  process: Process,
  options: Timed | undefined,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | CallTimeout> => {
  const timeout = options?.timeout ?? DEFAULT_CALL_TIMEOUT
  if (timeout === "infinity") return effect
  const duration = Duration.fromInputUnsafe(timeout)
  return Effect.timeoutOrElse(effect, {
    duration,
    orElse: () => Effect.fail(new CallTimeout({ target: process.name, timeoutMillis: Duration.toMillis(duration) }))
  })
}

/** Waits for the reply to `from` within the timeout; giving up abandons the call. */
export const awaitReply = <A>(
  process: ActorProcess,
  from: From<A>,
  options: Timed | undefined
): Effect.Effect<A, CallError> =>
  withTimeout(
    process,
    options,
    Effect.callback<A, CallError>((resume) => {
      from.await(resume)
      return Effect.sync(() => from.abandon())
    })
  )

/** Blocks until `envelope` entered the mailbox (`DELIVERED`) or the actor exited first (`DEAD`). */
export const waitForRoom = (process: ActorProcess, envelope: Envelope): Effect.Effect<DeliveryOutcome> =>
  Effect.callback<DeliveryOutcome>((resume) => {
    const cancel = process.blockSender(envelope, (outcome) => resume(Effect.succeed(outcome)))
    return Effect.sync(cancel)
  })

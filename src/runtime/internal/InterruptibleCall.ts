/**
 * The handler of a call made with `onTimeout: "interrupt"` (beyond OTP): the caller giving up (timeout,
 * interruption) interrupts the handler, and the actor goes on with its next message, its state unchanged.
 *
 * Rules:
 * - The handler keeps its actor's identity. It runs on a fiber of its own (the actor's fiber cannot be interrupted
 *   without killing the actor), forked off the actor's fiber with the actor's ACTOR slot set before the handler's
 *   first step: `Actor.self` is the actor, a call to itself fails with `CallingSelf`, a send to its own full
 *   `backpressure` mailbox fails with `MailboxFull { selfSend }`, and `Monitor.monitor` makes a monitor its actor
 *   owns, as in the handler of any other call.
 * - A caller that gives up at any time interrupts the handler: `from.onAbandon` is installed before the handler is
 *   forked (synchronously, from `dispatch`), so an abandonment before the handler's fiber exists skips the handler,
 *   and one while it runs (even before it first suspends) interrupts it.
 * - The handler's own outcome wins when it completes: a result after abandonment still becomes the state (its reply
 *   is dropped, as any late reply); only an interruption caused by the abandonment ends the call as abandoned.
 * - The handler's fiber is a child of the actor's fiber: a kill of the actor interrupts it too.
 */
import { Cause, Effect, Exit, Fiber } from "effect"
import { runningAs } from "./ActorLoop.ts"
import type { ActorProcess } from "./ActorProcess.ts"
import type { From } from "./From.ts"

/**
 * Runs `handler` for `actor` so that abandoning `from` interrupts it. `undefined` when the call was abandoned
 * before the handler completed (the handler was interrupted, or never started).
 */
export const interruptibleBy = <A, E, R>(
  actor: ActorProcess,
  from: From<unknown>,
  handler: Effect.Effect<A, E, R>
): Effect.Effect<A | undefined, E, R> => {
  let abandoned = false
  let fiber: Fiber.Fiber<A, E> | undefined = undefined
  from.onAbandon = () => {
    abandoned = true
    fiber?.interruptUnsafe()
  }
  return Effect.suspend(() => {
    if (abandoned) return Effect.succeed(undefined)
    return Effect.flatMap(Effect.forkChild(runningAs(actor, handler), { startImmediately: true }), (forked) => {
      fiber = forked
      // abandoned while the handler ran up to its first suspension: interrupt it now
      if (abandoned) forked.interruptUnsafe()
      return Effect.flatMap(
        Fiber.await(forked),
        (exit): Effect.Effect<A | undefined, E> =>
          Exit.isFailure(exit) && abandoned && Cause.hasInterruptsOnly(exit.cause) ? Effect.succeed(undefined) : exit
      )
    })
  })
}

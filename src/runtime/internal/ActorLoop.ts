/**
 * The actor loop's shared Effect values: module constants that find their actor through the running fiber, so
 * the loop costs no per-actor Effect objects (an idle actor is its `ActorProcess` plus its parked fiber).
 *
 * `receive` parks the fiber (its resume becomes the mailbox's `waiting`); `step` polls the mailbox and dispatches;
 * a crash (`onCrash`) or a stop result ends the loop with a `StopRequest`, and `runTerminate` runs the
 * behaviour's `terminate`. `mainEffect` is the fiber's whole program: `init`, then the loop.
 */
import { Cause, Effect, Fiber } from "effect"
import * as ExitReason from "../ExitReason.ts"
import type { ActorProcess } from "./ActorProcess.ts"
import type { Envelope, From } from "./From.ts"

/** What the loop does once it decides to stop: the reason, and a reply owed by `{stop, Reason, Reply, State}`. */
export interface StopRequest {
  readonly reason: ExitReason.ExitReason
  readonly from?: From<unknown>
  readonly reply?: { readonly value: unknown }
}

export type Step = Effect.Effect<StopRequest, unknown>

// ---------------------------------------------------------------------------------------------------------------
// Fiber → actor
// ---------------------------------------------------------------------------------------------------------------

const ACTOR: unique symbol = Symbol.for("troupe/ActorProcess")
interface ActorFiber {
  [ACTOR]?: ActorProcess
}

/** The actor a fiber runs, if it is an actor's fiber. */
export const actorOfFiber = (fiber: Fiber.Fiber<unknown, unknown>): ActorProcess | undefined =>
  // an actor's fiber carries the ACTOR slot (set in mainEffect); other fibers read undefined
  (fiber as unknown as ActorFiber)[ACTOR]

/** Is the fiber evaluating this code `actor`'s (its own fiber, or the fiber of a handler it runs)? */
export const onFiberOf = (actor: object): boolean => {
  const fiber = Fiber.getCurrent()
  return fiber !== undefined && actorOfFiber(fiber) === actor
}

/**
 * `effect`, run as `actor` on whatever fiber evaluates it: the fiber gets the ACTOR slot first, so `Actor.self` and
 * the self checks see the actor (for a handler forked off the actor's fiber).
 */
export const runningAs = <A, E, R>(actor: ActorProcess, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    // the ACTOR slot is our own property on the fiber object, as in mainEffect
    ;(fiber as unknown as ActorFiber)[ACTOR] = actor
    return effect
  })

/** The actor of the fiber evaluating this code (only called from the actor's own loop effects). */
const current = (): ActorProcess => {
  const fiber = Fiber.getCurrent()
  // the shared loop effects below only ever run on an actor's fiber, which has ACTOR set before init
  return (fiber as unknown as ActorFiber)[ACTOR] as ActorProcess
}

/** Handed from `launch` to the first evaluation of `mainEffect`, which runs synchronously inside `runForkWith`. */
let launching: ActorProcess | undefined = undefined

/** Runs `fork` (which must evaluate `mainEffect` synchronously, as `runForkWith` does) for `actor`. */
export const launchWith = <A>(actor: ActorProcess, fork: () => A): A => {
  launching = actor
  try {
    return fork()
  } finally {
    launching = undefined
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared loop effects
// ---------------------------------------------------------------------------------------------------------------

const receive: Effect.Effect<Envelope> = Effect.callback<Envelope>((resume) => {
  current().waiting = resume
})
export const step: Step = Effect.suspend(() => current().step())
export const continueLoop = (): Step => step
const onReceived = (envelope: Envelope): Step => current().dispatch(envelope) ?? step
export const park: Step = Effect.flatMap(receive, onReceived)
export const parkWithOptions: Step = Effect.suspend(() => current().prepareToPark())
export const yieldThenStep: Step = Effect.flatMap(Effect.yieldNow, continueLoop)
const onCrash = (cause: Cause.Cause<unknown>): Step =>
  Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.succeed({ reason: ExitReason.failure(cause) })
const runTerminate = (request: StopRequest): Effect.Effect<ExitReason.ExitReason, unknown> =>
  Effect.suspend(() => current().terminate(request))
export const loopFrom = (first: Step): Effect.Effect<ExitReason.ExitReason, unknown> =>
  Effect.flatMap(Effect.catchCause(first, onCrash), runTerminate)
export const mainLoop = loopFrom(step)
export const mainEffect: Effect.Effect<ExitReason.ExitReason, unknown> = Effect.withFiber((fiber) => {
  const actor = launching as ActorProcess // set by `launch` right before it forks this fiber
  launching = undefined // the ACTOR slot is our own property on the fiber object
  ;(fiber as unknown as ActorFiber)[ACTOR] = actor
  // mainEffect is this fiber's effect, so it completes with an ExitReason
  actor.fiber = fiber as Fiber.Fiber<ExitReason.ExitReason, unknown>
  return actor.runInit()
})

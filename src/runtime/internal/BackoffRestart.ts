/**
 * A child's pending backoff restart, shared by `Supervisor` and `DynamicSupervisor`.
 *
 * When a child with `backoff` is to be restarted, the supervisor (after counting the restart toward its intensity)
 * marks it `restarting` and forks a timer that sleeps Akka's delay (`Backoff.delayMillis` for the child's next
 * attempt, the attempt count reset by `Backoff.nextAttempt` when the child had run for `resetAfter` before it
 * crashed; a retry after a failed restart always takes the next step) and then sends the supervisor `BackoffDue`;
 * the supervisor starts the child when it handles that notice, if the child is still `restarting`.
 * Terminating the child (`SupervisorChild.terminateChild`, `signalAll`) cancels the timer.
 */
import { Effect, Random } from "effect"
import * as Actor from "../Actor.ts"
import * as Backoff from "./Backoff.ts"
import type { Child, SupervisorContext } from "./SupervisorChild.ts"

/** The notice a child's backoff timer sends its supervisor when the delay is over. */
export interface BackoffDue {
  readonly _tag: "BackoffDue"
  readonly child: Child
  readonly delayMillis: number
}

/**
 * Marks the child `restarting` and starts its backoff timer; `now` is when the restart was decided. A no-op for a
 * child without `backoff`.
 */
export const schedule = (context: SupervisorContext, child: Child, now: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const backoff = child.spec.backoff
    if (backoff === undefined) return
    // a retry after a failed restart is the next step; only a child that ran (and crashed) may start over
    if (!child.restarting) child.attempt = Backoff.nextAttempt(backoff, child.attempt, now - child.startedAt)
    const delay = Backoff.delayMillis(backoff, child.attempt, yield* Random.next)
    child.attempt++
    child.restarting = true
    const self = context.self
    child.timer = yield* Effect.forkDetach(
      Effect.flatMap(Effect.sleep(delay), () =>
        Effect.sync(() => {
          Actor.sendSystemUnsafe(self, { _tag: "BackoffDue", child, delayMillis: delay } satisfies BackoffDue)
        })),
      { startImmediately: true }
    )
  })

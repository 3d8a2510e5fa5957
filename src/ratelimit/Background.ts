/**
 * Supervision of the RateLimiter's long-lived fibers (the idle-key sweeper and the interval-refill ticker):
 * they run as `ChildSpec.task` workers under a one-for-one troupe `Supervisor` (OTP restart intensity: at
 * most `maxRestarts` restarts within `maxSeconds`), started in the layer's scope, so a crashing sweeper is
 * restarted and closing the layer shuts the tree down in order (lifecycle events go to `Lifecycle`).
 *
 * This file is the one place where the RateLimiter starts background fibers.
 */
import { Effect, type Scope } from "effect"
import { ChildSpec, Supervisor } from "../runtime/index.ts"

export interface BackgroundChild {
  readonly id: string
  readonly run: Effect.Effect<unknown, unknown>
}

export interface SuperviseOptions {
  readonly name: string
  readonly children: ReadonlyArray<BackgroundChild>
  readonly maxRestarts?: number
  readonly maxSeconds?: number
}

/** Starts the children under a one-for-one supervisor owned by the current scope. */
export const supervise = (options: SuperviseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Supervisor.start({
    name: options.name,
    strategy: "oneForOne",
    maxRestarts: options.maxRestarts ?? 3,
    maxSeconds: options.maxSeconds ?? 5,
    children: options.children.map((child) => ChildSpec.task({ id: child.id, run: child.run }))
  }).pipe(Effect.asVoid, Effect.orDie)

/**
 * The one place where the cache starts its long-lived fibers (the TTL sweeper and the Redis health probe).
 *
 * They run as `ChildSpec.task` workers of a troupe `Supervisor` (OTP `one_for_one`, restart intensity 3 in 5 s)
 * started in the cache layer's Scope: a crashing sweeper or probe is restarted by its supervisor, lifecycle events
 * (`ChildRestarted`, …) reach `Lifecycle` when it is provided, and closing the layer shuts the tree down. Should a
 * child exceed the restart intensity, the supervisor stops; the cache keeps serving (expired entries are still
 * never returned, they are only no longer swept in the background).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { ChildSpec, Supervisor } from "../../runtime/index.ts"

/** A long-running child: restarted when `run` fails or dies, stopped when the owning scope closes. */
export interface SupervisedTask {
  readonly id: string
  readonly run: Effect.Effect<unknown, unknown>
}

/** Starts `tasks` under a supervisor named `name` in the current Scope (the cache layer's scope). */
export const superviseTasks = (
  name: string,
  tasks: ReadonlyArray<SupervisedTask>
): Effect.Effect<Supervisor.SupervisorRef, never, Scope.Scope> =>
  Supervisor.start({
    name,
    strategy: "oneForOne",
    maxRestarts: 3,
    maxSeconds: 5,
    children: tasks.map((task) => ChildSpec.task({ id: task.id, run: task.run }))
  }).pipe(Effect.orDie)

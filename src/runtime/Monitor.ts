/**
 * Monitors: be told, exactly once, when a process exits.
 *
 * Mirrors `erlang:monitor(process, Pid)` / `demonitor`: a monitor delivers one `Down { monitor, pid, reason }`;
 * monitoring a process that is already dead delivers `Down` with reason `noproc` at once (not its old exit
 * reason, as in Erlang); after `demonitor` nothing is delivered. Monitors are one-way and stack: monitoring
 * twice gives two monitors and two `Down`s.
 *
 * Two deliveries: `monitor(target)` returns a handle whose `down` effect waits for the `Down` (for any fiber);
 * `monitorFrom(watcher, target)` puts the `Down` in an actor's mailbox, for its `handleInfo`.
 * Links (bidirectional exit propagation) are not provided; supervisors cover that role in troupe.
 */
import { Deferred, Effect } from "effect"
import * as Actor from "./Actor.ts"
import type { Down } from "./Behaviour.ts"
import * as ExitReason from "./ExitReason.ts"
import type { Process } from "./Process.ts"

let nextMonitor = 0

export interface MonitorRef {
  readonly id: number
  readonly target: Process
  /** waits for the `Down` (never completes after `demonitor`) */
  readonly down: Effect.Effect<Down>
  /** stops the monitor; no `Down` is delivered afterwards */
  readonly demonitor: Effect.Effect<void>
}

const watch = (target: Process, deliver: (down: Down) => void): { readonly id: number; readonly off: () => void } => {
  const id = ++nextMonitor
  if (target.exitReason !== undefined) {
    deliver({ _tag: "Down", monitor: id, pid: target.pid, reason: ExitReason.noproc })
    return { id, off: () => {} }
  }
  let active = true
  const off = target.onExit((reason) => {
    if (!active) return
    active = false
    deliver({ _tag: "Down", monitor: id, pid: target.pid, reason })
  })
  return {
    id,
    off: () => {
      active = false
      off()
    }
  }
}

/**
 * Monitors `target`; `down` completes with its `Down`.
 *
 * @example
 * ```ts
 * const m = yield* Monitor.monitor(worker)
 * const { reason } = yield* m.down
 * ```
 */
export const monitor = (target: Process): Effect.Effect<MonitorRef> =>
  Effect.gen(function*() {
    const deferred = yield* Deferred.make<Down>()
    const watcher = watch(target, (down) => Deferred.doneUnsafe(deferred, Effect.succeed(down)))
    return {
      id: watcher.id,
      target,
      down: Deferred.await(deferred),
      demonitor: Effect.sync(watcher.off)
    }
  })

/** Monitors `target` on behalf of the actor `watcher`: its `handleInfo` receives the `Down`. Returns the id. */
export const monitorFrom = (watcher: Process, target: Process): Effect.Effect<{ readonly id: number; readonly demonitor: Effect.Effect<void> }> =>
  Effect.sync(() => {
    const watched = watch(target, (down) => {
      Actor.sendSystemUnsafe(watcher, down)
    })
    return { id: watched.id, demonitor: Effect.sync(watched.off) }
  })

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
 * A monitor is removed when its watcher exits (for `monitor`, the actor that called it, if any), and `demonitor`
 * is O(1), so churn leaves no entries behind on the target. The `Down` is a system message: it never waits for
 * room and is never dropped by a bounded mailbox.
 * Links (bidirectional exit propagation) are not provided; supervisors cover that role in troupe.
 */
import { Deferred, Effect } from "effect"
import * as Actor from "./Actor.ts"
import type { Down } from "./Behaviour.ts"
import * as ExitReason from "./ExitReason.ts"
import type { Process } from "./Process.ts"

let nextMonitor = 0

/**
 * A monitor (`erlang:monitor/2`): the watcher receives one `Down` (or the callback runs once) when `target` exits;
 * `Monitor.demonitor` removes it in O(1).
 */
export interface MonitorRef {
  readonly id: number
  readonly target: Process
  /** waits for the `Down` (never completes after `demonitor`) */
  readonly down: Effect.Effect<Down>
  /** stops the monitor; no `Down` is delivered afterwards */
  readonly demonitor: Effect.Effect<void>
}

const noop = (): void => {}

/**
 * Watches `target` for `watcher` (absent: any fiber). Two registrations, each removed when the other side fires:
 * on the target (its exit delivers the `Down`) and on the watcher (its exit removes the monitor from the target),
 * so neither a dead target nor a dead watcher leaves an entry behind. Both removals are O(1).
 */
const watch = (
  target: Process,
  watcher: Process | undefined,
  deliver: (down: Down) => void
): { readonly id: number; readonly off: () => void } => {
  const id = ++nextMonitor
  if (target.exitReason !== undefined) {
    deliver({ _tag: "Down", monitor: id, pid: target.pid, reason: ExitReason.noproc })
    return { id, off: noop }
  }
  let active = true
  let offWatcher: () => void = noop
  const offTarget = target.onExit((reason) => {
    if (!active) return
    active = false
    offWatcher()
    deliver({ _tag: "Down", monitor: id, pid: target.pid, reason })
  })
  const off = () => {
    if (!active) return
    active = false
    offTarget()
    offWatcher()
  }
  if (watcher !== undefined) offWatcher = watcher.onExit(off)
  return { id, off }
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
    // called from an actor, the monitor is that actor's: removed when it exits
    const owner = yield* Actor.self
    const watcher = watch(target, owner, (down) => Deferred.doneUnsafe(deferred, Effect.succeed(down)))
    return {
      id: watcher.id,
      target,
      down: Deferred.await(deferred),
      demonitor: Effect.sync(watcher.off)
    }
  })

/** Monitors `target` on behalf of the actor `watcher`: its `handleInfo` receives the `Down`. Returns the id. */
export const monitorFrom = (
  watcher: Process,
  target: Process
): Effect.Effect<{ readonly id: number; readonly demonitor: Effect.Effect<void> }> =>
  Effect.sync(() => {
    const watched = watch(target, watcher, (down) => {
      Actor.sendSystemUnsafe(watcher, down)
    })
    return { id: watched.id, demonitor: Effect.sync(watched.off) }
  })

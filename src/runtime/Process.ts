/**
 * `Process`: what every supervised thing is — an actor, a task, a supervisor.
 *
 * Mirrors an Erlang pid as the supervisor and monitor machinery sees it: it has an identity, it is alive until it
 * exits with a reason, others can observe its exit (links and monitors are built on `onExit`), it can be asked to
 * stop (`exit(Pid, shutdown)` to a process that traps exits, which runs `terminate`), and it can be killed
 * (`exit(Pid, kill)`: Effect interruption, `terminate` does not run).
 *
 * A kill does not wait for finalizers: the exit `killed` is recorded (and its observers told) before `kill`
 * returns, even when the interrupted fiber is stuck in a finalizer that hangs; that fiber is detached and
 * reported, not awaited. A graceful stop does wait — `shutdown` gives it the timeout, then kills.
 *
 * Hand-rolled: Effect fibers have observers but no notion of a graceful stop signal or of exit reasons.
 * `ProcessBase` holds the observer bookkeeping shared by the implementations.
 */
import { Clock, Duration, Effect } from "effect"
import * as ExitReason from "./ExitReason.ts"

/** The brand that marks a `Process`. */
export const ProcessTypeId: unique symbol = Symbol.for("troupe/Process")
export type ProcessTypeId = typeof ProcessTypeId

/** What a process is to a supervisor: a worker or a supervisor. */
export type ProcessKind = "worker" | "supervisor"

/**
 * Anything a supervisor can run and a monitor can watch: an actor, a supervisor, a task. It has a pid, a name, an
 * exit reason once it has exited, and can be stopped gracefully or killed.
 */
export interface Process {
  readonly [ProcessTypeId]: ProcessTypeId
  /** unique in this Node process */
  readonly pid: number
  /** for humans: the registered or given name, else `<kind>#<pid>` */
  readonly name: string
  readonly kind: ProcessKind
  /** `undefined` while alive */
  readonly exitReason: ExitReason.ExitReason | undefined
  /** Runs `observer` once when the process exits (at once if it already has). Returns an unsubscribe function. */
  onExit(observer: (reason: ExitReason.ExitReason) => void): () => void
  /** Graceful stop: the process finishes what it is doing, runs its `terminate`, and exits with `reason`. */
  signalStop(reason: ExitReason.ExitReason): void
  /**
   * Brutal kill: interrupt now; `terminate` does not run; the exit reason is `killed`, recorded before `kill`
   * returns (finalizers still running are detached, not awaited).
   */
  kill(): void
}

type Observer = (reason: ExitReason.ExitReason) => void

/** True when `u` is a troupe `Process`. */
export const isProcess = (u: unknown): u is Process => typeof u === "object" && u !== null && ProcessTypeId in u

let nextPid = 0
/** A fresh pid. */
export const allocatePid = (): number => ++nextPid

/** Observer bookkeeping shared by process implementations. */
export abstract class ProcessBase implements Process {
  readonly [ProcessTypeId]: ProcessTypeId = ProcessTypeId
  readonly pid: number
  abstract readonly name: string
  abstract readonly kind: ProcessKind
  exitReason: ExitReason.ExitReason | undefined = undefined
  /**
   * A single observer is stored bare, more in a Set: most processes have exactly one (their supervisor), and a
   * Set makes removal (demonitor, a watcher's exit) O(1) however many monitors a process has.
   */
  private observers: Observer | Set<Observer> | undefined = undefined

  constructor() {
    this.pid = allocatePid()
  }

  onExit(observer: Observer): () => void {
    if (this.exitReason !== undefined) {
      observer(this.exitReason)
      return noop
    }
    const current = this.observers
    if (current === undefined) {
      this.observers = observer
      return () => this.removeObserver(observer)
    }
    let set: Set<Observer>
    if (typeof current === "function") {
      set = new Set([current])
      this.observers = set
    } else {
      set = current
    }
    // the same function registered twice is two registrations: the second is stored as its own wrapper
    const stored: Observer = set.has(observer) ? (reason) => observer(reason) : observer
    set.add(stored)
    return () => this.removeObserver(stored)
  }

  /** Exit observers currently registered (supervisor links, monitors, waiters): for tests and diagnostics. */
  get observerCount(): number {
    const current = this.observers
    return current === undefined ? 0 : typeof current === "function" ? 1 : current.size
  }

  private removeObserver(observer: Observer): void {
    const current = this.observers
    if (current === observer) this.observers = undefined
    else if (current !== undefined && typeof current !== "function") current.delete(observer)
  }

  /** Records the exit reason (once) and notifies observers in registration order. */
  protected markExited(reason: ExitReason.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.exitReason = reason
    const current = this.observers
    if (current === undefined) return
    if (typeof current === "function") {
      this.observers = undefined
      current(reason)
      return
    }
    // the Set stays in place while observers run, so one removed by an earlier observer is skipped
    for (const observer of current) observer(reason)
    this.observers = undefined
  }

  abstract signalStop(reason: ExitReason.ExitReason): void
  abstract kill(): void

  toString(): string {
    return `${this.name}<${this.pid}>`
  }
  toJSON(): unknown {
    return { pid: this.pid, name: this.name, kind: this.kind, alive: this.exitReason === undefined }
  }
}

const noop = (): void => {}

/** Waits for the process to exit and returns its reason. */
export const awaitExit = (process: Process): Effect.Effect<ExitReason.ExitReason> =>
  process.exitReason !== undefined
    ? Effect.succeed(process.exitReason)
    : Effect.callback<ExitReason.ExitReason>((resume) => {
      const off = process.onExit((reason) => resume(Effect.succeed(reason)))
      return Effect.sync(off)
    })

/**
 * OTP's shutdown protocol for one process: send the stop signal, wait up to `timeout` for it to exit, then kill
 * it. `"brutalKill"` kills at once; `"infinity"` waits forever. A kill does not wait for finalizers, so after
 * the kill the process has exited: `brutalKill` returns at once and a timeout returns when it expires, even when a
 * finalizer hangs. Time is Effect's `Clock`, so the protocol runs under `TestClock` in tests.
 */
export const shutdown = (
  process: Process,
  mode: "brutalKill" | "infinity" | number,
  reason: ExitReason.ExitReason = ExitReason.shutdown
): Effect.Effect<ExitReason.ExitReason> =>
  Effect.suspend(() => {
    if (process.exitReason !== undefined) return Effect.succeed(process.exitReason)
    if (mode === "brutalKill") {
      process.kill()
      return awaitExit(process)
    }
    process.signalStop(reason)
    if (mode === "infinity") return awaitExit(process)
    return awaitExit(process).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(mode),
        orElse: () =>
          Effect.suspend(() => {
            process.kill()
            return awaitExit(process)
          })
      })
    )
  })

/** Current time in ms from Effect's Clock (TestClock-aware), for restart windows and backoff. */
export const nowMillis: Effect.Effect<number> = Clock.currentTimeMillis

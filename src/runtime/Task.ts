/**
 * Tasks: a plain long-running Effect run as a supervised worker process (a TTL sweep, a refill tick, a watcher).
 *
 * Mirrors a `proc_lib` worker that is not a gen_server: it is alive while its fiber runs, exits `normal` when the
 * effect completes, crashes (`Failure`) when it fails or dies, and its "terminate" is its finalizers. A stop
 * signal interrupts the fiber and the task exits with the requested reason (usually `shutdown`) once its
 * finalizers have run: an ordinary shutdown waits for them, within the child's `shutdown` timeout.
 *
 * A kill does not wait for finalizers: it is OTP's untrappable `exit(Pid, kill)`. The fiber is interrupted and the
 * task exits `killed` at once, before `kill` returns — monitors, the registry and its supervisor see the exit, so
 * a `brutalKill` or a shutdown timeout returns and the supervisor goes on with its restart or its shutdown even
 * when a finalizer hangs. Finalizers still running are detached (they go on, not awaited) and reported as a
 * warning log (`internal/Kill.ts`); their later end changes nothing.
 */
import { Cause, type Context, Effect, Exit, type Fiber } from "effect"
import * as ExitReason from "./ExitReason.ts"
import { interruptDetached } from "./internal/Kill.ts"
import { ProcessBase, type ProcessKind } from "./Process.ts"

/**
 * The process behind `Task.start`: an Effect run as a supervised process (Elixir's `Task`), exiting `normal` when it
 * succeeds and with a `Failure` when it fails.
 */
export class TaskProcess extends ProcessBase {
  readonly name: string
  readonly kind: ProcessKind
  private fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  private requested: ExitReason.ExitReason | undefined = undefined

  constructor(name: string | undefined, kind: ProcessKind = "worker") {
    super()
    this.name = name ?? `task#${this.pid}`
    this.kind = kind
  }

  /** Forks `run` with `context`; the task is alive until the fiber exits. */
  start(run: Effect.Effect<unknown, unknown>, context: Context.Context<never>): this {
    const fiber = Effect.runForkWith(context)(run)
    this.fiber = fiber
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) this.onFiberExit(exit)
    else fiber.addObserver((e) => this.onFiberExit(e))
    return this
  }

  private onFiberExit(exit: Exit.Exit<unknown, unknown>): void {
    const reason = Exit.isSuccess(exit)
      ? ExitReason.normal
      : Cause.hasInterruptsOnly(exit.cause)
      ? this.requested ?? ExitReason.killed
      : ExitReason.failure(exit.cause)
    this.markExited(reason)
  }

  signalStop(reason: ExitReason.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.requested ??= reason
    this.fiber?.interruptUnsafe()
  }

  /** Interrupts the fiber and exits `killed` at once: finalizers still running are detached, not awaited. */
  kill(): void {
    if (this.exitReason !== undefined) return
    this.requested = ExitReason.killed
    const fiber = this.fiber
    if (fiber !== undefined && interruptDetached(this, fiber)) this.markExited(ExitReason.killed)
  }
}

/**
 * Starts `run` as a task process with the current context (its services).
 *
 * @example
 * ```ts
 * const sweeper = yield* Task.start("sweeper", sweep.pipe(Effect.repeat(Schedule.spaced("1 second"))))
 * ```
 */
export const start = <R>(name: string, run: Effect.Effect<unknown, unknown, R>): Effect.Effect<TaskProcess, never, R> =>
  Effect.withFiber((fiber) =>
    // R is in this function's type, so the fiber's context provides it
    Effect.sync(() =>
      new TaskProcess(name).start(run as Effect.Effect<unknown, unknown>, fiber.context as Context.Context<never>)
    )
  )

/**
 * The kill of a process's fiber: interrupt it, and do not wait for it (OTP's `exit(Pid, kill)` is untrappable and
 * immediate).
 *
 * Effect interruption runs the fiber's finalizers and the fiber exits only when they are done, so a finalizer
 * that hangs (`Effect.addFinalizer(() => Effect.never)`, an `Effect.ensuring` that never ends, a region that is
 * uninterruptible) would keep a killed process alive forever, and with it its supervisor's shutdown or restart.
 * Here the fiber is interrupted, and when it has not exited by the time the interrupt returns, the caller records
 * the exit (`killed`) at once: the fiber is detached and its finalizers go on, not awaited. If they are still
 * running once the current synchronous work is done (a microtask later, so a fiber that was killed from its own
 * stack and ends right after is not reported), a warning is logged through the fiber's own context (its logger,
 * with `pid` and `process` annotations) — the runaway is reported, never awaited.
 */
import { Effect, type Fiber } from "effect"
import type { Process } from "../Process.ts"

/**
 * Interrupts `fiber`, the fiber of `process`. Returns true when it is still running (its finalizers have not
 * finished): the caller must then record the process's exit itself, at once.
 */
export const interruptDetached = (process: Process, fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  fiber.interruptUnsafe()
  if (fiber.pollUnsafe() !== undefined) return false
  queueMicrotask(() => {
    if (fiber.pollUnsafe() === undefined) reportRunaway(process, fiber)
  })
  return true
}

const reportRunaway = (process: Process, fiber: Fiber.Fiber<unknown, unknown>): void => {
  Effect.runForkWith(fiber.context)(
    Effect.logWarning(
      `${process.name}<${process.pid}> was killed while its finalizers were still running: ` +
        "they go on detached and are not awaited"
    ).pipe(Effect.annotateLogs({ pid: process.pid, process: process.name }))
  )
}

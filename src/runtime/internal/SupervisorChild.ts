/**
 * A supervisor's record of one child, and the two things done to children: start one, terminate one.
 *
 * Mirrors OTP's `#child{}` record and `do_start_child` / `do_terminate`: a child is running (`process`), not
 * running (`undefined`: ignored, exited without restart, or terminated), or `restarting` (a restart failed and a
 * retry is pending, or a backoff delay is running). Starting subscribes the supervisor to the child's exit;
 * terminating unsubscribes first, so exits the supervisor caused itself never look like crashes.
 */
import { Cause, Clock, Effect, type Fiber } from "effect"
import * as Actor from "../Actor.ts"
import type { NormalizedSpec } from "../ChildSpec.ts"
import * as ExitReason from "../ExitReason.ts"
import { CurrentLifecycleSink, type LifecycleEvent, type LifecycleSink } from "../Lifecycle.ts"
import * as Process from "../Process.ts"
import { FailedToStartChild, InitFailed, StartIgnored } from "../RuntimeError.ts"

export interface Child {
  readonly spec: NormalizedSpec<unknown, ReadonlyArray<unknown>>
  readonly extra: ReadonlyArray<unknown>
  process: Process.Process | undefined
  restarting: boolean
  offExit: (() => void) | undefined
  /** Clock time of the last successful start */
  startedAt: number
  /** consecutive backoff attempts */
  attempt: number
  /** a pending backoff restart */
  timer: Fiber.Fiber<unknown> | undefined
}

export const makeChild = (
  spec: NormalizedSpec<unknown, ReadonlyArray<unknown>>,
  extra: ReadonlyArray<unknown> = []
): Child => ({
  spec,
  extra,
  process: undefined,
  restarting: false,
  offExit: undefined,
  startedAt: 0,
  attempt: 0,
  timer: undefined
})

/** The message a child's exit sends to its supervisor. */
export interface ChildExit {
  readonly _tag: "ChildExit"
  readonly child: Child
  readonly process: Process.Process
  readonly reason: ExitReason.ExitReason
}

export type StartOutcome =
  | { readonly _tag: "Started"; readonly process: Process.Process }
  | { readonly _tag: "Ignored" }
  | { readonly _tag: "Failed"; readonly reason: ExitReason.ExitReason }

/** What the supervisor's context offers the child operations. */
export interface SupervisorContext {
  readonly name: string
  readonly self: Process.Process
  readonly sink: LifecycleSink | undefined
  readonly now: () => number
}

/** The context of the supervisor whose `init` is running (its own process, lifecycle sink and clock). */
export const makeSupervisorContext = (name: string): Effect.Effect<SupervisorContext> =>
  Effect.gen(function*() {
    const self = yield* Actor.self
    if (self === undefined) return yield* Effect.die(new Error(`${name}: supervisor init outside its actor`))
    const clock = yield* Clock.Clock
    return { name, self, sink: yield* CurrentLifecycleSink, now: () => clock.currentTimeMillisUnsafe() }
  })

export const emit = (
  context: SupervisorContext,
  tag: LifecycleEvent["_tag"],
  fields: Omit<LifecycleEvent, "_tag" | "supervisor" | "timestamp"> = {}
): void => {
  context.sink?.publish({ _tag: tag, supervisor: context.name, timestamp: context.now(), ...fields })
}

/**
 * The reason a child failed to start with: `init`'s stop reason, OTP's `shutdown(failedToStartChild(...))` (a
 * normal reason) for a child supervisor whose own child failed to start, else the failure.
 */
const reasonOfStartFailure = (cause: Cause.Cause<unknown>): ExitReason.ExitReason => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some" && error.value instanceof InitFailed) return error.value.exitReason
  if (error._tag === "Some" && error.value instanceof FailedToStartChild) return ExitReason.shutdownWith(error.value)
  return ExitReason.failure(cause)
}

const isIgnored = (cause: Cause.Cause<unknown>): boolean => {
  const error = Cause.findErrorOption(cause)
  return error._tag === "Some" && error.value instanceof StartIgnored
}

const started = (context: SupervisorContext, child: Child, process: unknown): StartOutcome => {
  if (!Process.isProcess(process)) {
    const reason = ExitReason.die(new Error(`child ${child.spec.id}: start did not produce a process`))
    emit(context, "ChildStartFailed", { childId: child.spec.id, reason })
    return { _tag: "Failed", reason }
  }
  child.process = process
  child.restarting = false
  child.startedAt = context.now()
  if (context.sink !== undefined) emit(context, "ChildStarted", { childId: child.spec.id, pid: process.pid })
  child.offExit = process.onExit((reason) => {
    Actor.sendSystemUnsafe(context.self, { _tag: "ChildExit", child, process, reason } satisfies ChildExit)
  })
  return { _tag: "Started", process }
}

const notStarted = (context: SupervisorContext, child: Child, cause: Cause.Cause<unknown>): StartOutcome => {
  if (isIgnored(cause)) return ignored
  const reason = Cause.hasInterruptsOnly(cause) ? ExitReason.killed : reasonOfStartFailure(cause)
  emit(context, "ChildStartFailed", { childId: child.spec.id, reason })
  return { _tag: "Failed", reason }
}

const ignored: StartOutcome = Object.freeze({ _tag: "Ignored" })

/** Starts the child; on success, subscribes the supervisor to its exit. */
export const startChild = (context: SupervisorContext, child: Child): Effect.Effect<StartOutcome> => {
  let start: Effect.Effect<Process.Process, unknown>
  try {
    const spec = child.spec.start
    // a child's start yields its Process; R was provided when the spec was added
    start = (typeof spec === "function" ? spec(...child.extra) : spec) as Effect.Effect<Process.Process, unknown>
  } catch (defect) {
    start = Effect.die(defect)
  }
  return Effect.matchCause(start, {
    onSuccess: (process) => started(context, child, process),
    onFailure: (cause) => notStarted(context, child, cause)
  })
}

/** Cancels a pending backoff restart. */
export const cancelTimer = (child: Child): void => {
  const timer = child.timer
  child.timer = undefined
  timer?.interruptUnsafe()
}

/**
 * Terminates a running child with OTP's shutdown protocol (`brutalKill` | ms | `infinity`); a no-op for a child
 * that is not running. Returns the child's exit reason.
 */
export const terminateChild = (
  context: SupervisorContext,
  child: Child
): Effect.Effect<ExitReason.ExitReason | undefined> =>
  Effect.suspend(() => {
    cancelTimer(child)
    const process = child.process
    if (process === undefined) return Effect.succeed(undefined)
    child.offExit?.()
    child.offExit = undefined
    // `process` stays recorded until it is gone, so a kill of the supervisor meanwhile still reaches it
    return Effect.map(Process.shutdown(process, child.spec.shutdown), (reason) => {
      child.process = undefined
      emit(context, "ChildExited", { childId: child.spec.id, pid: process.pid, reason })
      return reason
    })
  })

/**
 * Sends the exit signal `reason` to every running child at once, without waiting: what their links deliver when
 * the supervisor itself was killed (`reason` is then `killed`).
 */
export const signalAll = (children: ReadonlyArray<Child>, reason: ExitReason.ExitReason): void => {
  for (const child of children) {
    cancelTimer(child)
    child.offExit?.()
    child.offExit = undefined
    child.process?.signalStop(reason)
  }
}

/**
 * The children's links, registered when the supervisor's init starts: a killed supervisor (`terminate` does not
 * run) sends each running child the exit signal `killed`, as in OTP — trapping ones run `terminate(killed)`, child
 * supervisors shut their subtrees down. A child whose start is in progress is killed by its interrupted start.
 */
export const linkChildren = (self: Process.Process, children: () => Iterable<Child>): void => {
  self.onExit((reason) => {
    if (reason._tag === "Killed") signalAll([...children()], ExitReason.killed)
  })
}

/** OTP's restart decision for a child that exited on its own. */
export const shouldRestart = (child: Child, reason: ExitReason.ExitReason): boolean => {
  switch (child.spec.restart) {
    case "permanent":
      return true
    case "transient":
      return ExitReason.isAbnormal(reason)
    case "temporary":
      return false
  }
}

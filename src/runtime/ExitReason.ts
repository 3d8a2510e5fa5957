/**
 * Exit reasons: why a process (actor, task, supervisor) stopped.
 *
 * Mirrors Erlang's exit reasons as `proc_lib` and `supervisor` classify them:
 * - `normal`, `shutdown` and `{shutdown, Term}` are the *normal* reasons: a transient child that exits with one
 *   of them is not restarted, and no crash is reported.
 * - `killed` is what a brutal kill (Effect interruption) leaves behind: `terminate` did not run.
 * - `Failure` carries the Effect `Cause` of a typed failure or a defect (a crash).
 * - `noproc` is only ever seen in a monitor's `Down` for a process that was already dead.
 *
 * Plain frozen objects (not classes) so that reasons compare structurally and cost nothing to create on the hot
 * path; `format` renders one for humans.
 */
import { Cause } from "effect"

/** `normal`: the process finished; links and `transient` restarts treat it as a clean exit. */
export interface Normal {
  readonly _tag: "Normal"
}
/** `shutdown` or `{shutdown, Term}`: stopped by its supervisor or on purpose; not a crash. */
export interface Shutdown {
  readonly _tag: "Shutdown"
  /** `{shutdown, Term}` when present */
  readonly term?: unknown
}
/** `killed`: brutally killed (`Actor.kill`, `brutalKill`, or a shutdown timeout); `terminate` did not run. */
export interface Killed {
  readonly _tag: "Killed"
}
/** A crash: the Effect `Cause` of the failure or defect that ended the process. */
export interface Failure {
  readonly _tag: "Failure"
  readonly cause: Cause.Cause<unknown>
}
/** `noproc`: the process did not exist (a monitor set on a dead process gets this reason). */
export interface NoProc {
  readonly _tag: "NoProc"
}

/** Why a process exited, as OTP's exit reasons. */
export type ExitReason = Normal | Shutdown | Killed | Failure | NoProc

/** The `normal` reason. */
export const normal: Normal = Object.freeze({ _tag: "Normal" })
/** The plain `shutdown` reason. */
export const shutdown: Shutdown = Object.freeze({ _tag: "Shutdown" })
/** The `killed` reason. */
export const killed: Killed = Object.freeze({ _tag: "Killed" })
/** The `noproc` reason. */
export const noproc: NoProc = Object.freeze({ _tag: "NoProc" })

/** `{shutdown, Term}`: a normal reason that carries a term. */
export const shutdownWith = (term: unknown): Shutdown => Object.freeze({ _tag: "Shutdown", term })

/** A crash: a typed failure or a defect, with its full `Cause`. */
export const failure = (cause: Cause.Cause<unknown>): Failure => Object.freeze({ _tag: "Failure", cause })

/** A crash from a plain error value (a typed failure). */
export const fail = (error: unknown): Failure => failure(Cause.fail(error))

/** A crash from a defect (a thrown value or `Effect.die`). */
export const die = (defect: unknown): Failure => failure(Cause.die(defect))

/** Is the value an exit reason? */
export const isExitReason = (u: unknown): u is ExitReason =>
  typeof u === "object" && u !== null && "_tag" in u &&
  (u._tag === "Normal" || u._tag === "Shutdown" || u._tag === "Killed" || u._tag === "Failure" || u._tag === "NoProc")

/** Same reason? Tags match, and a `shutdown(term)`'s terms and a failure's causes are the same values. */
export const equals = (a: ExitReason, b: ExitReason): boolean => {
  if (a === b) return true
  if (a._tag !== b._tag) return false
  switch (a._tag) {
    case "Shutdown":
      // the tags are equal (checked above), so b is a Shutdown too
      return ("term" in a) === ("term" in (b as Shutdown)) && a.term === (b as Shutdown).term
    case "Failure":
      // the tags are equal (checked above), so b is a Failure too
      return a.cause === (b as Failure).cause
    default:
      return true
  }
}

/** `normal`, `shutdown` and `shutdown(term)`: the reasons `proc_lib` treats as normal (no crash report). */
export const isNormal = (reason: ExitReason): boolean => reason._tag === "Normal" || reason._tag === "Shutdown"

/** Anything that is not a normal reason (`killed`, crashes, `noproc`). */
export const isAbnormal = (reason: ExitReason): boolean => !isNormal(reason)

/** A one-line human rendering, e.g. `failure(Error: boom)` or `shutdown(maintenance)`. */
export const format = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return "term" in reason ? `shutdown(${formatTerm(reason.term)})` : "shutdown"
    case "Killed":
      return "killed"
    case "NoProc":
      return "noproc"
    case "Failure":
      return `failure(${formatCause(reason.cause)})`
  }
}

const formatTerm = (term: unknown): string => {
  if (typeof term === "string") return term
  try {
    return JSON.stringify(term) ?? String(term)
  } catch {
    return String(term)
  }
}

const formatCause = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasInterruptsOnly(cause)) return "interrupted"
  const squashed = Cause.squash(cause)
  if (squashed instanceof Error) return `${squashed.name}: ${squashed.message}`
  if (typeof squashed === "object" && squashed !== null && "_tag" in squashed) return String(squashed._tag)
  return formatTerm(squashed)
}

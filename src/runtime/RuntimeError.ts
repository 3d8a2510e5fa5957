/**
 * The runtime's typed errors, one `Schema.TaggedError` class each.
 *
 * They mirror the error returns of OTP's `gen_server` and `supervisor`:
 * `noproc` → `NoProc`, a call timeout → `CallTimeout`, `calling_self` → `CallingSelf`, a server that exits while
 * a call is pending → `ActorExited`, `{already_started, Pid}` → `AlreadyStarted`, `already_present` →
 * `AlreadyPresent`, `running` / `restarting` / `not_found` → `ChildRunning` / `ChildRestarting` /
 * `ChildNotFound`, `{shutdown, {failed_to_start_child, Id, Reason}}` → `FailedToStartChild`, and `max_children`
 * → `MaxChildren`. Bad specs or options fail with `InvalidOptions`, whose `path` names the offending field.
 *
 * Exit reasons and processes are carried as `Schema.Unknown` fields: they are runtime values, not wire data.
 */
import { Schema } from "effect"
import { InvalidInputFields, invalidMessage } from "../internal/InvalidInput.ts"
import type { ExitReason } from "./ExitReason.ts"
import { format } from "./ExitReason.ts"

/** The target process is not alive (gen_server `noproc`). */
export class NoProc extends Schema.TaggedError<NoProc>()("NoProc", {
  target: Schema.String
}) {
  override get message(): string {
    return `no process: ${this.target} is not alive`
  }
}

/** A call did not get its reply within the timeout. */
export class CallTimeout extends Schema.TaggedError<CallTimeout>()("CallTimeout", {
  target: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `call to ${this.target} timed out after ${this.timeoutMillis} ms`
  }
}

/** An actor called itself, which would deadlock (gen_server `calling_self`). */
export class CallingSelf extends Schema.TaggedError<CallingSelf>()("CallingSelf", {
  target: Schema.String
}) {
  override get message(): string {
    return `${this.target} called itself`
  }
}

/** The actor exited before replying to a pending call; `reason` is its exit reason. */
export class ActorExited extends Schema.TaggedError<ActorExited>()("ActorExited", {
  target: Schema.String,
  reason: Schema.Unknown
}) {
  get exitReason(): ExitReason {
    // the field is Schema.Unknown so the error stays encodable; every constructor call passes an ExitReason
    return this.reason as ExitReason
  }
  override get message(): string {
    // an ExitReason, as above
    return `${this.target} exited with ${format(this.reason as ExitReason)} before replying`
  }
}

/** The mailbox was full and its overflow strategy is `fail` (or the call was evicted by `sliding`/`dropping`). */
export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  target: Schema.String,
  capacity: Schema.Number,
  /** an actor sent to its own full `backpressure` mailbox (waiting would deadlock) */
  selfSend: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    return this.selfSend === true
      ? `${this.target} sent to its own full mailbox (capacity ${this.capacity}); waiting would deadlock`
      : `mailbox of ${this.target} is full (capacity ${this.capacity})`
  }
}

/**
 * `Actor.stop` asked for `requested` but the process exited with `reason` (its `terminate` crashed, or it was
 * killed meanwhile): `gen_server:stop` exits with that reason.
 */
export class StopFailed extends Schema.TaggedError<StopFailed>()("StopFailed", {
  target: Schema.String,
  requested: Schema.Unknown,
  reason: Schema.Unknown
}) {
  get exitReason(): ExitReason {
    // the field is Schema.Unknown so the error stays encodable; every constructor call passes an ExitReason
    return this.reason as ExitReason
  }
  override get message(): string {
    // both fields hold ExitReasons, as above
    return `${this.target} was asked to stop with ${format(this.requested as ExitReason)} but exited with ${
      format(this.reason as ExitReason)
    }`
  }
}

/** `init` returned `stop(reason)` or failed: the actor did not start. */
export class InitFailed extends Schema.TaggedError<InitFailed>()("InitFailed", {
  name: Schema.String,
  reason: Schema.Unknown
}) {
  get exitReason(): ExitReason {
    // the field is Schema.Unknown so the error stays encodable; every constructor call passes an ExitReason
    return this.reason as ExitReason
  }
  override get message(): string {
    // an ExitReason, as above
    return `${this.name} failed to start: ${format(this.reason as ExitReason)}`
  }
}

/** `init` returned `ignore`: the actor did not start and no `terminate` ran (OTP `ignore`). */
export class StartIgnored extends Schema.TaggedError<StartIgnored>()("StartIgnored", {
  name: Schema.String
}) {
  override get message(): string {
    return `${this.name} ignored its start`
  }
}

/** A name is already registered (OTP `{already_started, Pid}`); `pid` is the holder's pid. */
export class AlreadyStarted extends Schema.TaggedError<AlreadyStarted>()("AlreadyStarted", {
  name: Schema.String,
  pid: Schema.Number
}) {
  override get message(): string {
    return `${this.name} is already started (pid ${this.pid})`
  }
}

/** A child spec with this id is present but not running (OTP `already_present`). */
export class AlreadyPresent extends Schema.TaggedError<AlreadyPresent>()("AlreadyPresent", {
  id: Schema.String
}) {
  override get message(): string {
    return `child ${this.id} is already present`
  }
}

/** No child with this id (OTP `not_found`). */
export class ChildNotFound extends Schema.TaggedError<ChildNotFound>()("ChildNotFound", {
  id: Schema.String
}) {
  override get message(): string {
    return `child ${this.id} not found`
  }
}

/** The operation needs a stopped child, but it is running (OTP `running`). */
export class ChildRunning extends Schema.TaggedError<ChildRunning>()("ChildRunning", {
  id: Schema.String
}) {
  override get message(): string {
    return `child ${this.id} is running`
  }
}

/** The child is between a failed restart and its retry (OTP `restarting`). */
export class ChildRestarting extends Schema.TaggedError<ChildRestarting>()("ChildRestarting", {
  id: Schema.String
}) {
  override get message(): string {
    return `child ${this.id} is restarting`
  }
}

/** A child failed to start (OTP `{failed_to_start_child, Id, Reason}`); `reason` is an exit reason. */
export class FailedToStartChild extends Schema.TaggedError<FailedToStartChild>()("FailedToStartChild", {
  id: Schema.String,
  reason: Schema.Unknown
}) {
  get exitReason(): ExitReason {
    // the field is Schema.Unknown so the error stays encodable; every constructor call passes an ExitReason
    return this.reason as ExitReason
  }
  override get message(): string {
    // an ExitReason, as above
    return `failed to start child ${this.id}: ${format(this.reason as ExitReason)}`
  }
}

/** A dynamic supervisor already runs `maxChildren` children. */
export class MaxChildren extends Schema.TaggedError<MaxChildren>()("MaxChildren", {
  supervisor: Schema.String,
  maxChildren: Schema.Number
}) {
  override get message(): string {
    return `${this.supervisor} already has its maximum of ${this.maxChildren} children`
  }
}

/** Options or a child spec failed validation; `path` names the field (e.g. `children[2].shutdown`). */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", InvalidInputFields) {
  override get message(): string {
    return invalidMessage(this)
  }
}

/** Errors a management call on a supervisor can return. */
export type ChildError = ChildNotFound | ChildRunning | ChildRestarting | AlreadyPresent | AlreadyStarted

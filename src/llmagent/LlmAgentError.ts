/**
 * The typed errors of supervised LLM agents (`LlmAgents`), one `Schema.TaggedError` class each.
 *
 * A turn ends in exactly one of: an answer, `TurnCancelled` (by `cancel(id)`, by the caller going away, or because
 * the agent stopped before the turn finished), `TurnFailed` (the model or the loop failed with a typed error,
 * kept in `error`; the agent keeps running), `TurnCrashed` (the turn died — a defect — and crashed its agent, which
 * its supervisor restarts according to the restart type), or `InvalidOutput` (the answer did not decode with the
 * definition's output Schema after the configured repairs). Addressing fails with `UnknownAgentKind` (no
 * definition serves the id) or `InvalidAgentId`; starting fails with `AgentStartFailed`; a full turn queue refuses
 * a turn with `AgentBusy`. Secrets never appear in
 * messages: model errors are already scrubbed by the providers, and only their tag and message are rendered.
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** The agent id is not acceptable (empty, too long, or with control characters). */
export class InvalidAgentId
  extends Schema.TaggedError<InvalidAgentId>()("InvalidAgentId", { ...Invalid.InvalidInputFields, id: Schema.String })
{
  /** An `InvalidAgentId` for `id` saying what is wrong with it. */
  static of(id: string, detail: string): InvalidAgentId {
    return new InvalidAgentId({ id, ...Invalid.fields("agent id", "", detail) })
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** The turn input did not decode; `path` names the bad field. */
export class InvalidTurnInput extends Schema.TaggedError<InvalidTurnInput>()("InvalidTurnInput", {
  ...Invalid.InvalidInputFields,
  id: Schema.String
}) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/**
 * An unfinished durable run's record does not decode as a turn (its input is not a turn input — e.g. it was written
 * before a schema change); `path` names the bad field. The run is not resumed: the `RunJournal` records it `failed`
 * with this error.
 */
export class InvalidRunRecord extends Schema.TaggedError<InvalidRunRecord>()("InvalidRunRecord", {
  ...Invalid.InvalidInputFields,
  runId: Schema.String
}) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** No definition serves this id (ids are `<definition>:<key>`, or any id when there is one default definition). */
export class UnknownAgentKind extends Schema.TaggedError<UnknownAgentKind>()("UnknownAgentKind", {
  id: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `no agent definition serves ${this.id} (known: ${this.known.join(", ")})`
  }
}

/** The agent's process could not be started (its `init` failed, e.g. the memory backend is down). */
export class AgentStartFailed extends Schema.TaggedError<AgentStartFailed>()("AgentStartFailed", {
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `agent ${this.id} failed to start: ${this.reason}`
  }
}

/** The turn was interrupted before it finished: `cancel`, the caller went away, or the agent stopped. */
export class TurnCancelled extends Schema.TaggedError<TurnCancelled>()("TurnCancelled", {
  id: Schema.String,
  reason: Schema.Literals(["cancelled", "caller-gone", "agent-stopped"])
}) {
  override get message(): string {
    return `turn of ${this.id} cancelled (${this.reason})`
  }
}

/** The model or the loop failed with a typed error (`error`); the agent keeps running. */
export class TurnFailed extends Schema.TaggedError<TurnFailed>()("TurnFailed", {
  id: Schema.String,
  /** the `_tag` of the underlying error, when it has one */
  tag: Schema.String,
  detail: Schema.String,
  error: Schema.Unknown
}) {
  override get message(): string {
    return `turn of ${this.id} failed: ${this.tag}: ${this.detail}`
  }
}

/** The turn died (a defect) and crashed its agent; the supervisor restarts it per its restart type. */
export class TurnCrashed extends Schema.TaggedError<TurnCrashed>()("TurnCrashed", {
  id: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `turn of ${this.id} crashed its agent: ${this.detail}`
  }
}

/** The answer did not decode with the output Schema after `repairs` repair rounds; `path` names the bad field. */
export class InvalidAgentOutput extends Schema.TaggedError<InvalidAgentOutput>()("InvalidAgentOutput", {
  id: Schema.String,
  path: Schema.String,
  detail: Schema.String,
  repairs: Schema.Number
}) {
  override get message(): string {
    return `answer of ${this.id} does not match the output schema at ${
      this.path || "(root)"
    } after ${this.repairs} repairs: ${this.detail}`
  }
}

/** What a turn (`ask`, `askStream`) can fail with. */
export type TurnError =
  | InvalidAgentId
  | InvalidTurnInput
  | UnknownAgentKind
  | AgentStartFailed
  | TurnCancelled
  | TurnFailed
  | TurnCrashed
  | InvalidAgentOutput
  | AgentBusy

/** Renders any failure as `{ tag, detail }` (no stack, no payload). */
export const describeError = (error: unknown): { readonly tag: string; readonly detail: string } => {
  if (typeof error === "object" && error !== null) {
    // a non-null object, read by optional fields
    const tagged = error as { readonly _tag?: unknown; readonly message?: unknown }
    const tag = typeof tagged._tag === "string" ? tagged._tag : error instanceof Error ? error.name : "Error"
    const detail = typeof tagged.message === "string" ? tagged.message : String(error)
    return { tag, detail: detail.slice(0, 500) }
  }
  return { tag: "Error", detail: String(error).slice(0, 500) }
}

/** The agent's turn queue is full (`maxQueuedTurns`): the turn was not accepted. */
export class AgentBusy extends Schema.TaggedError<AgentBusy>()("AgentBusy", {
  id: Schema.String,
  queued: Schema.Number
}) {
  override get message(): string {
    return `agent ${this.id} has ${this.queued} turns waiting; turn refused`
  }
}

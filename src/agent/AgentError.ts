/**
 * The agent subsystem's typed errors, one `Schema.TaggedError` class each.
 *
 * They mirror the error tuples of Jido (`{:error, %Jido.Error{type: :validation_error | :timeout | ...}}`):
 * bad params or output of an action (`InvalidParams` / `InvalidOutput`, with the path of the bad field),
 * a timed-out attempt (`ActionTimeout`), an action that failed after its retries (`ActionFailed`, with what its
 * compensation did), a signal or pattern that does not validate (`InvalidSignal`, `InvalidRoute`), a signal
 * nobody routes (`NoRoute`), a full bus buffer (`BusOverflow`), a full directive queue (`DirectiveQueueFull`),
 * unknown agents (`AgentNotFound`), and a crash inside a pure `cmd` (`CmdFailed`).
 *
 * `fromSchemaError` turns an Effect `SchemaError` into `{ path, detail }` with every issue, like the runtime's
 * `InvalidOptions`.
 *
 * The message of an error that carries a failure (`ActionFailed`, `CmdFailed`) renders it with the subsystem's
 * one total renderer (`internal/ErrorText.ts`): reading it never throws, whatever the failure is.
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { errorText } from "./internal/ErrorText.ts"

/** Renders a property path as `a.b[2].c` (the one path format of troupe). */
export const formatPath = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  Invalid.formatPath(path)

/** The first bad path and a readable list of every issue of a `SchemaError`. */
export const fromSchemaError = (error: Schema.SchemaError): { readonly path: string; readonly detail: string } =>
  Invalid.describeIssue(error.issue)

/** An action's (or tool's) params did not decode. */
export class InvalidParams
  extends Schema.TaggedError<InvalidParams>()("InvalidParams", { ...Invalid.InvalidInputFields, action: Schema.String })
{
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** An action produced an output that does not match its output Schema (a bug in the action). */
export class InvalidOutput
  extends Schema.TaggedError<InvalidOutput>()("InvalidOutput", { ...Invalid.InvalidInputFields, action: Schema.String })
{
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** One attempt of an action ran longer than its timeout. */
export class ActionTimeout extends Schema.TaggedError<ActionTimeout>()("ActionTimeout", {
  action: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `${this.action} timed out after ${this.timeoutMillis} ms`
  }
}

/** What the compensation of a finally failed action did. */
export const CompensationOutcome = Schema.Literals(["none", "succeeded", "failed", "timedOut"])
export type CompensationOutcome = typeof CompensationOutcome.Type

/** An action failed after all its attempts; `error` is the last failure, `compensation` what undo did. */
export class ActionFailed extends Schema.TaggedError<ActionFailed>()("ActionFailed", {
  action: Schema.String,
  attempts: Schema.Number,
  error: Schema.Unknown,
  compensation: CompensationOutcome
}) {
  override get message(): string {
    const cause = errorText(this.error)
    return `${this.action} failed after ${this.attempts} attempt(s): ${cause} (compensation: ${this.compensation})`
  }
}

/** A signal (or its input) does not satisfy the CloudEvents shape. */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>()("InvalidSignal", Invalid.InvalidInputFields) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/**
 * A message sent to an agent server from outside (a call's signal, instructions, status, options, a stop reason,
 * an agent id) does not decode; `entry` names the entry point (`call`, `cmd`, …) and `path` the bad field. The
 * agent never sees it and keeps running with its state.
 */
export class InvalidMessage extends Schema.TaggedError<InvalidMessage>()("InvalidMessage", {
  ...Invalid.InvalidInputFields,
  entry: Schema.String
}) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** A route pattern is malformed (empty segment, `*` inside a segment, ...). */
export class InvalidRoute
  extends Schema.TaggedError<InvalidRoute>()("InvalidRoute", { ...Invalid.InvalidInputFields, pattern: Schema.String })
{
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** No route of the agent matches the signal's type. */
export class NoRoute extends Schema.TaggedError<NoRoute>()("NoRoute", {
  agent: Schema.String,
  type: Schema.String
}) {
  override get message(): string {
    return `agent ${this.agent} has no route for signal type ${this.type}`
  }
}

/** A bus subscriber under the `fail` policy had a full buffer; the publish names it. */
export class BusOverflow extends Schema.TaggedError<BusOverflow>()("BusOverflow", {
  type: Schema.String,
  subscribers: Schema.Array(Schema.Number)
}) {
  override get message(): string {
    return `signal ${this.type} rejected by full subscriber buffer(s) ${this.subscribers.join(", ")}`
  }
}

/** An agent's directive queue cannot take the directives of a command. */
export class DirectiveQueueFull extends Schema.TaggedError<DirectiveQueueFull>()("DirectiveQueueFull", {
  agent: Schema.String,
  capacity: Schema.Number,
  pending: Schema.Number,
  incoming: Schema.Number
}) {
  override get message(): string {
    return `directive queue of ${this.agent} is full (${this.pending} pending + ${this.incoming} > ${this.capacity})`
  }
}

/** No agent is running under this id. */
export class AgentNotFound extends Schema.TaggedError<AgentNotFound>()("AgentNotFound", {
  id: Schema.String
}) {
  override get message(): string {
    return `no agent ${this.id} is running`
  }
}

/** `awaitStatus` gave up. */
export class StatusTimeout extends Schema.TaggedError<StatusTimeout>()("StatusTimeout", {
  id: Schema.String,
  status: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `agent ${this.id} did not reach status ${this.status} within ${this.timeoutMillis} ms`
  }
}

/**
 * A hook or route handler threw inside `cmd`, an instruction named an action the agent does not have, or the
 * instructions nested too deeply; the command was discarded.
 */
export class CmdFailed extends Schema.TaggedError<CmdFailed>()("CmdFailed", {
  agent: Schema.String,
  stage: Schema.String,
  error: Schema.Unknown
}) {
  override get message(): string {
    const cause = errorText(this.error)
    return `cmd of ${this.agent} failed in ${this.stage}: ${cause}`
  }
}

/**
 * The agent's state after a command no longer satisfies its state Schema, or one of the command's state
 * operations named a reserved key (`__proto__`, `constructor`, `prototype`); the command was discarded.
 */
export class InvalidState
  extends Schema.TaggedError<InvalidState>()("InvalidState", { ...Invalid.InvalidInputFields, agent: Schema.String })
{
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Options given to a public entry point do not decode. */
export class InvalidAgentOptions
  extends Schema.TaggedError<InvalidAgentOptions>()("InvalidAgentOptions", Invalid.InvalidInputFields)
{
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** A tool call was refused by the agent's allow/deny policy. */
export class ToolDenied extends Schema.TaggedError<ToolDenied>()("ToolDenied", {
  tool: Schema.String
}) {
  override get message(): string {
    return `tool ${this.tool} is not allowed for this agent`
  }
}

/** A tool call named a tool that does not exist. */
export class UnknownTool extends Schema.TaggedError<UnknownTool>()("UnknownTool", {
  tool: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unknown tool ${this.tool} (available: ${this.available.join(", ")})`
  }
}

/** Decodes `input` with `schema` or returns the typed options error naming the bad path. */
export const decodeOptions = <S extends Schema.Codec<unknown, unknown, never, never>>(
  schema: S,
  input: unknown,
  subject: string
): S["Type"] | InvalidAgentOptions => {
  const result = Schema.decodeUnknownResult(schema)(input, { errors: "all" })
  if (result._tag === "Success") return result.success
  const { path, detail } = fromSchemaError(result.failure)
  return new InvalidAgentOptions({ subject, path, detail })
}

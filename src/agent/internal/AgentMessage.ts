/**
 * Decoding of what an agent server receives from outside, before it reaches the agent's process.
 *
 * Rule: every message an `AgentServer` entry point takes (`call`'s and `cast`'s signal, `cmd`'s instructions,
 * `awaitStatus`'s status and timeout, `stop`'s reason, the agent id, call options) is checked with Schema; a bad
 * one is an `InvalidMessage { entry, path, detail }` to its sender and the agent never sees it, so it keeps
 * running with its state (Elixir's advice for GenServer APIs: validate in the client function, not in the
 * server). The agent process itself also answers a malformed call with `InvalidMessage` and ignores a malformed
 * cast or info (see `AgentProcess`), so a raw `Actor.call` cannot crash it either.
 *
 * Checks run with `Schema.is` (no allocation) and only a failure is decoded again for its path and detail. A
 * signal object that passed once is remembered (a `WeakSet`), so resending the same signal costs one lookup.
 */
import { Duration, Schema } from "effect"
import * as Invalid from "../../internal/InvalidInput.ts"
import { ExitReason } from "../../runtime/index.ts"
import { DurationInput } from "../../runtime/internal/Options.ts"
import * as Action from "../Action.ts"
import type { Status } from "../Agent.ts"
import { InvalidMessage } from "../AgentError.ts"
import * as Signal from "../Signal.ts"

const AnAction = Schema.declare((u: unknown): u is Action.Any => Action.isAction(u), {
  expected: "an Action (Action.make)"
})
const AFunction = Schema.declare(
  (u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function",
  {
    expected: "a function"
  }
)
const AnExitReason = Schema.declare((u: unknown): u is ExitReason.ExitReason => ExitReason.isExitReason(u), {
  expected: "an exit reason (ExitReason.normal, shutdown, shutdownWith(term), …)"
})

export const AgentId = Schema.String
export const StatusSchema = Schema.Literals(["idle", "running", "completed", "failed"])
export const InstructionSchema = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Signal"), signal: Signal.Signal }),
  Schema.Struct({ _tag: Schema.Literal("Action"), action: AnAction, params: Schema.optionalKey(Schema.Unknown) }),
  Schema.Struct({
    _tag: Schema.Literal("ActionResult"),
    action: Schema.String,
    outcome: Schema.Union([
      Schema.Struct({
        _tag: Schema.Literal("Success"),
        output: Schema.optionalKey(Schema.Unknown),
        ops: Schema.Array(Schema.Unknown)
      }),
      Schema.Struct({ _tag: Schema.Literal("Failure"), error: Schema.optionalKey(Schema.Unknown) })
    ])
  }),
  Schema.Struct({ _tag: Schema.Literal("Decide"), decide: AFunction })
])
export const Instructions = Schema.Array(InstructionSchema)
export const CallOptionsSchema = Schema.Struct({ timeout: Schema.optional(DurationInput) })
export const Reason = AnExitReason

const check = <S extends Schema.Codec<unknown, unknown, never, never>>(schema: S) => {
  const is = Schema.is(schema)
  const decode = Schema.decodeUnknownResult(schema)
  return (entry: string, prefix: string, input: unknown): InvalidMessage | undefined => {
    if (is(input)) return undefined
    const result = decode(input, { errors: "all" })
    if (result._tag === "Success") return undefined
    const { path, detail } = Invalid.describeIssue(result.failure.issue, prefix)
    return new InvalidMessage({ entry, subject: `message to ${entry}`, path, detail })
  }
}

const checkId = check(AgentId)
const checkSignalShape = check(Signal.Signal)
const checkInstructions = check(Instructions)
const checkStatus = check(StatusSchema)
const checkOptions = check(CallOptionsSchema)
const checkTimeout = check(DurationInput)
const checkReason = check(Reason)

const validSignals = new WeakSet<object>()
const validOptions = new WeakSet<object>()

/** The agent id of any entry point. */
export const id = (entry: string, input: unknown): InvalidMessage | undefined =>
  typeof input === "string" ? undefined : checkId(entry, "id", input)

/** A signal for `call` / `cast` (an object that passed before is not checked again). */
export const signal = (entry: string, input: unknown): InvalidMessage | undefined => {
  if (typeof input === "object" && input !== null && validSignals.has(input)) return undefined
  const bad = checkSignalShape(entry, "signal", input)
  // a shape without problems is an object (checkSignalShape rejects anything else)
  if (bad === undefined) validSignals.add(input as object)
  return bad
}

/** `cmd`'s instructions. */
export const instructions = (entry: string, input: unknown): InvalidMessage | undefined =>
  checkInstructions(entry, "instructions", input)

/** `awaitStatus`'s status. */
export const status = (entry: string, input: unknown): InvalidMessage | undefined => checkStatus(entry, "status", input)

/** Call options (`{ timeout }`), checked once per options object. */
export const callOptions = (entry: string, input: unknown): InvalidMessage | undefined => {
  if (input === undefined) return undefined
  if (typeof input === "object" && input !== null && validOptions.has(input)) return undefined
  const bad = checkOptions(entry, "options", input)
  // options without problems are an object (checkOptions rejects anything else)
  if (bad === undefined) validOptions.add(input as object)
  return bad
}

/** A timeout given on its own (`awaitStatus`). */
export const timeout = (entry: string, input: unknown): InvalidMessage | undefined =>
  input === undefined ? undefined : checkTimeout(entry, "timeout", input)

/** `stop`'s reason. */
export const reason = (entry: string, input: unknown): InvalidMessage | undefined =>
  input === undefined ? undefined : checkReason(entry, "reason", input)

/** Is `status` one of the agent statuses? (for the process's own guard) */
export const isStatus = Schema.is(StatusSchema) as (u: unknown) => u is Status

/** What the agent process answers a malformed call with (a raw `Actor.call` can send anything). */
export const malformed = (request: unknown): InvalidMessage =>
  new InvalidMessage({
    entry: "agent process",
    ...Invalid.fields(
      "message to agent process",
      "",
      `not a signal or agent request: ${
        typeof request === "object" && request !== null ? "unknown _tag" : typeof request
      }`
    )
  })

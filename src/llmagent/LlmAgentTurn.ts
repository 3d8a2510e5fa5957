/**
 * The values a supervised LLM agent exchanges with its callers: a turn's input (`TurnInput`, untrusted: decoded with
 * Schema), its answer (`TurnAnswer`), the agent's `AgentStatus`, and the id rules.
 *
 * Plain tagged values, so they serialise as JSON (the gateway sends them over HTTP as they are). **A turn's input is
 * kept as decoded**: a message list keeps only the fields of `LlmMessage`, so what an untrusted caller adds reaches
 * neither the model nor memory. **A turn is bounded**: a user message has 1 to `MAX_TURN_CHARS` (1,000,000)
 * characters; a message list at most `MAX_TURN_MESSAGES` (10,000) messages and `MAX_TURN_CHARS` characters of text.
 */
import { Schema } from "effect"
import type { AgentLoop } from "../agent/index.ts"
import * as Invalid from "../internal/InvalidInput.ts"
import { LlmMessage, type Usage } from "../llm/index.ts"
import { argumentsLength } from "../llm/TokenEstimate.ts"
import { InvalidAgentId, InvalidTurnInput } from "./LlmAgentError.ts"

/** A turn: a user message, or messages to append; `maxSteps` overrides the definition's step budget. */
export type TurnInput = string | {
  readonly input: string | ReadonlyArray<LlmMessage>
  readonly maxSteps?: number
}

/** The answer of one turn. */
export interface TurnAnswer<Out = unknown> {
  readonly id: string
  /** the final answer text */
  readonly text: string
  /** the answer decoded with the definition's output Schema; the text when there is none */
  readonly output: Out
  readonly stopReason: AgentLoop.StopReason
  /** model calls made (repairs included) */
  readonly steps: number
  readonly toolCalls: number
  readonly usage: Usage
  /** the `TokenCounter`'s estimate of the input tokens over every model call, beside the actual `usage` */
  readonly estimatedInputTokens: number
  /** estimated cost in USD from the price table (0 when the model has no price) */
  readonly costUsd: number
  /** repair rounds the output Schema needed */
  readonly repairs: number
  /** from the start of the turn to its answer, on Effect's `Clock` */
  readonly durationMillis: number
  /** the run id of a durable turn (`Journal.replay(runId)`); absent for other turns */
  readonly runId?: string
}

/** What `status(id)` reports. A stopped agent (never started, idle-stopped, evicted) is `alive: false`. */
export interface AgentStatus {
  readonly id: string
  readonly alive: boolean
  /** `running`: a turn is in flight; `idle`: none; `stopped`: no process */
  readonly state: "idle" | "running" | "stopped"
  /** turns waiting behind the running one */
  readonly queued: number
  /** turns finished by this incarnation */
  readonly turns: number
  /** messages of history loaded from memory when this incarnation started */
  readonly historyAtStart: number
  /** how many times this agent's process was started (first start, restarts, revivals) on this node */
  readonly incarnation: number
  readonly pid: number | undefined
  /** where the running turn is (its current step), once its first step began; absent when idle */
  readonly current?: TurnProgress
}

/**
 * Where a running turn is: its step (model calls so far, from 1), and whether the step waits on the model or runs
 * tools. Kept from the loop's events (`AgentLoop.LoopProgress`), so `ask`, `tell` and streamed turns all report it.
 */
export interface TurnProgress {
  readonly step: number
  readonly phase: "model" | "tools"
  /** the tools running in this step, by name (empty while the model is asked) */
  readonly tools: ReadonlyArray<string>
  /** wall-clock epoch ms at which the phase began (a display value: not the layer's `Clock`) */
  readonly since: number
}

/** A validated turn. */
export interface CheckedTurn {
  readonly input: string | ReadonlyArray<LlmMessage>
  readonly maxSteps: number | undefined
  /** the dead letter this turn redrives (`TurnRedrive`): a failure is then not recorded as a new letter */
  readonly redriveOf?: string
}

/** Most messages a turn's message list may hold. */
export const MAX_TURN_MESSAGES = 10_000

/**
 * Most characters of text a turn may carry: a user message, or the messages of a list together (their contents,
 * and their tool calls' names and arguments as JSON).
 */
export const MAX_TURN_CHARS = 1_000_000

const TurnSchema = Schema.Struct({
  input: Schema.Union([
    Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_TURN_CHARS)),
    Schema.NonEmptyArray(LlmMessage).check(Schema.isMaxLength(MAX_TURN_MESSAGES))
  ]),
  maxSteps: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 })))
})
const decodeTurn = Schema.decodeUnknownResult(TurnSchema)

const pathOf = (error: Schema.SchemaError): { path: string; detail: string } => Invalid.describeIssue(error.issue)

/** The index of the message at which a list passes `MAX_TURN_CHARS` characters of text; undefined when it does not. */
const pastCharBound = (messages: ReadonlyArray<LlmMessage>): number | undefined => {
  let chars = 0
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as LlmMessage // i < length
    chars += m.content.length
    if (m.role === "assistant" && m.toolCalls !== undefined) {
      for (const call of m.toolCalls) chars += call.name.length + argumentsLength(call.arguments)
    }
    if (chars > MAX_TURN_CHARS) return i
  }
  return undefined
}

/**
 * Validates a turn and keeps it as decoded: a message list keeps only the fields of `LlmMessage` (anything else an
 * untrusted caller sent is dropped). Returns `InvalidTurnInput` naming the bad field when the input is neither a
 * string of 1 to `MAX_TURN_CHARS` characters nor `{ input, maxSteps? }` with such a string or a non-empty list of at
 * most `MAX_TURN_MESSAGES` valid messages holding at most `MAX_TURN_CHARS` characters of text (the path then names
 * the message at which the total passes it), and `maxSteps` an integer from 1 to 1,000.
 */
export const checkTurn = (id: string, input: unknown): CheckedTurn | InvalidTurnInput => {
  // the common case, a plain user message, needs no decoder
  if (typeof input === "string" && input.length > 0 && input.length <= MAX_TURN_CHARS) {
    return { input, maxSteps: undefined }
  }
  const value = typeof input === "string" ? { input } : input
  const result = decodeTurn(value, { errors: "first" })
  const subject = `turn of agent ${id}`
  if (result._tag === "Failure") {
    const { path, detail } = pathOf(result.failure)
    return new InvalidTurnInput({ id, subject, path, detail })
  }
  const decoded = result.success.input
  const past = typeof decoded === "string" ? undefined : pastCharBound(decoded)
  if (past !== undefined) {
    return new InvalidTurnInput({
      id,
      ...Invalid.fields(subject, `input[${past}]`, `the messages hold more than ${MAX_TURN_CHARS} characters of text`)
    })
  }
  return { input: decoded, maxSteps: result.success.maxSteps }
}

/** Longest accepted id. */
export const MAX_ID_LENGTH = 256

// eslint-disable-next-line no-control-regex -- an id must not contain control characters: this matches them on purpose
const CONTROL = /[\u0000-\u001f\u007f]/

/** Validates an agent id: 1–256 characters, no control characters. */
export const checkId = (id: unknown): InvalidAgentId | undefined => {
  if (typeof id !== "string") return InvalidAgentId.of(String(id), "expected a string")
  if (id.length === 0) return InvalidAgentId.of(id, "must not be empty")
  if (id.length > MAX_ID_LENGTH) return InvalidAgentId.of(id, `longer than ${MAX_ID_LENGTH} characters`)
  if (CONTROL.test(id)) return InvalidAgentId.of(id, "contains control characters")
  return undefined
}

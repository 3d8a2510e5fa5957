/**
 * The values a supervised LLM agent exchanges with its callers: a turn's input (`TurnInput`, untrusted: decoded with
 * Schema), its answer (`TurnAnswer`), the agent's `AgentStatus`, and the id rules.
 *
 * Plain tagged values, so they serialise as JSON (the gateway sends them over HTTP as they are).
 */
import { Schema } from "effect"
import type { AgentLoop } from "../agent/index.ts"
import * as Invalid from "../internal/InvalidInput.ts"
import { LlmMessage, type Usage } from "../llm/index.ts"
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

const TurnSchema = Schema.Struct({
  input: Schema.Union([
    Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1_000_000)),
    Schema.NonEmptyArray(LlmMessage)
  ]),
  maxSteps: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 })))
})
const decodeTurn = Schema.decodeUnknownResult(TurnSchema)

const pathOf = (error: Schema.SchemaError): { path: string; detail: string } => Invalid.describeIssue(error.issue)

/** Validates a turn; the typed error names the bad field. */
export const checkTurn = (id: string, input: unknown): CheckedTurn | InvalidTurnInput => {
  // the common case, a plain user message, needs no decoder
  if (typeof input === "string" && input.length > 0 && input.length <= 1_000_000) return { input, maxSteps: undefined }
  const value = typeof input === "string" ? { input } : input
  const result = decodeTurn(value, { errors: "first" })
  if (result._tag === "Failure") {
    const { path, detail } = pathOf(result.failure)
    return new InvalidTurnInput({ id, subject: `turn of agent ${id}`, path, detail })
  }
  // decoded by TurnSchema just above, so it has the turn's input
  return { input: (value as CheckedTurn).input, maxSteps: result.success.maxSteps }
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

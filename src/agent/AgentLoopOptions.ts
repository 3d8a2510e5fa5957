/**
 * The agent loop's configuration and per-run input, the model-client shape it calls, and their validation.
 *
 * `ModelClient` is the shape shared by `LlmProvider` (src/llm) and the pipeline's `Llm` (src/pipeline) — `generate`
 * and `stream` of an `LlmRequest` — so either plugs in, with its own error type. Options are untrusted: they are
 * decoded with Effect `Schema` into a typed `InvalidAgentOptions` naming the bad field (like every agent option).
 */
import { Duration, type Effect, Option, Schema, type Stream } from "effect"
import type { GuardBlocked, GuardShape } from "../guard/index.ts"
import type {
  LlmMessage,
  LlmParams as LlmParamsType,
  LlmRequest,
  LlmResponse,
  LlmStreamPart,
  ResponseFormat as ResponseFormatType,
  ToolCall as LlmToolCall,
  ToolChoice as ToolChoiceType
} from "../llm/index.ts"
import { LlmMessage as LlmMessageSchema, LlmParams, ResponseFormat, ToolChoice } from "../llm/index.ts"
import type { ConversationMemoryShape, MemoryError } from "../memory/index.ts"
import type { InvalidOptions } from "../runtime/index.ts"
import type { TelemetryHubShape } from "../telemetry/index.ts"
import { decodeOptions, InvalidAgentOptions } from "./AgentError.ts"
import type { ToolDefinition } from "./Tool.ts"
import type { ToolPolicy, ToolResult } from "./ToolRunner.ts"

/**
 * The model the loop calls: the shape of `LlmProvider` (and of the pipeline's `Llm`), with any error type `E` and
 * per-call options `O` (e.g. `LlmCallOptions` of a provider), passed as `callOptions`.
 */
export interface ModelClient<E = never, O = never> {
  readonly generate: (request: LlmRequest, options?: O) => Effect.Effect<LlmResponse, E>
  readonly stream: (request: LlmRequest, options?: O) => Stream.Stream<LlmStreamPart, E>
}

/** What an agent loop is configured with (validated by `make` / `run` / `runStream`). */
export interface AgentLoopConfig<E = never, O = never> {
  /** the model client: a provider, the pipeline's `Llm`, or any value of that shape */
  readonly llm: ModelClient<E, O>
  /** the model alias or spec put in every request's `model` */
  readonly model: string
  readonly systemPrompt?: string
  /** the tools offered to the model (their JSON Schema goes into the request's `tools`) */
  readonly tools?: ReadonlyArray<ToolDefinition>
  /** which tools the model may call; denied tools are not offered, and calling one is a tool error */
  readonly policy?: ToolPolicy
  /** tool calls running at once; default 4 */
  readonly concurrency?: number
  /** per tool call (on top of each action's own timeout); default 30 seconds */
  readonly toolTimeout?: Duration.Input
  /** model calls per run; default 8 */
  readonly maxSteps?: number
  readonly params?: LlmParamsType
  readonly toolChoice?: ToolChoiceType
  /** sent with every model call (e.g. OpenAI `json_schema` structured output for the final answer) */
  readonly responseFormat?: ResponseFormatType
  /** passed as the second argument of every `generate` / `stream` call */
  readonly callOptions?: O
  /** the agent's name: telemetry (`gen_ai.agent.name`) and the tool supervisor's name */
  readonly agent?: string
  /** conversation memory; default: `ConversationMemory` from the context, when a `conversationId` is given */
  readonly memory?: ConversationMemoryShape
  /**
   * the hub that tracks each known tool's execution (`trackToolExecution`); none: no tool telemetry. The loop
   * looks no service up from the context but `ConversationMemory`, and that one is in its type.
   */
  readonly telemetry?: TelemetryHubShape
  /**
   * guardrails (`Guard.make(...)` from src/guard): the user input is checked at stage `input`, every tool result at
   * stage `document`, the final answer at stage `output`; a block fails the run with `GuardBlocked`
   */
  readonly guard?: GuardShape
  /**
   * wraps each tool call's execution (its result is a value either way); `LlmAgents` journals the calls of durable
   * turns with it (`Journal.tool`). Default: none
   */
  readonly wrapToolCall?: (call: LlmToolCall, run: Effect.Effect<ToolResult>) => Effect.Effect<ToolResult>
}

/** One run: the new user turn (or messages), optionally the conversation it continues. */
export interface AgentLoopInput {
  /** a user message, or messages to append (e.g. a user turn with a name) */
  readonly input: string | ReadonlyArray<LlmMessage>
  /** load the history from memory and append this run's messages to it */
  readonly conversationId?: string
  /** overrides the configured `maxSteps` for this run */
  readonly maxSteps?: number
}

/** The loop's own failures (the model's errors `E` pass through unchanged). */
export type AgentLoopError = InvalidAgentOptions | InvalidOptions | MemoryError | GuardBlocked

/** Default model calls per run. */
export const DEFAULT_MAX_STEPS = 8

const NonEmpty = Schema.String.check(Schema.isMinLength(1))
const Steps = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 }))
const isDuration = (u: unknown): boolean => {
  // fromInput validates any input and returns undefined for a bad one
  const d = Duration.fromInput(u as Duration.Input)
  return Option.isSome(d) && Duration.toMillis(d.value) > 0
}
const hasFunctions = (...names: ReadonlyArray<string>) =>
  Schema.Unknown.check(Schema.makeFilter((u: unknown) =>
    (typeof u === "object" && u !== null &&
      // u is a non-null object (checked above); reading its fields by name
      names.every((n) => typeof (u as Record<string, unknown>)[n] === "function")) ||
    `expected an object with ${names.join(" and ")} functions`
  ))

const ConfigSchema = Schema.Struct({
  llm: hasFunctions("generate", "stream"),
  model: NonEmpty,
  systemPrompt: Schema.optionalKey(Schema.String),
  tools: Schema.optionalKey(Schema.Array(Schema.Unknown)),
  concurrency: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))),
  toolTimeout: Schema.optionalKey(
    Schema.Unknown.check(Schema.makeFilter((u: unknown) => isDuration(u) || "expected a positive duration"))
  ),
  maxSteps: Schema.optionalKey(Steps),
  params: Schema.optionalKey(LlmParams),
  toolChoice: Schema.optionalKey(ToolChoice),
  responseFormat: Schema.optionalKey(ResponseFormat),
  agent: Schema.optionalKey(NonEmpty),
  memory: Schema.optionalKey(hasFunctions("append", "messages")),
  guard: Schema.optionalKey(hasFunctions("check", "window")),
  telemetry: Schema.optionalKey(hasFunctions("trackToolExecution", "emit"))
})

const InputSchema = Schema.Struct({
  input: Schema.Union([NonEmpty, Schema.NonEmptyArray(LlmMessageSchema)]),
  conversationId: Schema.optionalKey(NonEmpty.check(Schema.isMaxLength(512))),
  maxSteps: Schema.optionalKey(Steps)
})

/** A validated configuration (tools defaulted). */
export type Checked<E, O> = AgentLoopConfig<E, O> & { readonly tools: ReadonlyArray<ToolDefinition> }

/** Validates a configuration; the typed error names the bad field (e.g. `maxSteps`, `llm`). */
export const checkConfig = <E, O>(config: AgentLoopConfig<E, O>): Checked<E, O> | InvalidAgentOptions => {
  const checked = decodeOptions(ConfigSchema, config, "agent loop options")
  if (checked instanceof InvalidAgentOptions) return checked
  return { ...config, tools: config.tools ?? [] }
}

/** Validates one run's input (a string is a user message). */
export const checkInput = (input: string | AgentLoopInput): AgentLoopInput | InvalidAgentOptions => {
  const value = typeof input === "string" ? { input } : input
  const checked = decodeOptions(InputSchema, value, "agent loop input")
  return checked instanceof InvalidAgentOptions ? checked : value
}

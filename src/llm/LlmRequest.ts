/**
 * The provider-agnostic LLM request: messages (system / user / assistant / tool), tool definitions with JSON Schema
 * parameters, tool choice, sampling parameters and an optional JSON response format — as Schemas, so the pipeline
 * decodes untrusted requests with `decodeLlmRequest` and gets a typed `InvalidLlmRequest` naming the bad field.
 *
 * The message shapes follow the OpenAI chat-completions model (the lingua franca that Groq, DeepSeek, Mistral,
 * Ollama, vLLM and OpenRouter also speak): an assistant message carries its text and its tool calls; each tool
 * result is its own `tool` message naming the call it answers. The Anthropic wire codec converts from these.
 * Everything is JSON-encodable (conversation memory and the response cache store it as is). Plain Effect `Schema`.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { InvalidLlmRequest } from "./LlmError.ts"

const NonEmptyString = Schema.String.check(Schema.isMinLength(1))

/** A tool name as every provider accepts it: letters, digits, `_` and `-`, 1 to 64 characters. */
export const ToolName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/))

/**
 * A tool call made by the model. `arguments` is the parsed JSON the model produced (normally an object); when the
 * model produced text that is not valid JSON, it is that raw text (a JSON string) so the agent can report it back.
 */
export const ToolCall = Schema.Struct({
  id: NonEmptyString,
  name: NonEmptyString,
  arguments: Schema.Json
})
export type ToolCall = typeof ToolCall.Type

/** A system instruction. */
export const SystemMessage = Schema.Struct({
  role: Schema.Literal("system"),
  content: Schema.String
})
export type SystemMessage = typeof SystemMessage.Type

/** A user turn. */
export const UserMessage = Schema.Struct({
  role: Schema.Literal("user"),
  content: Schema.String,
  name: Schema.optionalKey(Schema.String)
})
export type UserMessage = typeof UserMessage.Type

/** An assistant turn: its text (may be empty) and the tool calls it made. */
export const AssistantMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: Schema.String,
  toolCalls: Schema.optionalKey(Schema.Array(ToolCall))
})
export type AssistantMessage = typeof AssistantMessage.Type

/** The result of one tool call, sent back to the model. `isError` marks a failed tool run. */
export const ToolMessage = Schema.Struct({
  role: Schema.Literal("tool"),
  toolCallId: NonEmptyString,
  name: Schema.optionalKey(Schema.String),
  content: Schema.String,
  isError: Schema.optionalKey(Schema.Boolean)
})
export type ToolMessage = typeof ToolMessage.Type

/** One chat message. */
export const LlmMessage = Schema.Union([SystemMessage, UserMessage, AssistantMessage, ToolMessage])
export type LlmMessage = typeof LlmMessage.Type

/** A tool the model may call; `parameters` is a JSON Schema object (e.g. from `Tool.getJsonSchema`). */
export const ToolDefinition = Schema.Struct({
  name: ToolName,
  description: Schema.optionalKey(Schema.String),
  parameters: Schema.Record(Schema.String, Schema.Json)
})
export type ToolDefinition = typeof ToolDefinition.Type

/** Whether and which tools the model may call: `auto` (default), `none`, `required`, or one named tool. */
export const ToolChoice = Schema.Union([
  Schema.Literals(["auto", "none", "required"]),
  Schema.Struct({ tool: ToolName })
])
export type ToolChoice = typeof ToolChoice.Type

/** Sampling parameters; absent means the provider's default. */
export const LlmParams = Schema.Struct({
  temperature: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 }))),
  maxTokens: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  topP: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  stop: Schema.optionalKey(Schema.Array(NonEmptyString).check(Schema.isMaxLength(16)))
})
export type LlmParams = typeof LlmParams.Type

/**
 * Ask for plain text (default) or for a JSON object matching `schema` (a JSON Schema); `strict: true` asks OpenAI
 * for strict structured output (the schema must be in the strict subset, e.g. from `OpenAiStructuredOutput`).
 */
export const ResponseFormat = Schema.Union([
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({
    type: Schema.Literal("json"),
    name: ToolName,
    schema: Schema.Record(Schema.String, Schema.Json),
    strict: Schema.optionalKey(Schema.Boolean)
  })
])
export type ResponseFormat = typeof ResponseFormat.Type

/**
 * A provider-agnostic LLM request. `model` is the provider's own model name (the pipeline resolves aliases first).
 *
 * @example
 * ```ts
 * const request: LlmRequest = {
 *   model: "gpt-4o-mini",
 *   messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Weather in Oslo?" }],
 *   tools: [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }],
 *   params: { temperature: 0 }
 * }
 * ```
 */
export const LlmRequest = Schema.Struct({
  model: NonEmptyString,
  messages: Schema.NonEmptyArray(LlmMessage),
  tools: Schema.optionalKey(Schema.Array(ToolDefinition)),
  toolChoice: Schema.optionalKey(ToolChoice),
  params: Schema.optionalKey(LlmParams),
  responseFormat: Schema.optionalKey(ResponseFormat)
})
export type LlmRequest = typeof LlmRequest.Type

/** Turns a Schema issue into an `InvalidLlmRequest` naming the path of the first bad field. */
export const invalidRequestFromIssue = (issue: SchemaIssue.Issue, root = ""): InvalidLlmRequest =>
  new InvalidLlmRequest({ subject: "LLM request", ...Invalid.describeIssue(issue, root) })

const decodeRequest = Schema.decodeUnknownEffect(LlmRequest)

/**
 * Decodes an untrusted request, failing with `InvalidLlmRequest` (every issue listed, the first one's path named).
 *
 * @example
 * ```ts
 * const request = yield* decodeLlmRequest(json) // Effect<LlmRequest, InvalidLlmRequest>
 * ```
 */
export const decodeLlmRequest = (input: unknown): Effect.Effect<LlmRequest, InvalidLlmRequest> =>
  decodeRequest(input, { errors: "all" }).pipe(Effect.mapError((e) => invalidRequestFromIssue(e.issue)))

/** The text of the last user message, or `""`. */
export const lastUserText = (messages: ReadonlyArray<LlmMessage>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (m !== undefined && m.role === "user") return m.content
  }
  return ""
}

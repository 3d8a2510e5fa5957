/**
 * The Anthropic Messages wire format (`POST /v1/messages`): encoding an `LlmRequest`, decoding the JSON answer,
 * and folding the SSE events of a streamed answer — `message_start`, `content_block_start` / `_delta` / `_stop`
 * (text deltas and `input_json_delta` for tool use), `message_delta` (stop reason, output usage), `message_stop`,
 * `ping` and `error` — into `LlmStreamPart`s.
 *
 * Conversions from the OpenAI-shaped `LlmMessage`s: system messages become the top-level `system`; tool results
 * become `tool_result` blocks of a user turn (consecutive turns of the same role are merged, as the API requires
 * alternation); `max_tokens` (required by the API) defaults to 4096; a JSON response format becomes a system
 * instruction (the API has no JSON mode). Wire shapes are effect `Schema`s.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Schema } from "effect"
import type { ProviderError } from "./LlmError.ts"
import { MalformedResponse, ProviderConnectionError } from "./LlmError.ts"
import type { LlmRequest, ToolCall } from "./LlmRequest.ts"
import type { FinishReason, LlmResponse, LlmStreamPart } from "./LlmResponse.ts"
import { makeUsage, parseToolArguments, TokenCount } from "./LlmResponse.ts"
import { errorFromStreamEvent, malformedFrom } from "./ProviderErrorMapping.ts"

/** `max_tokens` when the request sets none (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096

type Block = Record<string, unknown>
interface Turn {
  role: "user" | "assistant"
  content: Array<Block>
}

const toolInput = (args: Schema.Json): Schema.Json =>
  typeof args === "object" && args !== null && !Array.isArray(args) ? args : { value: args }

/** The `/v1/messages` body of `request`. */
export const encodeAnthropicBody = (request: LlmRequest, stream: boolean): Record<string, unknown> => {
  const system: Array<string> = []
  const turns: Array<Turn> = []
  const push = (role: Turn["role"], blocks: ReadonlyArray<Block>) => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...blocks)
    else turns.push({ role, content: [...blocks] })
  }
  for (const m of request.messages) {
    switch (m.role) {
      case "system":
        system.push(m.content)
        break
      case "user":
        push("user", [{ type: "text", text: m.content }])
        break
      case "assistant":
        push("assistant", [
          ...(m.content !== "" ? [{ type: "text", text: m.content }] : []),
          ...(m.toolCalls ?? []).map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: toolInput(c.arguments) }))
        ])
        break
      case "tool":
        push("user", [{
          type: "tool_result",
          tool_use_id: m.toolCallId,
          content: m.content,
          ...(m.isError === true ? { is_error: true } : {})
        }])
        break
    }
  }
  if (request.responseFormat?.type === "json") {
    system.push(
      `Respond with only a JSON object (no prose, no code fences) named "${request.responseFormat.name}" that matches ` +
        `this JSON Schema: ${JSON.stringify(request.responseFormat.schema)}`
    )
  }
  const body: Record<string, unknown> = {
    model: request.model,
    max_tokens: request.params?.maxTokens ?? DEFAULT_MAX_TOKENS,
    messages: turns
  }
  if (system.length > 0) body["system"] = system.join("\n\n")
  const tools = request.tools ?? []
  if (tools.length > 0) {
    body["tools"] = tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema: t.parameters
    }))
  }
  const choice = request.toolChoice
  if (choice !== undefined && tools.length > 0) {
    body["tool_choice"] = choice === "auto"
      ? { type: "auto" }
      : choice === "required"
      ? { type: "any" }
      : choice === "none"
      ? { type: "none" }
      : { type: "tool", name: choice.tool }
  }
  const params = request.params
  if (params?.temperature !== undefined) body["temperature"] = Math.min(1, params.temperature)
  if (params?.topP !== undefined) body["top_p"] = params.topP
  if (params?.stop !== undefined && params.stop.length > 0) body["stop_sequences"] = params.stop
  if (stream) body["stream"] = true
  return body
}

const Count = Schema.optional(Schema.NullOr(TokenCount)) // a hostile count fails the decode (typed), never a cost
const UsageWire = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  cache_read_input_tokens: Count,
  cache_creation_input_tokens: Count
})
type UsageWire = typeof UsageWire.Type

const ContentBlockWire = Schema.Struct({
  type: Schema.String,
  text: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  input: Schema.optional(Schema.Json)
})

const ResponseWire = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  content: Schema.Array(ContentBlockWire),
  stop_reason: Schema.optional(Schema.NullOr(Schema.String)),
  usage: Schema.optional(Schema.NullOr(UsageWire))
})

const EventWire = Schema.Struct({
  type: Schema.String,
  index: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.Struct({
    id: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String),
    usage: Schema.optional(Schema.NullOr(UsageWire))
  })),
  content_block: Schema.optional(ContentBlockWire),
  delta: Schema.optional(Schema.Struct({
    type: Schema.optional(Schema.String),
    text: Schema.optional(Schema.String),
    partial_json: Schema.optional(Schema.String),
    stop_reason: Schema.optional(Schema.NullOr(Schema.String))
  })),
  usage: Schema.optional(Schema.NullOr(UsageWire)),
  error: Schema.optional(Schema.Unknown)
})

const decodeResponse = Schema.decodeUnknownExit(ResponseWire)
const decodeEvent = Schema.decodeUnknownExit(EventWire)

/** Maps Anthropic's `stop_reason`. */
export const anthropicFinishReason = (reason: string | null | undefined, hasToolCalls: boolean): FinishReason => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return hasToolCalls ? "tool-calls" : "stop"
    case "max_tokens":
      return "length"
    case "tool_use":
      return "tool-calls"
    case "refusal":
      return "content-filter"
    case null:
    case undefined:
      return hasToolCalls ? "tool-calls" : "stop"
    default:
      return "other"
  }
}

/** Input tokens include cache reads and writes (Anthropic reports them apart from `input_tokens`). */
const inputTokensOf = (u: UsageWire | null | undefined): number =>
  (u?.input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0)

/** Decodes a non-streaming Messages answer. */
export const decodeAnthropicResponse = (
  provider: string,
  request: LlmRequest,
  json: unknown
): Effect.Effect<LlmResponse, ProviderError> => {
  const exit = decodeResponse(json)
  if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(provider, "unexpected Messages answer", exit))
  const wire = exit.value
  let text = ""
  const toolCalls: Array<ToolCall> = []
  for (const block of wire.content) {
    if (block.type === "text") text += block.text ?? ""
    else if (block.type === "tool_use") {
      toolCalls.push({ id: block.id ?? `toolu_${toolCalls.length}`, name: block.name ?? "", arguments: block.input ?? {} })
    }
  }
  return Effect.succeed({
    ...(wire.id !== undefined ? { id: wire.id } : {}),
    provider,
    model: wire.model ?? request.model,
    text,
    toolCalls,
    finishReason: anthropicFinishReason(wire.stop_reason, toolCalls.length > 0),
    usage: makeUsage(inputTokensOf(wire.usage), wire.usage?.output_tokens ?? 0, wire.usage?.cache_read_input_tokens ?? undefined)
  })
}

interface PendingTool {
  readonly toolIndex: number
  readonly id: string
  readonly name: string
  readonly initialInput: Schema.Json | undefined
  json: string
}

/** Folds the SSE events of one streamed Messages answer. One instance per stream. */
export class AnthropicStreamState {
  private readonly tools = new Map<number, PendingTool>()
  private toolCount = 0
  private id: string | undefined
  private model: string | undefined
  private inputTokens = 0
  private cachedTokens = 0
  private outputTokens = 0
  private stopReason: string | null | undefined
  private done = false
  private readonly provider: string
  private readonly request: LlmRequest
  private readonly secrets: ReadonlyArray<string>

  constructor(provider: string, request: LlmRequest, secrets: ReadonlyArray<string>) {
    this.provider = provider
    this.request = request
    this.secrets = secrets
  }

  /** Whether `message_stop` has been seen. */
  get finished(): boolean {
    return this.done
  }

  /** The parts one SSE event yields, or the failure it reports. */
  onEvent(data: string): Effect.Effect<ReadonlyArray<LlmStreamPart>, ProviderError> {
    if (this.done) return Effect.succeed([])
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      return Effect.fail(
        new MalformedResponse({ provider: this.provider, description: `stream event is not JSON: ${data.slice(0, 80)}`, retryable: false })
      )
    }
    const exit = decodeEvent(json)
    if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(this.provider, "unexpected stream event", exit))
    const event = exit.value
    switch (event.type) {
      case "message_start": {
        const usage = event.message?.usage
        this.id = event.message?.id
        this.model = event.message?.model
        this.inputTokens = inputTokensOf(usage)
        this.cachedTokens = usage?.cache_read_input_tokens ?? 0
        this.outputTokens = usage?.output_tokens ?? 0
        return Effect.succeed([])
      }
      case "content_block_start": {
        const block = event.content_block
        if (block?.type === "tool_use" && event.index !== undefined) {
          const pending: PendingTool = {
            toolIndex: this.toolCount++,
            id: block.id ?? `toolu_${this.toolCount}`,
            name: block.name ?? "",
            initialInput: block.input,
            json: ""
          }
          this.tools.set(event.index, pending)
          return Effect.succeed([{ _tag: "ToolCallStart", index: pending.toolIndex, id: pending.id, name: pending.name }])
        }
        if (block?.type === "text" && block.text !== undefined && block.text !== "") {
          return Effect.succeed([{ _tag: "TextDelta", delta: block.text }])
        }
        return Effect.succeed([])
      }
      case "content_block_delta": {
        const delta = event.delta
        if (delta?.type === "text_delta" && delta.text !== undefined && delta.text !== "") {
          return Effect.succeed([{ _tag: "TextDelta", delta: delta.text }])
        }
        const pending = event.index === undefined ? undefined : this.tools.get(event.index)
        if (delta?.type === "input_json_delta" && pending !== undefined && delta.partial_json !== undefined) {
          pending.json += delta.partial_json
          if (delta.partial_json === "") return Effect.succeed([])
          return Effect.succeed([
            { _tag: "ToolCallDelta", index: pending.toolIndex, id: pending.id, argumentsDelta: delta.partial_json }
          ])
        }
        return Effect.succeed([])
      }
      case "content_block_stop": {
        const pending = event.index === undefined ? undefined : this.tools.get(event.index)
        if (pending === undefined) return Effect.succeed([])
        const args = pending.json !== "" ? parseToolArguments(pending.json) : pending.initialInput ?? {}
        return Effect.succeed([
          { _tag: "ToolCall", index: pending.toolIndex, toolCall: { id: pending.id, name: pending.name, arguments: args } }
        ])
      }
      case "message_delta":
        if (event.delta?.stop_reason !== undefined) this.stopReason = event.delta.stop_reason
        if (event.usage?.output_tokens != null) this.outputTokens = event.usage.output_tokens
        if (event.usage?.input_tokens != null) this.inputTokens = inputTokensOf(event.usage)
        return Effect.succeed([])
      case "message_stop":
        this.done = true
        return Effect.succeed([{
          _tag: "Finish",
          ...(this.id !== undefined ? { id: this.id } : {}),
          provider: this.provider,
          model: this.model ?? this.request.model,
          finishReason: anthropicFinishReason(this.stopReason, this.toolCount > 0),
          usage: makeUsage(this.inputTokens, this.outputTokens, this.cachedTokens)
        }])
      case "error":
        return Effect.fail(errorFromStreamEvent(this.provider, json, this.secrets))
      default:
        return Effect.succeed([]) // ping and future event types
    }
  }

  /** The body ended: fine after `message_stop`, else the stream was cut. */
  end(): Effect.Effect<ReadonlyArray<LlmStreamPart>, ProviderError> {
    if (this.done) return Effect.succeed([])
    return Effect.fail(
      new ProviderConnectionError({
        provider: this.provider,
        description: "stream ended before message_stop; the answer is incomplete",
        retryable: true
      })
    )
  }
}

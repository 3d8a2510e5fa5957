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
 * Requests the API accepts (https://docs.anthropic.com/en/api/messages): `temperature` ranges over 0..1, so a higher
 * one fails with a typed `ProviderRejectedRequest` naming `params.temperature` (it used to be clamped silently);
 * `temperature` and `top_p` are never both sent (newer models reject the pair; the docs say to alter one), so
 * `top_p` is dropped when `temperature` is set; empty or whitespace-only text blocks are never sent (the API
 * rejects them), and a request left with no message at all fails with `ProviderRejectedRequest` naming `messages`.
 *
 * Answers read as `@anthropic-ai/sdk` reads them: usage keeps cache reads and cache writes apart
 * (`cachedInputTokens`, `cacheWriteInputTokens`, both parts of `inputTokens`); `message_delta` usage is cumulative
 * and merged field by field (a partial one keeps the fields it does not repeat); a count sent nowhere is estimated
 * and the usage marked `estimated` (`WireUsage.ts`, one rule for both wires); `model_context_window_exceeded` is a
 * `length` stop; a tool call still open when the message stops (cut by `max_tokens`), or when a `content_block_start`
 * starts its index again, is completed with the arguments received so far (raw text when they are not yet JSON), so
 * every `ToolCallStart` gets its `ToolCall`; an `error` event, flat (`{ message }`) or wrapped
 * (`{ type: "error", error }`), fails the stream with the error classified as over HTTP (`errorFromStreamEvent`).
 *
 * @since 0.1.0
 */
import { Effect, Exit, Schema } from "effect"
import type { ProviderError } from "../LlmError.ts"
import { MalformedResponse, ProviderConnectionError, ProviderRejectedRequest } from "../LlmError.ts"
import type { LlmRequest, ToolCall } from "../LlmRequest.ts"
import type { FinishReason, LlmResponse, LlmStreamPart } from "../LlmResponse.ts"
import { parseToolArguments } from "../LlmResponse.ts"
import { errorFromStreamEvent, malformedFrom, scrubSecrets } from "../ProviderErrorMapping.ts"
import { sanitize } from "./SecretScrub.ts"
import type { AnthropicCounts } from "./WireUsage.ts"
import { anthropicCounts, anthropicUsage, AnthropicUsageWire, mergeAnthropicCounts } from "./WireUsage.ts"

/** `max_tokens` when the request sets none (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096

type Block = Record<string, unknown>
interface Turn {
  role: "user" | "assistant"
  content: Array<Block>
}

const toolInput = (args: Schema.Json): Schema.Json =>
  typeof args === "object" && args !== null && !Array.isArray(args) ? args : { value: args }

/** The highest `temperature` the Messages API accepts. */
export const MAX_TEMPERATURE = 1

const textBlock = (text: string): ReadonlyArray<Block> => (text.trim() === "" ? [] : [{ type: "text", text }])

/**
 * The `/v1/messages` body of `request`. Fails with a non-retryable `ProviderRejectedRequest` naming the field when
 * the API would reject the request: `params.temperature` above 1, or no non-empty message left.
 */
export const encodeAnthropicBody = (
  request: LlmRequest,
  stream: boolean,
  provider = "anthropic"
): Effect.Effect<Record<string, unknown>, ProviderRejectedRequest> => {
  const params = request.params
  if (params?.temperature !== undefined && params.temperature > MAX_TEMPERATURE) {
    return Effect.fail(
      new ProviderRejectedRequest({
        provider,
        description: `params.temperature: ${params.temperature} is above the Messages API's maximum of ` +
          `${MAX_TEMPERATURE} (not sent)`,
        retryable: false
      })
    )
  }
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
        push("user", textBlock(m.content))
        break
      case "assistant":
        push("assistant", [
          ...textBlock(m.content),
          ...(m.toolCalls ?? []).map((c) => ({
            type: "tool_use",
            id: c.id,
            name: c.name,
            input: toolInput(c.arguments)
          }))
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
  if (turns.length === 0) {
    return Effect.fail(
      new ProviderRejectedRequest({
        provider,
        description: "messages: no user or assistant message with content (the Messages API rejects empty text)",
        retryable: false
      })
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
  if (params?.temperature !== undefined) body["temperature"] = params.temperature
  else if (params?.topP !== undefined) body["top_p"] = params.topP
  if (params?.stop !== undefined && params.stop.length > 0) body["stop_sequences"] = params.stop
  if (stream) body["stream"] = true
  return Effect.succeed(body)
}

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
  usage: Schema.optional(Schema.NullOr(AnthropicUsageWire))
})

const EventWire = Schema.Struct({
  type: Schema.String,
  index: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.Struct({
    id: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String),
    usage: Schema.optional(Schema.NullOr(AnthropicUsageWire))
  })),
  content_block: Schema.optional(ContentBlockWire),
  delta: Schema.optional(Schema.Struct({
    type: Schema.optional(Schema.String),
    text: Schema.optional(Schema.String),
    partial_json: Schema.optional(Schema.String),
    stop_reason: Schema.optional(Schema.NullOr(Schema.String))
  })),
  usage: Schema.optional(Schema.NullOr(AnthropicUsageWire)),
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
    case "model_context_window_exceeded":
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
      toolCalls.push({
        id: block.id ?? `toolu_${toolCalls.length}`,
        name: block.name ?? "",
        arguments: block.input ?? {}
      })
    }
  }
  return Effect.succeed({
    ...(wire.id !== undefined ? { id: wire.id } : {}),
    provider,
    model: wire.model != null ? sanitize(wire.model) : request.model,
    text,
    toolCalls,
    finishReason: anthropicFinishReason(wire.stop_reason, toolCalls.length > 0),
    usage: anthropicUsage(
      anthropicCounts(wire.usage),
      request,
      toolCalls.reduce((n, c) => n + JSON.stringify(c.arguments).length, text.length)
    )
  })
}

interface PendingTool {
  readonly toolIndex: number
  readonly id: string
  readonly name: string
  readonly initialInput: Schema.Json | undefined
  json: string
  completed: boolean
}

/** Folds the SSE events of one streamed Messages answer. One instance per stream. */
export class AnthropicStreamState {
  private readonly tools = new Map<number, PendingTool>()
  private toolCount = 0
  private id: string | undefined
  private model: string | undefined
  private counts: AnthropicCounts = {}
  /** characters of the answer's text and tool arguments, for an output count the provider did not send */
  private outputChars = 0
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

  /**
   * The parts one SSE event yields, or the failure it reports. `event` is the SSE event name; an `error` event
   * fails the stream whatever its payload's shape (the SDK throws on the event name too).
   */
  onEvent(data: string, eventName = "message"): Effect.Effect<ReadonlyArray<LlmStreamPart>, ProviderError> {
    if (this.done) return Effect.succeed([])
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      if (eventName === "error") {
        return Effect.fail(errorFromStreamEvent(this.provider, { message: data }, this.secrets))
      }
      return Effect.fail(
        new MalformedResponse({
          provider: this.provider,
          // scrub first, then cut (a proxy echoing the request would otherwise put the key into the message)
          description: `stream event is not JSON: ${scrubSecrets(data, this.secrets, 80)}`,
          retryable: false
        })
      )
    }
    if (eventName === "error") return Effect.fail(errorFromStreamEvent(this.provider, json, this.secrets))
    const exit = decodeEvent(json)
    if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(this.provider, "unexpected stream event", exit))
    const event = exit.value
    switch (event.type) {
      case "message_start": {
        this.id = event.message?.id
        this.model = event.message?.model === undefined ? undefined : sanitize(event.message.model)
        this.counts = anthropicCounts(event.message?.usage)
        return Effect.succeed([])
      }
      case "content_block_start": {
        const block = event.content_block
        if (block?.type === "tool_use" && event.index !== undefined) {
          // an index started again (a buggy or replaying proxy) completes its open call first: none is lost
          const open = this.tools.get(event.index)
          const completed = open !== undefined && !open.completed ? [this.complete(open)] : []
          const pending: PendingTool = {
            toolIndex: this.toolCount++,
            id: block.id ?? `toolu_${this.toolCount}`,
            name: block.name ?? "",
            initialInput: block.input,
            json: "",
            completed: false
          }
          this.tools.set(event.index, pending)
          return Effect.succeed([...completed, {
            _tag: "ToolCallStart",
            index: pending.toolIndex,
            id: pending.id,
            name: pending.name
          }])
        }
        if (block?.type === "text" && block.text !== undefined && block.text !== "") {
          this.outputChars += block.text.length
          return Effect.succeed([{ _tag: "TextDelta", delta: block.text }])
        }
        return Effect.succeed([])
      }
      case "content_block_delta": {
        const delta = event.delta
        if (delta?.type === "text_delta" && delta.text !== undefined && delta.text !== "") {
          this.outputChars += delta.text.length
          return Effect.succeed([{ _tag: "TextDelta", delta: delta.text }])
        }
        const pending = event.index === undefined ? undefined : this.tools.get(event.index)
        if (delta?.type === "input_json_delta" && pending !== undefined && delta.partial_json !== undefined) {
          pending.json += delta.partial_json
          this.outputChars += delta.partial_json.length
          if (delta.partial_json === "") return Effect.succeed([])
          return Effect.succeed([
            { _tag: "ToolCallDelta", index: pending.toolIndex, id: pending.id, argumentsDelta: delta.partial_json }
          ])
        }
        return Effect.succeed([])
      }
      case "content_block_stop": {
        const pending = event.index === undefined ? undefined : this.tools.get(event.index)
        if (pending === undefined || pending.completed) return Effect.succeed([])
        return Effect.succeed([this.complete(pending)])
      }
      case "message_delta":
        if (event.delta?.stop_reason !== undefined) this.stopReason = event.delta.stop_reason
        this.counts = mergeAnthropicCounts(this.counts, anthropicCounts(event.usage))
        return Effect.succeed([])
      case "message_stop": {
        this.done = true
        // a tool call still open (cut by max_tokens) completes with what arrived, so no started call dangles
        const open = [...this.tools.values()].filter((t) => !t.completed).map((t) => this.complete(t))
        return Effect.succeed([...open, {
          _tag: "Finish",
          ...(this.id !== undefined ? { id: this.id } : {}),
          provider: this.provider,
          model: this.model ?? this.request.model,
          finishReason: anthropicFinishReason(this.stopReason, this.toolCount > 0),
          usage: anthropicUsage(this.counts, this.request, this.outputChars)
        }])
      }
      case "error":
        return Effect.fail(errorFromStreamEvent(this.provider, json, this.secrets))
      default:
        return Effect.succeed([]) // ping and future event types
    }
  }

  private complete(pending: PendingTool): LlmStreamPart {
    pending.completed = true
    const args = pending.json !== "" ? parseToolArguments(pending.json) : pending.initialInput ?? {}
    return {
      _tag: "ToolCall",
      index: pending.toolIndex,
      toolCall: { id: pending.id, name: pending.name, arguments: args }
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

/**
 * The OpenAI chat-completions wire format: encoding an `LlmRequest` as a `/chat/completions` body, decoding the
 * JSON answer, and folding the SSE chunks of a streamed answer (`stream: true`, `stream_options.include_usage`)
 * into `LlmStreamPart`s — text deltas, tool-call starts and argument deltas keyed by `index`, complete calls and
 * the final usage chunk, ended by `data: [DONE]`.
 *
 * The same format is spoken by Groq, DeepSeek, Mistral, Ollama, vLLM, OpenRouter and most gateways. Wire shapes are
 * effect `Schema`s (unknown fields ignored, so newer API fields do not break decoding); a response that does not
 * fit fails with `MalformedResponse` naming the bad field.
 *
 * Requests the API accepts (https://platform.openai.com/docs/api-reference/chat/create):
 * - the token limit is `max_completion_tokens` for OpenAI itself (where `max_tokens` is deprecated) and for every
 *   reasoning model (`o1`, `o3`, `o4-mini`, `gpt-5`… on any gateway), which reject `max_tokens`; other
 *   OpenAI-compatible servers get `max_tokens`. Reasoning models accept only the default sampling, so
 *   `temperature` and `top_p` are not sent to them (https://platform.openai.com/docs/guides/reasoning).
 * - at most 4 `stop` sequences: more fail with a typed `ProviderRejectedRequest` before anything is sent.
 * - `tool_choice` only together with `tools` (the API rejects a `tool_choice` without `tools`, `none` included).
 *
 * Answers read as the official `openai` SDK reads them: every usage field kept (`prompt_tokens_details.
 * cached_tokens`, `completion_tokens_details.reasoning_tokens`, the provider's `total_tokens`), a missing count
 * estimated and marked (`WireUsage.ts`, one rule for both wires); `choices: []` is an empty answer, not a malformed
 * one; `finish_reason: "error"` (OpenRouter) is `error`; a tool call's `index` is a non-negative safe integer, else
 * the chunk is a `MalformedResponse`; a flat `event: error` SSE event (whatever its data) fails the stream with the
 * mapped error (classified as the same error over HTTP: `errorFromStreamEvent`), and so does a chunk whose `error`
 * member is truthy — an object (even `{}`), an array, a non-empty string, a non-zero number or `true` — checked on
 * the parsed JSON before the chunk's shape, as the SDK's `Stream.fromSSEResponse` does (`if (data && data.error)
 * throw`). A chunk whose `error` is falsy (`null`, `""`, `0`, `false`, as some OpenAI-compatible servers send on
 * every chunk) is read as an ordinary chunk.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Schema } from "effect"
import type { ProviderError } from "../LlmError.ts"
import { MalformedResponse, ProviderConnectionError, ProviderRejectedRequest } from "../LlmError.ts"
import type { LlmMessage, LlmRequest, ToolCall } from "../LlmRequest.ts"
import type { FinishReason, LlmResponse, LlmStreamPart } from "../LlmResponse.ts"
import { parseToolArguments, TokenCount } from "../LlmResponse.ts"
import { errorFromStreamEvent, malformedFrom, scrubSecrets } from "../ProviderErrorMapping.ts"
import { sanitize } from "./SecretScrub.ts"
import { openAiUsage, OpenAiUsageWire } from "./WireUsage.ts"

const argumentsText = (args: Schema.Json): string => (typeof args === "string" ? args : JSON.stringify(args))

const encodeMessage = (message: LlmMessage): Record<string, unknown> => {
  switch (message.role) {
    case "system":
      return { role: "system", content: message.content }
    case "user":
      return { role: "user", content: message.content, ...(message.name !== undefined ? { name: message.name } : {}) }
    case "assistant": {
      const calls = message.toolCalls ?? []
      return {
        role: "assistant",
        content: message.content === "" && calls.length > 0 ? null : message.content,
        ...(calls.length > 0
          ? {
            tool_calls: calls.map((c) => ({
              id: c.id,
              type: "function",
              function: { name: c.name, arguments: argumentsText(c.arguments) }
            }))
          }
          : {})
      }
    }
    case "tool":
      return { role: "tool", tool_call_id: message.toolCallId, content: message.content }
  }
}

/** The most `stop` sequences the chat-completions API accepts. */
export const MAX_STOP_SEQUENCES = 4

/**
 * Whether `model` is an OpenAI reasoning model (`o1`, `o3-mini`, `o4-mini`, `gpt-5`, `gpt-5-mini`…, also behind a
 * gateway prefix such as `openai/o3-mini`), which takes `max_completion_tokens` and only the default sampling.
 * `gpt-5-chat…` models are chat models and excluded.
 */
export const isReasoningModel = (model: string): boolean => {
  const name = model.slice(model.lastIndexOf("/") + 1).toLowerCase()
  return /^o\d+(?:$|-)/.test(name) || (/^gpt-5(?:$|[-.])/.test(name) && !/^gpt-5(?:\.\d+)?-chat/.test(name))
}

/** How the body names its token limit. */
export type MaxTokensField = "max_tokens" | "max_completion_tokens"

/** Options of {@link encodeOpenAiBody}. */
export interface OpenAiWireOptions {
  /** The provider name, for errors. Default `openai`. */
  readonly provider?: string
  /** Whether the server is OpenAI's own API (it takes `max_completion_tokens` for every model). Default `false`. */
  readonly officialApi?: boolean
}

/** `max_completion_tokens` for OpenAI's own API and for reasoning models everywhere, else `max_tokens`. */
export const maxTokensField = (model: string, officialApi: boolean): MaxTokensField =>
  officialApi || isReasoningModel(model) ? "max_completion_tokens" : "max_tokens"

/**
 * The `/chat/completions` body of `request`. Fails with a non-retryable `ProviderRejectedRequest` naming the
 * field when the API would reject the request: more than 4 `params.stop` sequences.
 */
export const encodeOpenAiBody = (
  request: LlmRequest,
  stream: boolean,
  options: OpenAiWireOptions = {}
): Effect.Effect<Record<string, unknown>, ProviderRejectedRequest> => {
  const params = request.params
  if (params?.stop !== undefined && params.stop.length > MAX_STOP_SEQUENCES) {
    return Effect.fail(
      new ProviderRejectedRequest({
        provider: options.provider ?? "openai",
        description: `params.stop: ${params.stop.length} stop sequences, the chat-completions API accepts at most ` +
          `${MAX_STOP_SEQUENCES} (not sent)`,
        retryable: false
      })
    )
  }
  const body: Record<string, unknown> = { model: request.model, messages: request.messages.map(encodeMessage) }
  const tools = request.tools ?? []
  if (tools.length > 0) {
    body["tools"] = tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: t.parameters
      }
    }))
    const choice = request.toolChoice
    if (choice !== undefined) {
      body["tool_choice"] = typeof choice === "string" ? choice : { type: "function", function: { name: choice.tool } }
    }
  }
  const reasoning = isReasoningModel(request.model)
  if (params?.temperature !== undefined && !reasoning) body["temperature"] = params.temperature
  if (params?.maxTokens !== undefined) {
    body[maxTokensField(request.model, options.officialApi === true)] = params.maxTokens
  }
  if (params?.topP !== undefined && !reasoning) body["top_p"] = params.topP
  if (params?.stop !== undefined && params.stop.length > 0) body["stop"] = params.stop
  if (request.responseFormat?.type === "json") {
    body["response_format"] = {
      type: "json_schema",
      json_schema: {
        name: request.responseFormat.name,
        schema: request.responseFormat.schema,
        strict: request.responseFormat.strict ?? false
      }
    }
  }
  if (stream) {
    body["stream"] = true
    body["stream_options"] = { include_usage: true }
  }
  return Effect.succeed(body)
}

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))
// a tool call's index becomes the parts' `index`: a non-negative safe integer, else the chunk is malformed (typed)
const ToolIndex = TokenCount

const ResponseWire = Schema.Struct({
  id: OptionalString,
  model: OptionalString,
  choices: Schema.Array(Schema.Struct({
    message: Schema.Struct({
      content: OptionalString,
      refusal: OptionalString,
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
        id: Schema.String,
        function: Schema.Struct({ name: Schema.String, arguments: Schema.optional(Schema.NullOr(Schema.String)) })
      }))))
    }),
    finish_reason: OptionalString
  })),
  usage: Schema.optional(Schema.NullOr(OpenAiUsageWire))
})

const ChunkWire = Schema.Struct({
  id: OptionalString,
  model: OptionalString,
  choices: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      content: OptionalString,
      refusal: OptionalString,
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
        index: ToolIndex,
        id: OptionalString,
        function: Schema.optional(Schema.NullOr(Schema.Struct({ name: OptionalString, arguments: OptionalString })))
      }))))
    }))),
    finish_reason: OptionalString
  })))),
  usage: Schema.optional(Schema.NullOr(OpenAiUsageWire))
})

/**
 * The `error` member of a parsed stream chunk when the SDK throws on it (JavaScript-truthy: `data && data.error`),
 * else `undefined`; JSON's falsy values are `null`, `false`, `0` and `""`.
 */
const chunkError = (json: unknown): unknown => {
  if (typeof json !== "object" || json === null || !("error" in json)) return undefined
  const error = json.error
  return error === undefined || error === null || error === false || error === 0 || error === "" ? undefined : error
}

const decodeResponse = Schema.decodeUnknownExit(ResponseWire)
const decodeChunk = Schema.decodeUnknownExit(ChunkWire)

/** Maps OpenAI's `finish_reason`. */
export const openAiFinishReason = (reason: string | null | undefined, hasToolCalls: boolean): FinishReason => {
  switch (reason) {
    case "stop":
      return hasToolCalls ? "tool-calls" : "stop"
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case "content_filter":
      return "content-filter"
    case "error":
      return "error"
    case null:
    case undefined:
      return hasToolCalls ? "tool-calls" : "stop"
    default:
      return "other"
  }
}

/** Decodes a non-streaming `/chat/completions` answer. */
export const decodeOpenAiResponse = (
  provider: string,
  request: LlmRequest,
  json: unknown
): Effect.Effect<LlmResponse, ProviderError> => {
  const exit = decodeResponse(json)
  if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(provider, "unexpected chat-completions answer", exit))
  const wire = exit.value
  const choice = wire.choices[0]
  if (choice === undefined) {
    // `choices: []` (a gateway's filtered or empty answer): the SDK returns it as is; an empty answer here
    return Effect.succeed({
      ...(wire.id != null ? { id: wire.id } : {}),
      provider,
      model: wire.model != null ? sanitize(wire.model) : request.model,
      text: "",
      toolCalls: [],
      finishReason: "other",
      usage: openAiUsage(wire.usage, request, "")
    })
  }
  const message = choice.message
  const toolCalls: Array<ToolCall> = (message.tool_calls ?? []).map((c) => ({
    id: c.id,
    name: c.function.name,
    arguments: parseToolArguments(c.function.arguments ?? "")
  }))
  // a refusal is its own part of the answer (never text) and finishes `content-filter`, as in the stream
  const text = message.content ?? ""
  const refusal = message.refusal != null && message.refusal !== "" ? message.refusal : undefined
  const finishReason = refusal !== undefined
    ? "content-filter"
    : openAiFinishReason(choice.finish_reason, toolCalls.length > 0)
  return Effect.succeed({
    ...(wire.id != null ? { id: wire.id } : {}),
    provider,
    model: wire.model != null ? sanitize(wire.model) : request.model,
    text,
    toolCalls,
    finishReason,
    usage: openAiUsage(wire.usage, request, text + (refusal ?? "")),
    ...(refusal !== undefined ? { refusal } : {})
  })
}

interface PendingCall {
  id: string
  /** the id is ours (`call_<index>`): the server sent none yet; a later delta's id replaces it, as in the SDK */
  placeholder: boolean
  name: string
  args: string
}

/**
 * Folds the SSE events of one streamed answer into stream parts. One instance per stream: `onEvent` for each
 * event, `end` when the response body ends. As the `openai` SDK reads a stream:
 * - an answer is complete only with a `finish_reason`: a body that ends, or a `[DONE]` that comes, before one
 *   fails with a retryable `ProviderConnectionError` (the SDK's "missing finish_reason");
 * - an event the body ended without a blank line is still read (`flushPendingAtEnd`, see `SseFold`);
 * - a tool call's id is the first id any of its deltas carries (`call_<index>` until one does, and when none does).
 */
export class OpenAiStreamState {
  private readonly calls = new Map<number, PendingCall>()
  /** the `openai` SDK folds an event the server did not end with a blank line when the body ends */
  readonly flushPendingAtEnd = true
  private text = ""
  private refusal = ""
  private finishReason: string | null | undefined
  private usage: OpenAiUsageWire | null | undefined
  private id: string | undefined
  private model: string | undefined
  private done = false
  private readonly provider: string
  private readonly request: LlmRequest
  private readonly secrets: ReadonlyArray<string>

  constructor(provider: string, request: LlmRequest, secrets: ReadonlyArray<string>) {
    this.provider = provider
    this.request = request
    this.secrets = secrets
  }

  /** Whether the terminal `[DONE]` event (or the end) was seen: later events are ignored. */
  get finished(): boolean {
    return this.done
  }

  /**
   * The parts one SSE event yields, or the failure it reports. `event` is the SSE event name (`message` when the
   * server sent none); an `error` event fails the stream with its mapped error, as the SDK throws it.
   */
  onEvent(data: string, event = "message"): Effect.Effect<ReadonlyArray<LlmStreamPart>, ProviderError> {
    if (this.done) return Effect.succeed([])
    if (data.trim() === "[DONE]") {
      this.done = true
      // `[DONE]` before any finish_reason (a proxy ending a stream its upstream cut): incomplete, as the SDK's
      // finalChatCompletion says ("missing finish_reason")
      if (this.finishReason == null) return Effect.fail(this.incomplete("[DONE] came before any finish_reason"))
      return Effect.succeed(this.finalParts())
    }
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      if (event === "error") return Effect.fail(errorFromStreamEvent(this.provider, { message: data }, this.secrets))
      return Effect.fail(
        new MalformedResponse({
          provider: this.provider,
          // scrub first, then cut (a proxy echoing the request would otherwise put the key into the message)
          description: `stream chunk is not JSON: ${scrubSecrets(data, this.secrets, 80)}`,
          retryable: false
        })
      )
    }
    if (event === "error") return Effect.fail(errorFromStreamEvent(this.provider, json, this.secrets))
    const error = chunkError(json)
    if (error !== undefined) return Effect.fail(errorFromStreamEvent(this.provider, { error }, this.secrets))
    const exit = decodeChunk(json)
    if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(this.provider, "unexpected stream chunk", exit))
    const chunk = exit.value
    if (chunk.id != null) this.id = chunk.id
    if (chunk.model != null) this.model = chunk.model // masked once, at the end (every chunk repeats it)
    if (chunk.usage != null) this.usage = chunk.usage
    const parts: Array<LlmStreamPart> = []
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta
      const content = delta?.content
      if (content != null && content !== "") {
        this.text += content
        parts.push({ _tag: "TextDelta", delta: content })
      }
      const refusal = delta?.refusal
      if (refusal != null && refusal !== "") {
        this.refusal += refusal
        parts.push({ _tag: "RefusalDelta", delta: refusal })
      }
      for (const call of delta?.tool_calls ?? []) {
        let pending = this.calls.get(call.index)
        const id = call.id != null && call.id !== "" ? call.id : undefined
        if (pending === undefined) {
          pending = {
            id: id ?? `call_${call.index}`,
            placeholder: id === undefined,
            name: call.function?.name ?? "",
            args: ""
          }
          this.calls.set(call.index, pending)
          parts.push({ _tag: "ToolCallStart", index: call.index, id: pending.id, name: pending.name })
        } else {
          if (call.function?.name != null && pending.name === "") pending.name = call.function.name
          if (pending.placeholder && id !== undefined) {
            pending.id = id
            pending.placeholder = false
          }
        }
        const argsDelta = call.function?.arguments
        if (argsDelta != null && argsDelta !== "") {
          pending.args += argsDelta
          parts.push({ _tag: "ToolCallDelta", index: call.index, id: pending.id, argumentsDelta: argsDelta })
        }
      }
      if (choice.finish_reason != null) this.finishReason = choice.finish_reason
    }
    return Effect.succeed(parts)
  }

  /** The body ended: the final parts if the answer was complete, else a connection error (stream cut). */
  end(): Effect.Effect<ReadonlyArray<LlmStreamPart>, ProviderError> {
    if (this.done) return Effect.succeed([])
    if (this.finishReason != null) {
      this.done = true
      return Effect.succeed(this.finalParts())
    }
    return Effect.fail(this.incomplete("stream ended before its finish (no finish_reason, no [DONE])"))
  }

  private incomplete(what: string): ProviderConnectionError {
    return new ProviderConnectionError({
      provider: this.provider,
      description: `${what}; the answer is incomplete`,
      retryable: true
    })
  }

  private finalParts(): ReadonlyArray<LlmStreamPart> {
    const parts: Array<LlmStreamPart> = []
    const indices = [...this.calls.keys()].sort((a, b) => a - b)
    for (const index of indices) {
      const call = this.calls.get(index) as PendingCall // present: index comes from the map's own keys
      parts.push({
        _tag: "ToolCall",
        index,
        toolCall: { id: call.id, name: call.name, arguments: parseToolArguments(call.args) }
      })
    }
    parts.push({
      _tag: "Finish",
      ...(this.id !== undefined ? { id: this.id } : {}),
      provider: this.provider,
      model: this.model !== undefined ? sanitize(this.model) : this.request.model,
      finishReason: this.refusal !== "" ? "content-filter" : openAiFinishReason(this.finishReason, indices.length > 0),
      usage: openAiUsage(
        this.usage,
        this.request,
        this.text + this.refusal + [...this.calls.values()].map((c) => c.args).join("")
      )
    })
    return parts
  }
}

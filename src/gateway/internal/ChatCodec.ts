/**
 * Converts between OpenAI's chat-completions wire format and troupe's `LlmCall` / `LlmResult` / stream parts.
 *
 * - request → `LlmCall`: text parts are joined, `developer` is `system`, assistant `tool_calls` carry parsed JSON
 *   arguments (text that is not JSON is kept as the string, as `src/llm` does), `max_completion_tokens` wins over
 *   `max_tokens`, `stop` becomes an array, the caller's tenant partitions the cache.
 * - **the call's identity is the authenticated caller's, never the body's**: `options.user` — the scope of the
 *   guard's `keys` policy, the `principal:` budget scope and the principal the cost is recorded under — is the
 *   caller's principal (an issued key's), else its caller id (`key:<sha256 prefix>` of a configured key, `admin`);
 *   an anonymous caller (an open gateway) has none. The wire's `user` field is any string the client chose: it is
 *   kept only as request metadata (`endUserOf`: at most 128 characters, control characters dropped), which the chat
 *   handler puts on the request's log lines and span as `openai.user`; it never picks a policy, budget or limit.
 * - a failure of the pipeline that names a field of the call (`InvalidLlmRequest.path`) is answered naming the
 *   wire's field (`wirePaths`: `toolChoice.tool` → `tool_choice.function.name`, `params.topP` → `top_p`, …); a
 *   path of what the gateway itself sets (`options.*`) names no `param`.
 * - result → `chat.completion` JSON; stream parts → `chat.completion.chunk` events: a first chunk with the
 *   assistant role, content deltas, tool-call deltas in OpenAI's shape (`index`, then `id`/`type`/`name` on the first
 *   delta of each call, `arguments` text after), one chunk with `finish_reason`, a usage chunk with empty `choices`
 *   when `stream_options.include_usage` is set, and `data: [DONE]`.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import type { FinishReason, LlmMessage, LlmStreamPart, ToolCall, Usage } from "../../llm/index.ts"
import type { LlmCall, LlmResult } from "../../pipeline/index.ts"
import { GatewayHttpError, httpError, type WirePaths } from "../GatewayError.ts"
import type { ChatCompletionRequest, ChatMessage, Content } from "../OpenAiSchema.ts"

const textOf = (content: Content | null | undefined): string =>
  content === undefined || content === null
    ? ""
    : typeof content === "string"
    ? content
    : content.map((p) => p.text).join("")

const parseArguments = (text: string): Schema.Json => {
  if (text.trim() === "") return {}
  try {
    // JSON.parse returns JSON
    return JSON.parse(text) as Schema.Json
  } catch {
    return text
  }
}

const toMessage = (m: ChatMessage): LlmMessage => {
  switch (m.role) {
    case "system":
    case "developer":
      return { role: "system", content: textOf(m.content) }
    case "user":
      return m.name !== undefined
        ? { role: "user", content: textOf(m.content), name: m.name }
        : { role: "user", content: textOf(m.content) }
    case "assistant": {
      const calls = m.tool_calls ?? []
      return calls.length === 0
        ? { role: "assistant", content: textOf(m.content) }
        : {
          role: "assistant",
          content: textOf(m.content),
          toolCalls: calls.map((c) => ({
            id: c.id,
            name: c.function.name,
            arguments: parseArguments(c.function.arguments)
          }))
        }
    }
    case "tool":
      return { role: "tool", toolCallId: m.tool_call_id, content: textOf(m.content) }
  }
}

/** What the handler needs besides the body (the authenticated `Caller`). */
export interface CallerContext {
  /** The caller id: `anonymous`, `admin`, `key:<…>`. */
  readonly id: string
  readonly tenant?: string | undefined
  /** The principal behind the caller (an issued key's): the call's `subject`. */
  readonly principal?: string | undefined
  /** Budget scopes to charge (an issued key's, see `CallerShape.budgets`). */
  readonly budgets?: ReadonlyArray<string> | undefined
}

/** The identity a call is made as: the caller's principal, else its id; none for the anonymous caller. */
export const identityOf = (caller: CallerContext): string | undefined =>
  caller.principal !== undefined && caller.principal !== ""
    ? caller.principal
    : caller.id !== "" && caller.id !== "anonymous"
    ? caller.id
    : undefined

/** At most this many characters of the wire's `user` are kept as metadata. */
export const MAX_END_USER_CHARS = 128

/** The wire's `user` as request metadata (bounded, control characters dropped), or none. */
export const endUserOf = (request: ChatCompletionRequest): string | undefined => {
  // eslint-disable-next-line no-control-regex -- dropping control characters is the point
  const text = (request.user ?? "").slice(0, 4 * MAX_END_USER_CHARS).replace(/[\u0000-\u001f\u007f-\u009f]/g, "")
  const kept = Array.from(text).slice(0, MAX_END_USER_CHARS).join("") // whole code points, never half a pair
  return kept === "" ? undefined : kept
}

/** The `LlmCall` of a decoded request, or a 400 for what troupe cannot express. */
export const toLlmCall = (request: ChatCompletionRequest, caller: CallerContext): LlmCall | GatewayHttpError => {
  // the request's messages are decoded as a non-empty array (`isMinLength(1)`) and map keeps the length
  const call: { -readonly [K in keyof LlmCall]: LlmCall[K] } = {
    model: request.model,
    messages: request.messages.map(toMessage) as never
  }
  // `messages` is non-empty because the request's is (decoded with `isMinLength(1)`)
  const tools = request.tools ?? []
  if (tools.length > 0) {
    call.tools = tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      parameters: t.function.parameters ?? { type: "object", properties: {} }
    }))
  }
  const choice = request.tool_choice
  if (choice !== undefined && choice !== null) {
    call.toolChoice = typeof choice === "string" ? choice : { tool: choice.function.name }
  }
  const params: { temperature?: number; topP?: number; maxTokens?: number; stop?: ReadonlyArray<string> } = {}
  if (request.temperature !== undefined && request.temperature !== null) params.temperature = request.temperature
  if (request.top_p !== undefined && request.top_p !== null) params.topP = request.top_p
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  if (maxTokens !== undefined && maxTokens !== null) params.maxTokens = maxTokens
  if (request.stop !== undefined && request.stop !== null) {
    params.stop = typeof request.stop === "string"
      ? [request.stop]
      : request.stop
  }
  if (Object.keys(params).length > 0) call.params = params
  const format = request.response_format
  if (format !== undefined && format !== null) {
    if (format.type === "json_object") {
      call.responseFormat = { type: "json", name: "json_object", schema: { type: "object" } }
    } else if (format.type === "json_schema") {
      call.responseFormat = {
        type: "json",
        name: format.json_schema.name,
        schema: format.json_schema.schema ?? { type: "object" }
      }
    }
  }
  const options: { user?: string; tenant?: string; subject?: string; budgets?: ReadonlyArray<string> } = {}
  const user = identityOf(caller)
  if (user !== undefined) options.user = user
  if (caller.tenant !== undefined) options.tenant = caller.tenant
  // an issued key's principal: the response cache links what it stores for this call to it (erasable)
  if (caller.tenant !== undefined && caller.principal !== undefined && caller.principal !== "") {
    options.subject = caller.principal
  }
  if (caller.budgets !== undefined && caller.budgets.length > 0) options.budgets = caller.budgets
  if (Object.keys(options).length > 0) call.options = options
  if (call.messages.length === 0) {
    return httpError(400, "invalid_request_error", "messages must not be empty", { param: "messages" })
  }
  // built above as a mutable copy of an LlmCall
  return call as LlmCall
}

/** OpenAI's `finish_reason`. */
export const finishReasonOf = (reason: FinishReason): string => {
  switch (reason) {
    case "tool-calls":
      return "tool_calls"
    case "length":
      return "length"
    case "content-filter":
      return "content_filter"
    default:
      return "stop"
  }
}

const usageOf = (usage: Usage) => ({
  prompt_tokens: usage.inputTokens,
  completion_tokens: usage.outputTokens,
  total_tokens: usage.totalTokens
})

const wireToolCall = (call: ToolCall) => ({
  id: call.id,
  type: "function" as const,
  function: {
    name: call.name,
    arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
  }
})

/** The `chat.completion` body of a finished answer. */
export const completionBody = (id: string, created: number, model: string, result: LlmResult) => ({
  id,
  object: "chat.completion",
  created,
  model,
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content: result.toolCalls.length > 0 && result.text === "" ? null : result.text,
      ...(result.toolCalls.length > 0 ? { tool_calls: result.toolCalls.map(wireToolCall) } : {}),
      refusal: result.refusal ?? null
    },
    logprobs: null,
    finish_reason: finishReasonOf(result.finishReason)
  }],
  usage: usageOf(result.usage),
  system_fingerprint: null
})

/**
 * Turns stream parts into `chat.completion.chunk` JSON texts (one per SSE `data:` line), keeping the per-call state
 * OpenAI's tool-call deltas need.
 */
export class ChunkEncoder {
  /** the id each started call was sent with */
  private readonly started = new Map<number, string>()
  private readonly withArgs = new Set<number>()
  private readonly head: string
  readonly includeUsage: boolean
  constructor(id: string, created: number, model: string, includeUsage: boolean) {
    this.includeUsage = includeUsage
    this.head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${
      JSON.stringify(model)
    },"system_fingerprint":null,"choices":`
  }

  /** With `include_usage`, every chunk before the usage chunk carries `"usage":null`, as OpenAI's do. */
  private chunk(delta: unknown, finish: string | null = null): string {
    return `${this.head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${
      finish === null ? "null" : JSON.stringify(finish)
    }}]${this.includeUsage ? ",\"usage\":null" : ""}}`
  }

  /** The first chunk (role). */
  first(): string {
    return this.chunk({ role: "assistant", content: "", refusal: null })
  }

  /** The chunks of one part (none for parts with nothing to say). */
  encode(part: LlmStreamPart): ReadonlyArray<string> {
    switch (part._tag) {
      case "TextDelta":
        return part.delta === "" ? [] : [this.chunk({ content: part.delta })]
      case "RefusalDelta": // OpenAI's chunk format carries a refusal in `delta.refusal`
        return part.delta === "" ? [] : [this.chunk({ refusal: part.delta })]
      case "ToolCallStart":
        this.started.set(part.index, part.id)
        return [
          this.chunk({
            tool_calls: [{
              index: part.index,
              id: part.id,
              type: "function",
              function: { name: part.name, arguments: "" }
            }]
          })
        ]
      case "ToolCallDelta":
        if (part.argumentsDelta === "") return []
        this.withArgs.add(part.index)
        return [this.chunk({ tool_calls: [{ index: part.index, function: { arguments: part.argumentsDelta } }] })]
      case "ToolCall": {
        const args = wireToolCall(part.toolCall).function.arguments
        const sentId = this.started.get(part.index)
        if (sentId === undefined) {
          this.started.set(part.index, part.toolCall.id)
          this.withArgs.add(part.index)
          return [this.chunk({
            tool_calls: [{
              index: part.index,
              id: part.toolCall.id,
              type: "function",
              function: { name: part.toolCall.name, arguments: args }
            }]
          })]
        }
        // the provider's id came after the call started (a placeholder was sent): the SDK takes the id of any delta
        const id = sentId === part.toolCall.id ? {} : { id: part.toolCall.id }
        if (!this.withArgs.has(part.index)) {
          this.withArgs.add(part.index)
          return [this.chunk({ tool_calls: [{ index: part.index, ...id, function: { arguments: args } }] })]
        }
        return sentId === part.toolCall.id ? [] : [this.chunk({ tool_calls: [{ index: part.index, ...id }] })]
      }
      case "Finish": {
        const out = [this.chunk({}, finishReasonOf(part.finishReason))]
        if (this.includeUsage) out.push(`${this.head}[],"usage":${JSON.stringify(usageOf(part.usage))}}`)
        return out
      }
    }
  }
}

const segment = (
  rest: string,
  at: string,
  table: Readonly<Record<string, string>>
): string => {
  const m = /^\.([A-Za-z]+)(.*)$/.exec(rest)
  if (m === null) return at
  const wire = table[m[1] ?? ""]
  return wire === undefined ? at : `${at}.${wire}${m[2] ?? ""}`
}

const messageField = (rest: string, at: string): string => {
  const call = /^\.toolCalls\[(\d+)\](?:\.(id|name|arguments))?/.exec(rest)
  if (call !== null) {
    const field = call[2] === undefined ? "" : call[2] === "id" ? ".id" : `.function.${call[2]}`
    return `${at}.tool_calls[${call[1]}]${field}`
  }
  return segment(rest.replace(/^(\.content).*$/, "$1"), at, {
    role: "role",
    content: "content",
    name: "name",
    toolCalls: "tool_calls",
    toolCallId: "tool_call_id"
  })
}

/** How the paths of a request's `LlmCall` are named on the wire (for `fromFailure`). */
export const wirePaths = (request: ChatCompletionRequest): WirePaths => ({
  param: (path) => {
    if (path === "model" || path === "messages" || path === "tools") return path
    const message = /^messages\[(\d+)\](.*)$/.exec(path)
    if (message !== null) return messageField(message[2] ?? "", `messages[${message[1]}]`)
    const tool = /^tools\[(\d+)\](.*)$/.exec(path)
    if (tool !== null) {
      const at = `tools[${tool[1]}]`
      return segment(tool[2] ?? "", at, {
        name: "function.name",
        description: "function.description",
        parameters: "function.parameters"
      })
    }
    if (path === "toolChoice.tool") return "tool_choice.function.name"
    if (path.startsWith("toolChoice")) return "tool_choice"
    if (path === "params.temperature") return "temperature"
    if (path === "params.topP") return "top_p"
    if (path === "params.maxTokens") {
      return request.max_completion_tokens !== undefined && request.max_completion_tokens !== null
        ? "max_completion_tokens"
        : "max_tokens"
    }
    if (path.startsWith("params.stop")) return typeof request.stop === "string" ? "stop" : path.slice("params.".length)
    if (path.startsWith("responseFormat")) {
      const rest = path.slice("responseFormat".length)
      return request.response_format?.type === "json_schema" && /^\.(name|schema)/.test(rest)
        ? `response_format.json_schema${rest}`
        : "response_format"
    }
    return undefined // what the gateway sets itself (`options.*`): not a field the client sent
  }
})

/** An error event inside a started stream (the `openai` SDK raises an `APIError` for a chunk with `error`). */
export const streamErrorChunk = (error: GatewayHttpError): string => JSON.stringify(error.body)

export { GatewayHttpError }

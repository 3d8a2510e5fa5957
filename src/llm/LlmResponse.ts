/**
 * The provider-agnostic LLM response and stream parts, as Schemas.
 *
 * `LlmResponse` is one finished answer: text, tool calls, finish reason, token usage. `stream` yields
 * `LlmStreamPart`s: `TextDelta`s, `ToolCallStart` / `ToolCallDelta` (argument JSON as it arrives) / `ToolCall`
 * (the complete call, arguments parsed), and exactly one final `Finish` carrying usage and finish reason.
 * `StreamAccumulator` folds parts back into an `LlmResponse` (the pipeline uses it to cache a streamed answer).
 * Tool-call argument text nested deeper than `MAX_TOOL_ARGUMENT_DEPTH` (128) levels is kept as text, not parsed.
 *
 * The part vocabulary is effect/ai's `Response.StreamPart` reduced to what chat providers send (the bridge in
 * `LanguageModelBridge.ts` maps one onto the other). Plain Effect `Schema`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ToolCall } from "./LlmRequest.ts"

/** Why the model stopped. */
export const FinishReason = Schema.Literals(["stop", "length", "tool-calls", "content-filter", "error", "other"])
export type FinishReason = typeof FinishReason.Type

/** A token count: a non-negative safe integer (a negative, fractional, huge or infinite number is rejected). */
export const TokenCount = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Count = TokenCount

/**
 * Token usage of one call, every field the wire gives kept. `inputTokens` counts every prompt token, those read
 * from and written to the provider's prompt cache included (OpenAI's `prompt_tokens`; Anthropic's `input_tokens +
 * cache_read_input_tokens + cache_creation_input_tokens`), so the cache fields are parts of it. `reasoningTokens`
 * is the provider's count of hidden reasoning tokens (OpenAI counts them inside `outputTokens`). `totalTokens` is
 * the provider's own total when it sends one (it may exceed input + output: xAI bills reasoning beyond
 * `completion_tokens`), else input + output. `estimated: true` marks a usage in which troupe estimated a count the
 * provider did not send (about 4 characters per token); real usage never carries it.
 */
export const Usage = Schema.Struct({
  inputTokens: Count,
  outputTokens: Count,
  totalTokens: Count,
  /** Input tokens served from the provider's prompt cache (cache reads), when reported. */
  cachedInputTokens: Schema.optionalKey(Count),
  /** Input tokens written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`), when reported. */
  cacheWriteInputTokens: Schema.optionalKey(Count),
  /** Reasoning tokens (OpenAI `completion_tokens_details.reasoning_tokens`), when reported. */
  reasoningTokens: Schema.optionalKey(Count),
  /** Present (and `true`) when a count was estimated because the provider sent none. */
  estimated: Schema.optionalKey(Schema.Literal(true))
})
export type Usage = typeof Usage.Type

/** Builds a `Usage` (total = input + output). */
export const makeUsage = (inputTokens: number, outputTokens: number, cachedInputTokens?: number): Usage => ({
  inputTokens,
  outputTokens,
  totalTokens: inputTokens + outputTokens,
  ...(cachedInputTokens !== undefined && cachedInputTokens > 0 ? { cachedInputTokens } : {})
})

/** The counts a wire decoder read (`undefined` = not sent). */
export interface UsageCounts {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly totalTokens?: number | undefined
  readonly cachedInputTokens?: number | undefined
  readonly cacheWriteInputTokens?: number | undefined
  readonly reasoningTokens?: number | undefined
  readonly estimated?: boolean | undefined
}

/**
 * Builds a `Usage` from what the wire gave: the provider's total when sent (else input + output), the cache and
 * reasoning counts when sent and non-zero, `estimated` when any count was estimated.
 *
 * @example
 * ```ts
 * usageFrom({ inputTokens: 120, outputTokens: 40, totalTokens: 200, reasoningTokens: 30 })
 * // { inputTokens: 120, outputTokens: 40, totalTokens: 200, reasoningTokens: 30 }
 * ```
 */
export const usageFrom = (counts: UsageCounts): Usage => ({
  inputTokens: counts.inputTokens,
  outputTokens: counts.outputTokens,
  totalTokens: counts.totalTokens ?? counts.inputTokens + counts.outputTokens,
  ...(counts.cachedInputTokens !== undefined && counts.cachedInputTokens > 0
    ? { cachedInputTokens: counts.cachedInputTokens }
    : {}),
  ...(counts.cacheWriteInputTokens !== undefined && counts.cacheWriteInputTokens > 0
    ? { cacheWriteInputTokens: counts.cacheWriteInputTokens }
    : {}),
  ...(counts.reasoningTokens !== undefined && counts.reasoningTokens > 0
    ? { reasoningTokens: counts.reasoningTokens }
    : {}),
  ...(counts.estimated === true ? { estimated: true as const } : {})
})

/** A finished answer. */
export const LlmResponse = Schema.Struct({
  /** The provider's response id, when it sent one. */
  id: Schema.optionalKey(Schema.String),
  /** The provider name (`openai`, `anthropic`, `scripted`, …). */
  provider: Schema.String,
  /** The model that answered, as the provider reports it. */
  model: Schema.String,
  text: Schema.String,
  toolCalls: Schema.Array(ToolCall),
  finishReason: FinishReason,
  usage: Usage,
  /** The model's refusal message, when it refused (finish reason `content-filter`); never part of `text`. */
  refusal: Schema.optionalKey(Schema.String)
})
export type LlmResponse = typeof LlmResponse.Type

/** A piece of the answer's text. */
export const TextDelta = Schema.TaggedStruct("TextDelta", { delta: Schema.String })
export type TextDelta = typeof TextDelta.Type

/** A piece of the model's refusal message (its own part: never text; the stream then finishes `content-filter`). */
export const RefusalDelta = Schema.TaggedStruct("RefusalDelta", { delta: Schema.String })
export type RefusalDelta = typeof RefusalDelta.Type

/** A tool call begins (`index` orders calls within the answer). */
export const ToolCallStart = Schema.TaggedStruct("ToolCallStart", {
  index: Schema.Int,
  id: Schema.String,
  name: Schema.String
})
export type ToolCallStart = typeof ToolCallStart.Type

/** A piece of a tool call's argument JSON. */
export const ToolCallDelta = Schema.TaggedStruct("ToolCallDelta", {
  index: Schema.Int,
  id: Schema.String,
  argumentsDelta: Schema.String
})
export type ToolCallDelta = typeof ToolCallDelta.Type

/** A complete tool call (its arguments parsed). */
export const ToolCallPart = Schema.TaggedStruct("ToolCall", { index: Schema.Int, toolCall: ToolCall })
export type ToolCallPart = typeof ToolCallPart.Type

/** The last part of every stream. */
export const Finish = Schema.TaggedStruct("Finish", {
  id: Schema.optionalKey(Schema.String),
  provider: Schema.String,
  model: Schema.String,
  finishReason: FinishReason,
  usage: Usage
})
export type Finish = typeof Finish.Type

/** One part of a streamed answer. */
export const LlmStreamPart = Schema.Union([TextDelta, RefusalDelta, ToolCallStart, ToolCallDelta, ToolCallPart, Finish])
export type LlmStreamPart = typeof LlmStreamPart.Type

/**
 * How many levels of nested arrays and objects tool-call arguments may have, as the response cache's canonical JSON
 * (`MAX_CANONICAL_DEPTH`); deeper arguments are kept as their text.
 */
export const MAX_TOOL_ARGUMENT_DEPTH = 128

/** Whether JSON text nests arrays and objects deeper than `max` levels (brackets inside strings are text). */
const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/**
 * Parses tool-call argument text: the JSON value, `{}` for empty text, or the raw text when it is not JSON or nests
 * deeper than `MAX_TOOL_ARGUMENT_DEPTH` (128) levels — so a model's deeply nested output never reaches the code that
 * serialises arguments again, and the tool gets the bad-arguments error it gets for text.
 */
export const parseToolArguments = (text: string): Schema.Json => {
  if (text.trim() === "") return {}
  if (nestsDeeperThan(text, MAX_TOOL_ARGUMENT_DEPTH)) return text
  try {
    // JSON.parse returns JSON
    return JSON.parse(text) as Schema.Json
  } catch {
    return text
  }
}

/**
 * Folds stream parts into the finished `LlmResponse`.
 *
 * @example
 * ```ts
 * const acc = new StreamAccumulator()
 * yield* stream.pipe(Stream.runForEach((part) => Effect.sync(() => acc.add(part))))
 * const response = acc.response() // undefined if no Finish part arrived
 * ```
 */
export class StreamAccumulator {
  private text = ""
  private refusal: string | undefined
  private readonly calls: Array<{ readonly index: number; readonly call: ToolCall }> = []
  private finish: Finish | undefined

  add(part: LlmStreamPart): void {
    switch (part._tag) {
      case "TextDelta":
        this.text += part.delta
        return
      case "RefusalDelta":
        this.refusal = (this.refusal ?? "") + part.delta
        return
      case "ToolCall":
        this.calls.push({ index: part.index, call: part.toolCall })
        return
      case "Finish":
        this.finish = part
        return
      default:
        return
    }
  }

  /** The accumulated response, once the `Finish` part has arrived. */
  response(): LlmResponse | undefined {
    const finish = this.finish
    if (finish === undefined) return undefined
    return {
      ...(finish.id !== undefined ? { id: finish.id } : {}),
      provider: finish.provider,
      model: finish.model,
      text: this.text,
      toolCalls: [...this.calls].sort((a, b) => a.index - b.index).map((c) => c.call),
      finishReason: finish.finishReason,
      usage: finish.usage,
      ...(this.refusal !== undefined ? { refusal: this.refusal } : {})
    }
  }
}

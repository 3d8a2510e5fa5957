/**
 * Token estimates without a tokenizer: about 4 characters per token (OpenAI's rule of thumb for English text).
 *
 * Used by the scripted provider's simulated usage, when a provider's stream omits usage, and by the pipeline's
 * rate limiter to reserve "estimated tokens" before a call. Deliberately cheap: one pass over the message texts,
 * no allocation beyond the tool-definition JSON. Hand-rolled (effect/ai's `Tokenizer` needs a real tokenizer).
 *
 * **An estimate never throws**: tool-call arguments too deeply nested for `JSON.stringify` (which overflows the stack
 * on a few thousand levels a model can produce) are counted by the length of their JSON text (`jsonLength`, computed
 * without recursion).
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import type { LlmMessage, LlmRequest } from "./LlmRequest.ts"

/** Characters per token of the estimate. */
export const CHARS_PER_TOKEN = 4

/** Per-message overhead (role markers) the chat formats add, in tokens. */
const MESSAGE_OVERHEAD = 3

/**
 * Estimated tokens of a text: `ceil(length / 4)`.
 *
 * @example
 * ```ts
 * estimateTokens("hello world") // 3
 * ```
 */
export const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN)

/** Escaped length of one character in JSON text (`"`, `\\`, control characters; a lone surrogate is `\\uXXXX`). */
const escapedLength = (text: string, i: number): number => {
  const c = text.charCodeAt(i)
  if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) return 2
  if (c < 0x20) return 6
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = text.charCodeAt(i + 1)
    return next >= 0xdc00 && next <= 0xdfff ? 1 : 6
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const previous = i > 0 ? text.charCodeAt(i - 1) : 0
    return previous >= 0xd800 && previous <= 0xdbff ? 1 : 6
  }
  return 1
}

const quotedLength = (text: string): number => {
  let n = 2
  for (let i = 0; i < text.length; i++) n += escapedLength(text, i)
  return n
}

/**
 * The length of `JSON.stringify(value)` for a JSON value, computed without recursion (so any nesting depth is
 * measured, where `JSON.stringify` overflows the stack).
 *
 * @example
 * ```ts
 * jsonLength({ a: [1, "x"] }) // 13, the length of {"a":[1,"x"]}
 * ```
 */
export const jsonLength = (value: Schema.Json): number => {
  let n = 0
  const pending: Array<unknown> = [value]
  while (pending.length > 0) {
    const v = pending.pop()
    if (typeof v === "string") n += quotedLength(v)
    else if (Array.isArray(v)) {
      // brackets and the commas between the items
      n += 2 + Math.max(0, v.length - 1)
      for (const item of v) pending.push(item)
    } else if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v)
      // braces, commas, and a colon per entry
      n += 2 + Math.max(0, entries.length - 1) + entries.length
      for (const [key, item] of entries) {
        n += quotedLength(key)
        pending.push(item)
      }
    } else n += String(v).length // a number, a boolean or null
  }
  return n
}

/** The length of a tool call's arguments as JSON text; never throws, however deep they nest. */
export const argumentsLength = (args: Schema.Json): number => {
  if (typeof args === "string") return args.length
  try {
    return JSON.stringify(args).length
  } catch {
    return jsonLength(args)
  }
}

const messageChars = (message: LlmMessage): number => {
  switch (message.role) {
    case "assistant": {
      let n = message.content.length
      if (message.toolCalls !== undefined) {
        for (const call of message.toolCalls) {
          n += call.name.length + argumentsLength(call.arguments)
        }
      }
      return n
    }
    default:
      return message.content.length
  }
}

/** Estimated input tokens of a request: its messages (plus a small per-message overhead) and tool definitions. */
export const estimateRequestTokens = (request: LlmRequest): number => {
  let chars = 0
  for (const message of request.messages) chars += messageChars(message)
  let tokens = Math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * request.messages.length
  if (request.tools !== undefined && request.tools.length > 0) tokens += estimateTokens(JSON.stringify(request.tools))
  return tokens
}

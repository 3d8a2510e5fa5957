/**
 * Token estimates without a tokenizer: about 4 characters per token (OpenAI's rule of thumb for English text).
 *
 * Used by the scripted provider's simulated usage, when a provider's stream omits usage, and by the pipeline's
 * rate limiter to reserve "estimated tokens" before a call. Deliberately cheap: one pass over the message texts,
 * no allocation beyond the tool-definition JSON. Hand-rolled (effect/ai's `Tokenizer` needs a real tokenizer).
 *
 * @since 0.1.0
 */
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

const messageChars = (message: LlmMessage): number => {
  switch (message.role) {
    case "assistant": {
      let n = message.content.length
      if (message.toolCalls !== undefined) {
        for (const call of message.toolCalls) {
          n += call.name.length +
            (typeof call.arguments === "string" ? call.arguments.length : JSON.stringify(call.arguments).length)
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

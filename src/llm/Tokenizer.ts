/**
 * The token counter hook: how many input tokens a request is estimated to use, before it is sent.
 *
 * `TokenCounter` is a `Context.Reference` whose default is the cheap estimate of `TokenEstimate` (~4 characters
 * per token), so nothing changes unless a counter is provided. `Tokenizer.bpe` is a real byte-pair-encoding
 * counter built on the `gpt-tokenizer` npm package (OpenAI's `o200k_base` for the GPT-4o / 4.1 / 5 and o-series
 * models, `cl100k_base` for GPT-4 and GPT-3.5), with the chat format's per-message overhead; other models get
 * `o200k_base` as the nearest public BPE. Counting never throws: tool-call arguments too deep for `JSON.stringify` are
 * counted at ~4 characters per token of their JSON length (`TokenEstimate.jsonLength`). The pipeline's token rate limit reserves what the counter says, and the
 * estimate is reported beside the provider's actual usage (`meta.estimatedInputTokens` next to `usage`).
 *
 * Mirrors tiktoken's `num_tokens_from_messages` recipe (3 tokens per message, 3 to prime the reply). Reuses
 * `gpt-tokenizer` (a pure-JS port of tiktoken's encodings); effect/ai's `Tokenizer` tokenizes prompts for
 * truncation, not requests for budgets, so it is not used here.
 */
import { Context, Layer } from "effect"
import { countTokens as countCl100k } from "gpt-tokenizer/encoding/cl100k_base"
import { countTokens as countO200k } from "gpt-tokenizer/encoding/o200k_base"
import type { LlmMessage, LlmRequest } from "./LlmRequest.ts"
import { CHARS_PER_TOKEN, estimateRequestTokens, estimateTokens, jsonLength } from "./TokenEstimate.ts"

/** A token counter. `model` is the provider's model name (after alias resolution), when known. */
export interface TokenCounterShape {
  readonly name: string
  readonly countText: (text: string, model?: string) => number
  readonly countRequest: (request: LlmRequest, model?: string) => number
}

/** The default: ~4 characters per token. */
export const charEstimate: TokenCounterShape = {
  name: "chars/4",
  countText: (text) => estimateTokens(text),
  countRequest: (request) => estimateRequestTokens(request)
}

/** Which OpenAI encoding a model uses: `cl100k_base` for GPT-4 and GPT-3.5, `o200k_base` for the rest. */
export const encodingOf = (model: string | undefined): "cl100k_base" | "o200k_base" => {
  const name = model === undefined ? "" : model.slice(model.indexOf(":") + 1)
  return /^(gpt-4(?!o|\.)|gpt-3\.5|text-embedding-(ada|3))/.test(name) ? "cl100k_base" : "o200k_base"
}

const MESSAGE_OVERHEAD = 3
const REPLY_PRIMING = 3

/** A message's text and, apart, the characters of tool-call arguments too deep for `JSON.stringify`. */
const messageText = (message: LlmMessage): { readonly text: string; readonly uncounted: number } => {
  if (message.role !== "assistant" || message.toolCalls === undefined) return { text: message.content, uncounted: 0 }
  let text = message.content
  let uncounted = 0
  for (const call of message.toolCalls) {
    text += call.name
    if (typeof call.arguments === "string") {
      text += call.arguments
      continue
    }
    try {
      text += JSON.stringify(call.arguments)
    } catch {
      uncounted += jsonLength(call.arguments)
    }
  }
  return { text, uncounted }
}

/** A BPE counter on `gpt-tokenizer`'s encodings. */
export const bpe: TokenCounterShape = {
  name: "bpe",
  countText: (text, model) => (encodingOf(model) === "cl100k_base" ? countCl100k(text) : countO200k(text)),
  countRequest: (request, model) => {
    const count = encodingOf(model ?? request.model) === "cl100k_base" ? countCl100k : countO200k
    let tokens = REPLY_PRIMING
    for (const message of request.messages) {
      const { text, uncounted } = messageText(message)
      tokens += MESSAGE_OVERHEAD + count(text) + Math.ceil(uncounted / CHARS_PER_TOKEN)
    }
    if (request.tools !== undefined && request.tools.length > 0) tokens += count(JSON.stringify(request.tools))
    return tokens
  }
}

/** The counter used by the pipeline (rate limit, budget estimates); default `charEstimate`. */
export const TokenCounter = Context.Reference<TokenCounterShape>("troupe/llm/TokenCounter", {
  defaultValue: () => charEstimate
})

/** Provides the BPE counter. */
export const layerBpe: Layer.Layer<never> = Layer.succeed(TokenCounter, bpe)

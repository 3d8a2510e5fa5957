/**
 * The usage of an answer, as both wires read it (OpenAI chat completions, Anthropic Messages), by one rule:
 *
 * - **A count the provider sent is kept**, every field of it (cache reads and writes, reasoning tokens, the
 *   provider's own total), and is decoded as a non-negative safe integer: anything else fails the decode, so the
 *   answer is a `MalformedResponse`, never a hostile cost.
 * - **A count the provider did not send is estimated** — the input from the request (`estimateRequestTokens`), the
 *   output from the answer's text, refusal and tool-call arguments (about 4 characters a token, `estimateTokens`; the
 *   Anthropic stream counts their characters instead of keeping them) — **and the usage is marked
 *   `estimated: true`**. An answer without usage is never reported as 0 real tokens.
 * - Anthropic's input counts exclude cache reads and writes (`input_tokens` is the uncached part), so its
 *   `inputTokens` adds them; an estimated input covers at least the cached tokens the provider reported.
 *
 * @internal
 */
import { Schema } from "effect"
import type { LlmRequest } from "../LlmRequest.ts"
import type { Usage } from "../LlmResponse.ts"
import { TokenCount, usageFrom } from "../LlmResponse.ts"
import { CHARS_PER_TOKEN, estimateRequestTokens, estimateTokens } from "../TokenEstimate.ts"

const Count = Schema.optional(Schema.NullOr(TokenCount)) // a hostile count fails the decode (typed), never a cost

/** OpenAI's `usage`. */
export const OpenAiUsageWire = Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  total_tokens: Count,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
    cached_tokens: Count,
    /** OpenRouter and some gateways report prompt-cache writes here. */
    cache_write_tokens: Count
  }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count })))
})
export type OpenAiUsageWire = typeof OpenAiUsageWire.Type

/** The usage of an OpenAI answer whose output is `outputText` (see the module doc). */
export const openAiUsage = (
  wire: OpenAiUsageWire | null | undefined,
  request: LlmRequest,
  outputText: string
): Usage => {
  const input = wire?.prompt_tokens ?? undefined
  const output = wire?.completion_tokens ?? undefined
  return usageFrom({
    inputTokens: input ?? estimateRequestTokens(request),
    outputTokens: output ?? estimateTokens(outputText),
    totalTokens: input !== undefined && output !== undefined ? wire?.total_tokens ?? undefined : undefined,
    cachedInputTokens: wire?.prompt_tokens_details?.cached_tokens ?? undefined,
    cacheWriteInputTokens: wire?.prompt_tokens_details?.cache_write_tokens ?? undefined,
    reasoningTokens: wire?.completion_tokens_details?.reasoning_tokens ?? undefined,
    estimated: input === undefined || output === undefined
  })
}

/** Anthropic's `usage` (of the answer, of `message_start`, of `message_delta`). */
export const AnthropicUsageWire = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  cache_read_input_tokens: Count,
  cache_creation_input_tokens: Count
})
export type AnthropicUsageWire = typeof AnthropicUsageWire.Type

/** The counts of one Anthropic usage object, a field left `undefined` when the wire did not send it. */
export interface AnthropicCounts {
  readonly input?: number | undefined
  readonly output?: number | undefined
  readonly cacheRead?: number | undefined
  readonly cacheWrite?: number | undefined
}

/** The counts `u` sent. */
export const anthropicCounts = (u: AnthropicUsageWire | null | undefined): AnthropicCounts => ({
  input: u?.input_tokens ?? undefined,
  output: u?.output_tokens ?? undefined,
  cacheRead: u?.cache_read_input_tokens ?? undefined,
  cacheWrite: u?.cache_creation_input_tokens ?? undefined
})

/** `next` over `base`, field by field (Anthropic's `message_delta` usage is cumulative but may be partial). */
export const mergeAnthropicCounts = (base: AnthropicCounts, next: AnthropicCounts): AnthropicCounts => ({
  input: next.input ?? base.input,
  output: next.output ?? base.output,
  cacheRead: next.cacheRead ?? base.cacheRead,
  cacheWrite: next.cacheWrite ?? base.cacheWrite
})

/** The usage of an Anthropic answer whose output (text and tool arguments) is `outputChars` long (see the module doc). */
export const anthropicUsage = (c: AnthropicCounts, request: LlmRequest, outputChars: number): Usage => {
  const cached = (c.cacheRead ?? 0) + (c.cacheWrite ?? 0)
  return usageFrom({
    inputTokens: c.input !== undefined ? c.input + cached : Math.max(estimateRequestTokens(request), cached),
    outputTokens: c.output ?? Math.ceil(outputChars / CHARS_PER_TOKEN),
    cachedInputTokens: c.cacheRead,
    cacheWriteInputTokens: c.cacheWrite,
    estimated: c.input === undefined || c.output === undefined
  })
}

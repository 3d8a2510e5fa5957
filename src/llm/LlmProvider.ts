/**
 * `LlmProvider`: the provider-agnostic service the LLM pipeline calls — `generate` one answer or `stream` it.
 *
 * Three implementations ship: `OpenAiCompatibleProvider` (chat completions: OpenAI, Groq, DeepSeek, Mistral, Ollama,
 * vLLM, OpenRouter, any base URL), `AnthropicProvider` (Messages API) and `ScriptedProvider` (deterministic,
 * offline). `LanguageModelBridge.ts` turns any of them into effect/ai's `LanguageModel`, the slot
 * `@effect/ai-openai` / `-anthropic` would fill if they loaded with effect 4.1. A provider is a plain value
 * (`LlmProviderShape`), so the pipeline can hold several (a fallback chain) without one service per provider; the
 * `LlmProvider` service is the "current" one for single-provider programs.
 *
 * Interrupting `generate` or the consumer of `stream` aborts the in-flight HTTP request.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Layer, type Redacted, type Stream } from "effect"
import type { Effect } from "effect"
import type { EmbedRequest, EmbedResponse } from "./Embeddings.ts"
import type { ProviderError } from "./LlmError.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import type { LlmResponse, LlmStreamPart } from "./LlmResponse.ts"

/** Per-call options (already validated by the caller; the pipeline decodes them). */
export interface LlmCallOptions {
  /** Overrides the provider's request timeout (for a stream: the wait for headers and for each next chunk). */
  readonly timeout?: Duration.Input
  /** Overrides the provider's API key for this call. */
  readonly apiKey?: Redacted.Redacted<string>
}

/** The wire family a provider speaks. */
export type ProviderApi = "openai-compatible" | "anthropic" | "scripted"

/** What every provider offers. */
export interface LlmProviderShape {
  /** The provider name used in errors, usage metadata and telemetry (e.g. `openai`, `groq`, `scripted`). */
  readonly name: string
  readonly api: ProviderApi
  /**
   * One finished answer. Fails with `ProviderError`: `ProviderRateLimited` (HTTP 429), `QuotaExhausted` (402 or
   * `insufficient_quota`), `AuthenticationFailed` (401 / 403), `ContextLengthExceeded` / `ContentPolicyViolation` (a
   * 4xx whose body says so), `ProviderRejectedRequest` (another 4xx, a redirect, or a request the wire refuses before
   * sending it), `ProviderOverloaded` (503 / 529), `ProviderServerError` (another 5xx), `ProviderTimeout` (no answer
   * within the timeout, or 408), `ProviderConnectionError` (the connection failed or was reset), `MalformedResponse`
   * (an answer not in the wire format); the scripted provider fails only with the error its matching rule's reply
   * names.
   */
  readonly generate: (request: LlmRequest, options?: LlmCallOptions) => Effect.Effect<LlmResponse, ProviderError>
  /**
   * The answer as it arrives: text deltas, tool-call deltas and complete calls, then one `Finish` part. Fails with
   * `ProviderError` as `generate` does, and also mid-stream: `ProviderTimeout` when no next chunk arrives within the
   * timeout, `ProviderConnectionError` when the stream ends before its terminal event, a classified error for an error
   * event inside the stream.
   */
  readonly stream: (request: LlmRequest, options?: LlmCallOptions) => Stream.Stream<LlmStreamPart, ProviderError>
  /**
   * Embeddings, for providers whose wire has them (OpenAI-compatible `/embeddings`, scripted); absent otherwise. Fails
   * with `ProviderError` as `generate` does for the HTTP call, and with `MalformedResponse` when the answer lacks a
   * vector for some input; the scripted provider's embeddings never fail.
   */
  readonly embed?: (request: EmbedRequest, options?: LlmCallOptions) => Effect.Effect<EmbedResponse, ProviderError>
}

/**
 * The current LLM provider.
 *
 * @example
 * ```ts
 * const answer = yield* LlmProvider.use((p) => p.generate({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }))
 * ```
 */
export class LlmProvider extends Context.Service<LlmProvider, LlmProviderShape>()("troupe/LlmProvider") {
  /** A layer holding an already-built provider. */
  static readonly fromShape = (provider: LlmProviderShape): Layer.Layer<LlmProvider> =>
    Layer.succeed(LlmProvider, provider)
}

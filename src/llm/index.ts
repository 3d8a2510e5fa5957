/**
 * troupe's LLM providers: the provider-agnostic `LlmProvider` service and its request / response / stream-part
 * Schemas, typed `ProviderError`s, an OpenAI-compatible and an Anthropic provider over effect's `HttpClient`, the
 * offline `ScriptedProvider`, provider selection from the ConfigStore, and the bridge to effect/ai's
 * `LanguageModel`.
 */
export * as AnthropicProvider from "./AnthropicProvider.ts"
export * from "./Embeddings.ts"
export {
  layerLanguageModel,
  makeLanguageModel,
  promptToMessages,
  responseToParts,
  toAiError,
  toLlmRequest
} from "./LanguageModelBridge.ts"
export type { LanguageModelOptions } from "./LanguageModelBridge.ts"
export * from "./LlmError.ts"
export * from "./LlmProvider.ts"
export * from "./LlmRequest.ts"
export * from "./LlmResponse.ts"
export * as OpenAiCompatibleProvider from "./OpenAiCompatibleProvider.ts"
export { scrubSecrets } from "./ProviderErrorMapping.ts"
export { fromProviderConfig } from "./ProviderOptions.ts"
export type { HttpProviderOptions } from "./ProviderOptions.ts"
export * from "./ProviderPools.ts"
export { defaultProvider, defaultProviderName, layerDefaultProvider, providerFromConfig } from "./ProviderSelection.ts"
export type { DefaultProviderOptions } from "./ProviderSelection.ts"
export { parseRetryAfterMillis } from "./RetryAfter.ts"
export * as ScriptedProvider from "./ScriptedProvider.ts"
export type { ScriptedOptions, ScriptedToolCall, ScriptMatcher, ScriptReply, ScriptRule } from "./ScriptedProvider.ts"
export { CHARS_PER_TOKEN, estimateRequestTokens, estimateTokens } from "./TokenEstimate.ts"
export * as Tokenizer from "./Tokenizer.ts"

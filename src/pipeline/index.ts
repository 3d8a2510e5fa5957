/**
 * troupe's LLM pipeline: the `Llm` service (`generate`, `stream`) and its replaceable steps — `ModelResolver`
 * (aliases from the ConfigStore), `ResponseCacheStep` (exact-match response cache, single-flight), `RateLimitStep`
 * (requests and estimated tokens per provider model), `BreakerStep` (effect's `CircuitBreaker` per provider, with
 * telemetry events), `RetryStep` (retryable failures only, backoff with jitter, exact `Retry-After`), `FallbackStep`
 * (effect's `ExecutionPlan` across models and providers), `UsageStep` (cost in USD from a price table) and
 * `ProviderRegistry` (the providers of `src/llm`) — plus `LlmPipeline.layer` composing the defaults.
 *
 * Mirrors the router features of LiteLLM and Portkey (aliases, caching, RPM/TPM, cooldowns, retries, fallbacks,
 * cost tracking) as Effect services; reuses effect's `CircuitBreaker`, `ExecutionPlan`, `Stream`, `Schema`, `Clock`
 * and `Random`, and troupe's ConfigStore, Cache, RateLimiter, TelemetryHub and supervisors.
 *
 * @since 0.1.0
 */
export { BreakerStep, BreakerStepOptions } from "./BreakerStep.ts"
export type { BreakerStepShape } from "./BreakerStep.ts"
export { BudgetStep, DEFAULT_MAX_OUTPUT_TOKENS, scopesOf as budgetScopesOf } from "./BudgetStep.ts"
export type { BudgetStepError, BudgetStepOptions, BudgetStepShape, StreamHold } from "./BudgetStep.ts"
export { CallLimits, CallLimitsOptions, defaultCallLimits } from "./CallLimits.ts"
export type { CallLimitsShape } from "./CallLimits.ts"
export { EmbeddingsUnsupported } from "./Embed.ts"
export type { EmbedInput, EmbedResult } from "./Embed.ts"
export { FallbackStep, shouldFallback } from "./FallbackStep.ts"
export type { FallbackStepOptions, FallbackStepShape } from "./FallbackStep.ts"
export { generateObject, InvalidObjectOutput, resolveMode } from "./GenerateObject.ts"
export type { GeneratedObject, GenerateObjectOptions, ObjectMode } from "./GenerateObject.ts"
/** The optional queue step: a `RequestQueue` in front of each provider route. */
export { coalesceKeyOf, CoalesceStep, DEFAULT_MAX_IN_FLIGHT } from "./CoalesceStep.ts"
export type { CoalesceStepOptions, CoalesceStepShape } from "./CoalesceStep.ts"
export { CurrentRedrive, DeadLetterStep, PipelineRedrive } from "./DeadLetterStep.ts"
export type { DeadLetterStepShape, RedriveGenerate } from "./DeadLetterStep.ts"
export { GuardStep, scopeOf } from "./GuardStep.ts"
export type { GuardStepShape } from "./GuardStep.ts"
export { HedgeBudgetOptions, HedgeStep, HedgeStepOptions } from "./HedgeStep.ts"
export type { HedgeLoser, HedgeStats, HedgeStepShape } from "./HedgeStep.ts"
export { Llm } from "./Llm.ts"
export type { LlmError, LlmShape, LlmSteps } from "./Llm.ts"
export {
  CacheMode,
  CallHedge,
  decodeLlmCall,
  HedgeDelay,
  isPlainLlmCall,
  LlmCall,
  LlmCallOptions,
  MAX_CALL_DEPTH
} from "./LlmCall.ts"
export type { LlmCallInput } from "./LlmCall.ts"
export * as LlmPipeline from "./LlmPipeline.ts"
export type { LlmPipelineOptions } from "./LlmPipeline.ts"
export type { CallMeta, LlmOutputPart, LlmResult, PipelineFinish } from "./LlmResult.ts"
export { ModelResolver } from "./ModelResolver.ts"
export type { ModelResolverShape } from "./ModelResolver.ts"
export {
  CallDeadlineExceeded,
  InvalidPipelineOptions,
  ProviderNotFound,
  RateLimitRefused,
  StreamLimitExceeded
} from "./PipelineError.ts"
export { costOf, defaultPrices, findPrice, ModelPrice, priceTableInfo, PriceTableSchema } from "./PriceTable.ts"
export type { PriceTable } from "./PriceTable.ts"
export { isStandIn, ProviderRegistry, STAND_IN_PROVIDER } from "./ProviderRegistry.ts"
export type { ProviderRegistryShape, ProvidersFromConfigOptions } from "./ProviderRegistry.ts"
export { QueueStep, QueueStepOptions } from "./QueueStep.ts"
export type { QueueStats, QueueStepShape } from "./QueueStep.ts"
export { RateLimitStep, RateLimitStepOptions } from "./RateLimitStep.ts"
export type { RateLimitStepShape } from "./RateLimitStep.ts"
export { isCacheable, ResponseCacheStep } from "./ResponseCacheStep.ts"
export type { ResponseCacheStepOptions, ResponseCacheStepShape } from "./ResponseCacheStep.ts"
export { RetryStep, RetryStepOptions } from "./RetryStep.ts"
export type { RetryStepShape } from "./RetryStep.ts"
export {
  classifyComplexity,
  DEFAULT_MAX_INSTRUCTION_CHARS,
  DEFAULT_MAX_SIMPLE_CHARS,
  MAX_ROUTES,
  RouterStep
} from "./RouterStep.ts"
export type { Complexity, ComplexityThresholds, RouterStepOptions, RouterStepShape } from "./RouterStep.ts"
export { MAX_SIBLINGS, sameText, SiblingStep } from "./SiblingStep.ts"
export type { JudgeInput, SiblingGenerate, SiblingStepOptions, SiblingStepShape } from "./SiblingStep.ts"
export { openStream } from "./StreamOpen.ts"
export { CallState, CurrentTarget } from "./Target.ts"
export type { CallContext, CallKind, Target } from "./Target.ts"
export { isValidUsage, UsageStep } from "./UsageStep.ts"
export type { UsageStepOptions, UsageStepShape } from "./UsageStep.ts"

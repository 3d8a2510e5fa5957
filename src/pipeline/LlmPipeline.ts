/**
 * `LlmPipeline`: the usual composition of the `Llm` service — every step with its default layer, each one
 * configurable or switched off (`false` gives the step's `none` layer).
 *
 * `LlmPipeline.layer(options)` needs `ConfigStore` (model aliases), `Cache` (response cache), `RateLimiter` and a
 * `ProviderRegistry` (e.g. `ProviderRegistry.layerFromConfig()` with an `HttpClient`, or `layerScripted()`); a
 * `TelemetryHub` in the context is picked up for events, spans and metrics. To replace one step, build `Llm.layer`
 * over `LlmPipeline.layerSteps({ …, retry: false })` plus your own `RetryStep` layer.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { CircuitBreaker } from "effect/persistence"
import type { Budgets } from "../budget/index.ts"
import type { Cache, InvalidCacheOptions } from "../cache/index.ts"
import type { ConfigStore } from "../config/index.ts"
import type { DeadLetters } from "../dlq/index.ts"
import type { RateLimiter } from "../ratelimit/index.ts"
import type { BreakerStepOptions } from "./BreakerStep.ts"
import { BreakerStep } from "./BreakerStep.ts"
import type { BudgetStepOptions } from "./BudgetStep.ts"
import { BudgetStep } from "./BudgetStep.ts"
import type { CallLimitsOptions } from "./CallLimits.ts"
import { CallLimits } from "./CallLimits.ts"
import type { CoalesceStepOptions } from "./CoalesceStep.ts"
import { CoalesceStep } from "./CoalesceStep.ts"
import type { PipelineRedrive } from "./DeadLetterStep.ts"
import { DeadLetterStep } from "./DeadLetterStep.ts"
import type { FallbackStepOptions } from "./FallbackStep.ts"
import { FallbackStep } from "./FallbackStep.ts"
import type { HedgeStepOptions } from "./HedgeStep.ts"
import { HedgeStep } from "./HedgeStep.ts"
import { Llm } from "./Llm.ts"
import { ModelResolver } from "./ModelResolver.ts"
import type { InvalidPipelineOptions } from "./PipelineError.ts"
import type { ProviderRegistry } from "./ProviderRegistry.ts"
import type { RateLimitStepOptions } from "./RateLimitStep.ts"
import { RateLimitStep } from "./RateLimitStep.ts"
import type { ResponseCacheStepOptions } from "./ResponseCacheStep.ts"
import { ResponseCacheStep } from "./ResponseCacheStep.ts"
import type { RetryStepOptions } from "./RetryStep.ts"
import { RetryStep } from "./RetryStep.ts"
import type { UsageStepOptions } from "./UsageStep.ts"
import { UsageStep } from "./UsageStep.ts"

/** Options per step; `false` switches a step off. */
export interface LlmPipelineOptions {
  readonly cache?: ResponseCacheStepOptions | false
  readonly rateLimit?: RateLimitStepOptions | false
  readonly breaker?: BreakerStepOptions | false
  /**
   * Where the breakers keep their circuits (default: in the process). `CircuitBreaker.layerStoreRedis()` shares
   * them between processes on one Redis (what `Troupe.layer({ redis })` passes).
   */
  readonly breakerStore?: Layer.Layer<CircuitBreaker.CircuitBreakerStore>
  readonly retry?: RetryStepOptions | false
  readonly fallback?: FallbackStepOptions | false
  readonly usage?: UsageStepOptions | false
  /** Deadlines and stream bounds of every call (see `CallLimits`; defaults apply when absent). */
  readonly limits?: CallLimitsOptions
}

/** The step services built by `layerSteps` (all but the `ProviderRegistry`). */
export type DefaultSteps =
  | ModelResolver
  | ResponseCacheStep
  | RateLimitStep
  | BreakerStep
  | RetryStep
  | FallbackStep
  | UsageStep

/**
 * Every step but the provider registry, from options. Fails to build with `InvalidPipelineOptions` (naming the step and
 * field) when the options of `rateLimit`, `breaker`, `retry`, `usage` or `limits` do not decode (see each step's
 * `layer`), or `rateLimit.tokensPolicy` names a policy the `RateLimiter` does not have; with `InvalidCacheOptions` when
 * `cache.namespace` is empty or contains `:`.
 */
export const layerSteps = (
  options: LlmPipelineOptions = {}
): Layer.Layer<DefaultSteps, InvalidPipelineOptions | InvalidCacheOptions, ConfigStore | Cache | RateLimiter> =>
  Layer.mergeAll(
    ModelResolver.layer,
    options.cache === false ? ResponseCacheStep.none : ResponseCacheStep.layer(options.cache),
    options.rateLimit === false ? RateLimitStep.none : RateLimitStep.layer(options.rateLimit),
    options.breaker === false
      ? BreakerStep.none
      : options.breakerStore === undefined
      ? BreakerStep.layerMemory(options.breaker)
      : BreakerStep.layer(options.breaker).pipe(Layer.provide(options.breakerStore)),
    options.retry === false ? RetryStep.none : RetryStep.layer(options.retry),
    options.fallback === false ? FallbackStep.none : FallbackStep.layer(options.fallback),
    options.usage === false ? UsageStep.none : UsageStep.layer(options.usage)
  )

/**
 * The `Llm` service with every default step. Fails to build with `InvalidPipelineOptions` (naming the step and field)
 * when the options of `rateLimit`, `breaker`, `retry`, `usage` or `limits` do not decode (see each step's `layer`), or
 * `rateLimit.tokensPolicy` names a policy the `RateLimiter` does not have; with `InvalidCacheOptions` when
 * `cache.namespace` is empty or contains `:`.
 *
 * @example
 * ```ts
 * const LlmLive = LlmPipeline.layer({ retry: { retries: 2 }, fallback: { chains: { fast: ["capable"] } } }).pipe(
 *   Layer.provide([ProviderRegistry.layerScripted(), Cache.layerMemory(), RateLimiter.layerMemory(), ConfigStore.layerNode()])
 * )
 * ```
 */
export const layer = (
  options: LlmPipelineOptions = {}
): Layer.Layer<
  Llm,
  InvalidPipelineOptions | InvalidCacheOptions,
  ConfigStore | Cache | RateLimiter | ProviderRegistry
> => layerWith({ ...options, steps: Layer.empty })

/**
 * `layer` with optional steps added: `options.steps` provides any of `BudgetStep`, `QueueStep`, `CoalesceStep`,
 * `DeadLetterStep`, `HedgeStep`, `GuardStep` (the pipeline picks up whichever it finds), so several can be combined;
 * the `layerWith…` shortcuts below add one each. Fails with the steps' own errors (`E`, e.g. `InvalidGuardOptions` of a
 * `GuardStep.layer`) besides `InvalidPipelineOptions` or `InvalidCacheOptions` as `layer` does (a step option that does
 * not decode, a `tokensPolicy` the limiter lacks, a cache `namespace` that is empty or has a `:`).
 *
 * @example
 * ```ts
 * const llm = LlmPipeline.layerWith({ steps: Layer.mergeAll(BudgetStep.layer(), CoalesceStep.layer()) }).pipe(Layer.provide(deps))
 * ```
 */
export const layerWith = <ROut, E, RIn>(
  { steps, ...options }: LlmPipelineOptions & { readonly steps: Layer.Layer<ROut, E, RIn> }
): Layer.Layer<
  Llm,
  E | InvalidPipelineOptions | InvalidCacheOptions,
  Exclude<RIn, DefaultSteps> | ConfigStore | Cache | RateLimiter | ProviderRegistry
> =>
  Llm.layer.pipe(
    Layer.provide(steps),
    Layer.provide(layerSteps(options)),
    Layer.provide(options.limits === undefined ? Layer.empty : CallLimits.layer(options.limits))
  )

/**
 * `layer` with budgets enforced (see `BudgetStep`): every call with budget scopes reserves its estimated maximum cost
 * on the `Budgets` in the context before a provider is asked, and settles at its actual cost. Fails to build with
 * `InvalidPipelineOptions` or `InvalidCacheOptions` as `layer` does (a step option that does not decode, a
 * `tokensPolicy` the limiter lacks, a cache `namespace` that is empty or has a `:`); the budget step adds no build
 * error.
 *
 * @example
 * ```ts
 * const llm = LlmPipeline.layerWithBudgets().pipe(Layer.provide(Budgets.layerRedis()), Layer.provide(deps))
 * ```
 */
export const layerWithBudgets = (
  options: LlmPipelineOptions & { readonly budget?: BudgetStepOptions } = {}
): Layer.Layer<
  Llm,
  InvalidPipelineOptions | InvalidCacheOptions,
  ConfigStore | Cache | RateLimiter | ProviderRegistry | Budgets
> => layerWith({ ...options, steps: BudgetStep.layer(options.budget) })

/**
 * `layer` with coalescing (see `CoalesceStep`): identical in-flight requests (same cache key) share one provider call,
 * even with the response cache off or bypassed. Fails with `InvalidPipelineOptions` on a bad `coalesce` option
 * (`maxInFlight` not a positive integer), and with `InvalidPipelineOptions` or `InvalidCacheOptions` as `layer` does (a
 * step option that does not decode, a `tokensPolicy` the limiter lacks, a cache `namespace` that is empty or has a
 * `:`).
 *
 * @example
 * ```ts
 * const llm = LlmPipeline.layerWithCoalescing({ cache: false }).pipe(Layer.provide(deps))
 * ```
 */
export const layerWithCoalescing = (
  options: LlmPipelineOptions & { readonly coalesce?: CoalesceStepOptions } = {}
): Layer.Layer<
  Llm,
  InvalidPipelineOptions | InvalidCacheOptions,
  ConfigStore | Cache | RateLimiter | ProviderRegistry
> => layerWith({ ...options, steps: CoalesceStep.layer(options.coalesce) })

/**
 * `layer` with dead letters (see `DeadLetterStep`): a `generate` whose provider side fails permanently (after its
 * retries and fallbacks) is recorded on the `DeadLetters` in the context; `redrive`, when given, is bound to this
 * pipeline so a redrive re-runs the request through it. Fails to build with `InvalidPipelineOptions` or
 * `InvalidCacheOptions` as `layer` does (a step option that does not decode, a `tokensPolicy` the limiter lacks, a
 * cache `namespace` that is empty or has a `:`); the dead-letter step adds no build error.
 *
 * @example
 * ```ts
 * const redrive = new PipelineRedrive()
 * const llm = LlmPipeline.layerWithDeadLetters({ redrive }).pipe(
 *   Layer.provide(DeadLetters.layerMemory({ redrive: redrive.handler })), Layer.provide(deps))
 * ```
 */
export const layerWithDeadLetters = (
  options: LlmPipelineOptions & { readonly redrive?: PipelineRedrive } = {}
): Layer.Layer<
  Llm,
  InvalidPipelineOptions | InvalidCacheOptions,
  ConfigStore | Cache | RateLimiter | ProviderRegistry | DeadLetters
> =>
  layerWith({
    ...options,
    steps: DeadLetterStep.layer(options.redrive === undefined ? {} : { redrive: options.redrive })
  })

/**
 * `layer` with hedging (see `HedgeStep`): a critical call (`options.hedge`, or a model named in `hedge.models`) whose
 * first target has not answered after the delay (default: its observed p95 latency) is also sent to the next target of
 * its fallback chain, within the hedging budget; the first success wins. Fails with `InvalidPipelineOptions` on a bad
 * `hedge` option (a delay, count or budget out of range, `minSamples` above `samples`), and with
 * `InvalidPipelineOptions` or `InvalidCacheOptions` as `layer` does (a step option that does not decode, a
 * `tokensPolicy` the limiter lacks, a cache `namespace` that is empty or has a `:`).
 *
 * @example
 * ```ts
 * const llm = LlmPipeline.layerWithHedging({ fallback: { chains: { fast: ["cheap"] } }, hedge: { models: { fast: true } } }).pipe(
 *   Layer.provide(deps))
 * ```
 */
export const layerWithHedging = (
  options: LlmPipelineOptions & { readonly hedge?: HedgeStepOptions } = {}
): Layer.Layer<
  Llm,
  InvalidPipelineOptions | InvalidCacheOptions,
  ConfigStore | Cache | RateLimiter | ProviderRegistry
> => layerWith({ ...options, steps: HedgeStep.layer(options.hedge) })

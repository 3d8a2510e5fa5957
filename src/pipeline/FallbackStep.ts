/**
 * `FallbackStep`: when the requested model fails, try the next one of a chain — across models and providers — with
 * effect's `ExecutionPlan` (one plan step per model, each providing `CurrentTarget`; a later step runs only if its
 * `while` accepts the previous step's failure).
 *
 * The chain comes from the call (`options.fallbacks: ["anthropic:claude-haiku-4-5", "fast"]`, replacing any
 * configured one) or from the layer's `chains` (by the alias or spec the call names). The configuration schema has
 * no per-alias `fallbacks` field yet, so configured chains live in this layer's options. Each model of the chain
 * runs its own rate limit, breaker and retries (effect's advice: a breaker inside each plan step, under its own key).
 *
 * Which failures fall over (default `shouldFallback`): an open breaker, our rate limiter's refusal, a missing
 * provider, and every provider failure except `ContentPolicyViolation` and `ProviderRejectedRequest` (another model
 * would refuse the same request). Auth, quota and context-length failures do fall over: another provider has other
 * keys, quotas and windows (LiteLLM's `fallbacks` / `context_window_fallbacks`, Portkey's fallback strategy).
 * `FallbackStep.none` only ever tries the requested model.
 *
 * @since 0.1.0
 */
import type { Array as Arr } from "effect"
import { Context, Effect, ExecutionPlan, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { isProviderError } from "../llm/index.ts"
import { ProviderNotFound, RateLimitRefused } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"
import { CurrentTarget } from "./Target.ts"

/** The service interface. */
export interface FallbackStepShape {
  /** The models to try after the requested one, for this call. */
  readonly chainFor: (context: CallContext) => ReadonlyArray<string>
  /** Runs `attempt` for each target in order until one succeeds or a failure must not fall over. */
  readonly run: <A, E, R>(
    context: CallContext,
    targets: Arr.NonEmptyReadonlyArray<Target>,
    attempt: (target: Target) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
}

/** Options of `FallbackStep.layer`. */
export interface FallbackStepOptions {
  /** Fallback chains by the alias or spec a call names. */
  readonly chains?: Readonly<Record<string, ReadonlyArray<string>>>
  /** Which failures move on to the next model. Default {@link shouldFallback}. */
  readonly when?: (error: unknown) => boolean
}

/** The default fallback rule (see the module doc). */
export const shouldFallback = (error: unknown): boolean => {
  if (error instanceof CircuitBreaker.CircuitBreakerError) return error.reason._tag !== "CircuitBreakerStoreError"
  if (error instanceof RateLimitRefused || error instanceof ProviderNotFound) return true
  if (isProviderError(error)) return error._tag !== "ContentPolicyViolation" && error._tag !== "ProviderRejectedRequest"
  return false
}

type Plan = ExecutionPlan.ExecutionPlan<{ provides: CurrentTarget; input: unknown; error: never; requirements: never }>

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

const make = (options: FallbackStepOptions): FallbackStepShape => {
  const chains = new Map(Object.entries(options.chains ?? {}))
  const when = options.when ?? shouldFallback
  const plans = new Map<string, { readonly targets: ReadonlyArray<Target>; readonly plan: Plan }>()

  const planOf = (targets: Arr.NonEmptyReadonlyArray<Target>): Plan => {
    const key = targets.map((t) => t.spec).join("|")
    const cached = plans.get(key)
    if (cached !== undefined && cached.targets.every((t, i) => t === targets[i])) return cached.plan
    const steps = targets.map((target, i) => ({
      provide: Context.make(CurrentTarget, target),
      ...(i === 0 ? {} : {
        // evaluated on the previous model's failure: decides whether this model is tried
        while: (error: unknown) => {
          const next = when(error)
          return next
            ? Effect.as(
              Effect.logWarning(
                `LLM fallback: ${targets[i - 1]?.spec} failed (${describe(error)}); trying ${target.spec}`
              ),
              true
            )
            : Effect.succeed(false)
        }
      })
    }))
    // make takes a non-empty tuple: `steps` has one step per target (a NonEmptyReadonlyArray); the plan is used as Plan, its step types erased
    const plan = ExecutionPlan.make(...(steps as unknown as [ExecutionPlan.make.Step])) as unknown as Plan
    if (plans.size < 1000) plans.set(key, { targets, plan })
    return plan
  }

  return {
    chainFor: ({ call }) => call.options?.fallbacks ?? chains.get(call.model) ?? [],
    run: <A, E, R>(
      _context: CallContext,
      targets: Arr.NonEmptyReadonlyArray<Target>,
      attempt: (target: Target) => Effect.Effect<A, E, R>
    ) =>
      // one model: no plan at all (the hot path)
      targets.length === 1 ? attempt(targets[0]) : Effect.withExecutionPlan(CurrentTarget.use(attempt), planOf(targets))
  }
}

/**
 * The fallback step.
 *
 * @example
 * ```ts
 * const step = FallbackStep.layer({ chains: { fast: ["anthropic:claude-haiku-4-5", "groq:llama-3.1-8b-instant"] } })
 * ```
 */
export class FallbackStep extends Context.Service<FallbackStep, FallbackStepShape>()("troupe/pipeline/FallbackStep") {
  /** Falls back along the call's or the configured chain. */
  static readonly layer = (options: FallbackStepOptions = {}): Layer.Layer<FallbackStep> =>
    Layer.sync(FallbackStep, () => make(options))

  /** No fallbacks: only the requested model is tried (a call's `options.fallbacks` is ignored). */
  static readonly none: Layer.Layer<FallbackStep> = Layer.succeed(FallbackStep, {
    chainFor: () => [],
    run: (_context, targets, attempt) => attempt(targets[0])
  })
}

/**
 * The steps around one provider attempt of the `Llm` pipeline: queue → rate limit → breaker → retry, entered only
 * for a route the `ProviderRegistry` has.
 *
 * Rule: **the route is looked up first**. A call naming a provider the registry does not have fails with its
 * `ProviderNotFound` (or `InvalidProviderOptions`) before any of these steps runs, so the per-route tables they
 * build on a route's first call — `QueueStep`'s queues, `BreakerStep`'s circuits and their `troupe_breaker_open`
 * series — only ever hold routes the registry has (with `ModelResolver.layerSpecs` any `provider:model` a caller
 * names resolves, and the registry decides). The attempt still looks its provider up itself (retries re-run it, and a
 * configuration change between them rebuilds the provider); with fixed providers the first lookup is an `Exit`,
 * continued at once. `embed` enters its breaker the same way.
 *
 * @internal
 */
import { Effect, Exit } from "effect"
import { dual } from "effect/Function"
import type { CircuitBreaker } from "effect/persistence"
import type { BreakerStepShape } from "../BreakerStep.ts"
import type { ProviderRegistryShape } from "../ProviderRegistry.ts"
import type { QueueStepShape } from "../QueueStep.ts"
import type { RateLimitStepShape } from "../RateLimitStep.ts"
import type { RetryStepShape } from "../RetryStep.ts"
import type { CallContext, Target } from "../Target.ts"

/** The steps an attempt goes through. */
export interface GuardSteps {
  readonly registry: ProviderRegistryShape
  readonly retry: RetryStepShape
  readonly breaker: BreakerStepShape
  readonly rateLimit: RateLimitStepShape
  readonly queue: QueueStepShape | undefined
}

/** `guarded` for `generate` and `stream` attempts, and the breaker `embed` goes through (see the module doc). */
export const makeGuarded = (steps: GuardSteps) => {
  const { breaker, queue, rateLimit, registry, retry } = steps
  /** `build()` once `target`'s route is known to the registry (its lookup's failure otherwise). */
  const known = <A, Er, R>(target: Target, build: () => Effect.Effect<A, Er, R>) => {
    const provider = registry.get(target.route)
    return Exit.isExit(provider) && Exit.isSuccess(provider) ? build() : Effect.flatMap(provider, build)
  }
  /** Queue → rate limit → breaker → retry around one model's provider attempt. */
  const guarded = <A, Er, R>(context: CallContext, target: Target, attempt: Effect.Effect<A, Er, R>) =>
    known(target, () => {
      const limited = attempt.pipe(
        retry.around(context, target),
        breaker.around(target),
        rateLimit.around(target, context)
      )
      return queue === undefined ? limited : queue.around(limited, target, context)
    })
  const embedBreaker: BreakerStepShape = {
    // the lookup fails only as the attempt it precedes would (an embed attempt starts with the same lookup), so
    // its errors are the attempt's own
    around: dual(
      2,
      <A, Er, R>(attempt: Effect.Effect<A, Er, R>, target: Target) =>
        known(target, () => breaker.around(attempt, target)) as Effect.Effect<
          A,
          Er | CircuitBreaker.CircuitBreakerError,
          R
        >
    ),
    state: breaker.state
  }
  return { guarded, embedBreaker }
}

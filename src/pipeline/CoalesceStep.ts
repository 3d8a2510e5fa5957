/**
 * `CoalesceStep`: identical in-flight requests share one provider call, in the `Llm` pipeline. Rules:
 *
 * - **Identical means the same cache key**: the key is the response cache's (`src/cache/ResponseKey.ts`,
 *   `hashRequestFields`) over the resolved provider and model of the first target, the messages, tools, tool
 *   choice, merged sampling parameters and the response format, scoped by the tenant and the identity of a
 *   per-call API key (a SHA-256 prefix, never the key) hashed in as a separate component that no request content
 *   can forge (`internal/KeyScope.ts`). Tenants and credentials never share a call; a call whose params carry
 *   `troupe.tenant` or `troupe.credential` (the names the scope was once keyed under) runs on its own.
 * - **Coalescing works with the response cache off or bypassed**: the key is computed here, whatever the cache step
 *   or the call's `cache` mode says; with the cache on, coalescing sits inside it (a hit never reaches this step).
 * - **An interrupted waiter does not cancel the shared call while others wait**: the call runs in its own fiber
 *   (`src/cache/internal/SingleFlight.ts`, reused), each caller only waits on it.
 * - **The last waiter leaving cancels the shared call** (its fiber, so its HTTP request, is interrupted) and the
 *   next identical request starts a fresh one.
 * - **A waiter pays nothing**: the first caller's budget reservation and attempts cover the call; a waiter's `meta`
 *   reads like a cache hit (`cached: true`, no attempts, cost 0). A failure is shared by every waiter.
 * - **Bounded**: at most `maxInFlight` (default 10,000) distinct keys are shared at once; past that a call runs on
 *   its own (never refused). Streams are not coalesced.
 *
 * Optional in `Llm.layer`, like `BudgetStep`: without a `CoalesceStep` in the context the pipeline is unchanged.
 * Mirrors Go's `singleflight` and Envoy's / Portkey's request collapsing.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { dual } from "effect/Function"
import { CanonicalJsonTooDeep, hashRequestFields } from "../cache/index.ts"
import { makeSingleFlight } from "../cache/internal/SingleFlight.ts"
import type { LlmRequest, LlmResponse } from "../llm/index.ts"
import { hasLegacyScopeParam, scopedHash } from "./internal/KeyScope.ts"
import { InvalidPipelineOptions } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"

/** Options of `CoalesceStep.layer`. */
export interface CoalesceStepOptions {
  /** Distinct keys shared at once; past it a call runs on its own (default 10,000). */
  readonly maxInFlight?: number
}

/** The coalescing step of the pipeline. */
export interface CoalesceStepShape {
  /** The coalescing key of a call to `primary` with `params`, or `undefined` when the call cannot be keyed. */
  readonly keyOf: (context: CallContext, primary: Target, params: LlmRequest["params"]) => string | undefined
  /** Runs `compute` once for every concurrent caller with the same `key` (see the module doc). */
  readonly around: {
    (key: string): <E>(compute: Effect.Effect<LlmResponse, E>) => Effect.Effect<LlmResponse, E>
    <E>(compute: Effect.Effect<LlmResponse, E>, key: string): Effect.Effect<LlmResponse, E>
  }
  /** Shared calls in flight. */
  readonly inFlight: () => number
  /** Callers that joined a call already in flight (since the layer was built). */
  readonly coalesced: () => number
}

/** Default bound of the in-flight table. */
export const DEFAULT_MAX_IN_FLIGHT = 10_000

/**
 * The coalescing key (the response cache's key fields and scope; `undefined` when the content is nested too deeply
 * or the params carry a legacy scope name).
 */
export const coalesceKeyOf = (
  { call }: CallContext,
  primary: Target,
  params: LlmRequest["params"]
): string | undefined => {
  if (hasLegacyScopeParam(params)) return undefined // could match a scoped key of an older version: runs on its own
  const keyParams: Record<string, unknown> | undefined = call.responseFormat === undefined
    ? params
    : { ...params, responseFormat: call.responseFormat }
  try {
    return `coalesce:${encodeURIComponent(primary.model)}:` +
      scopedHash(
        hashRequestFields(primary.provider, primary.model, call.messages, keyParams ?? {}, call.tools, call.toolChoice),
        call.options
      )
  } catch (error) {
    if (error instanceof CanonicalJsonTooDeep) return undefined // too deep to key: runs on its own
    throw error
  }
}

const make = (options: CoalesceStepOptions) =>
  Effect.gen(function*() {
    const max = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    if (!Number.isSafeInteger(max) || max < 1) {
      return yield* InvalidPipelineOptions.at("CoalesceStep", "maxInFlight", "expected a positive integer")
    }
    const flights = makeSingleFlight(yield* Effect.scope)
    let coalesced = 0
    const onJoin = () => {
      coalesced++
    }
    return CoalesceStep.of({
      keyOf: coalesceKeyOf,
      around: dual(2, <E>(compute: Effect.Effect<LlmResponse, E>, key: string) =>
        Effect.suspend(() =>
          flights.size() >= max ? compute : flights.join(key, () => compute, onJoin)
        )),
      inFlight: () => flights.size(),
      coalesced: () => coalesced
    })
  })

/** The pipeline's coalescing step (optional: provide it beside `Llm.layer`, or use `LlmPipeline.layerWithCoalescing`). */
export class CoalesceStep extends Context.Service<CoalesceStep, CoalesceStepShape>()("troupe/pipeline/CoalesceStep") {
  /** Shares identical in-flight calls; fails with `InvalidPipelineOptions` when `maxInFlight` is not a positive integer. */
  static readonly layer = (options: CoalesceStepOptions = {}): Layer.Layer<CoalesceStep, InvalidPipelineOptions> =>
    Layer.effect(CoalesceStep, make(options))
}

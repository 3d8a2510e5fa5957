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
 *   reads like a cache hit (`cached: true`, no attempts, cost 0). A failure is shared by every waiter, except the
 *   leader's own (below).
 * - **Each caller of a shared call is bounded by its own deadline: a waiter whose deadline passes fails with its own
 *   CallDeadlineExceeded and only leaves the shared call** (the `Llm` pipeline hands `around` the caller's bound;
 *   the leader's wait is bounded the same way, and the shared call's fiber goes on while anyone waits).
 * - **A leader's own deadline is not handed to waiters: a waiter with time left still gets the answer** (the leader
 *   leaves; the shared call goes on).
 * - **A leader's own refusal is not handed to waiters: a waiter with time left runs the call itself**: a failure of
 *   the leader's own options — `CallDeadlineExceeded`, `BudgetExceeded` (its `user` is not in the key),
 *   `RateLimitRefused`, `QueueFull`, `Shed`, an `InvalidLlmRequest` of its budget scopes — makes each waiter join
 *   again, the first one leading a fresh call (`internal/SharedCall.ts`, the rules the response cache's single-flight
 *   follows too).
 * - **The shared call is made with the leader's retries and fallbacks: its provider error is every waiter's** (and
 *   its hedge and queue priority are the leader's).
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
import { type CallerDeadline, isLeadersOwn } from "./internal/SharedCall.ts"
import type { CallDeadlineExceeded } from "./PipelineError.ts"
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
  /**
   * Runs `compute` once for every concurrent caller with the same `key`, each caller waiting `within` its own deadline
   * (failing with its own `CallDeadlineExceeded`); see the module doc.
   */
  readonly around: {
    (
      key: string,
      within?: CallerDeadline
    ): <E>(compute: Effect.Effect<LlmResponse, E>) => Effect.Effect<LlmResponse, E | CallDeadlineExceeded>
    <E>(
      compute: Effect.Effect<LlmResponse, E>,
      key: string,
      within?: CallerDeadline
    ): Effect.Effect<LlmResponse, E | CallDeadlineExceeded>
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
    const around = <E>(
      compute: Effect.Effect<LlmResponse, E>,
      key: string,
      within?: CallerDeadline
    ): Effect.Effect<LlmResponse, E | CallDeadlineExceeded> => {
      const shared: Effect.Effect<LlmResponse, E> = Effect.suspend(() => {
        if (flights.size() >= max) return compute
        let joined = false
        const joining = flights.join(key, () => compute, () => {
          joined = true
          onJoin()
        })
        // the leader's own failure is not a waiter's: it joins again (and may lead a fresh call)
        return Effect.catchCause(joining, (cause) => joined && isLeadersOwn(cause) ? shared : Effect.failCause(cause))
      })
      return within === undefined ? shared : within(shared)
    }
    return CoalesceStep.of({
      keyOf: coalesceKeyOf,
      around: dual((args) => Effect.isEffect(args[0]), around),
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

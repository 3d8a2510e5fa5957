/**
 * The values the pipeline's steps share for one call: a `Target` (one provider model the call may be sent to — the
 * requested one or a fallback), the per-call `CallContext` (the decoded call, its kind, and a small mutable
 * `CallState` the steps report into), and `CurrentTarget`, the service each `ExecutionPlan` step provides so the
 * same attempt effect runs against every model of a fallback chain.
 *
 * Plain data; steps that precompute per-model pieces (rate-limit keys, prices, telemetry trackers) cache them by
 * `Target.spec`.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { ModelParams } from "../config/index.ts"
import type { Tokenizer } from "../llm/index.ts"
import type { LlmCall } from "./LlmCall.ts"

/** One provider model a call can be sent to. */
export interface Target {
  /**
   * The provider that answers, as labelled in results, costs, telemetry and cache keys: the route's name, or
   * `scripted` when the registry answers the route with a scripted stand-in (no API key configured).
   */
  readonly provider: string
  /** The provider entry the call is routed to (a key of the `ProviderRegistry`; breaker and rate-limit keys). */
  readonly route: string
  /** The provider's own model name. */
  readonly model: string
  /** `provider:model` (of the answering provider: `scripted:<model>` for a stand-in). */
  readonly spec: string
  /** What this target was resolved from (an alias or a spec). */
  readonly requested: string
  /** Default parameters from the configuration for this kind of call (merged under the call's own). */
  readonly defaults: ModelParams
}

/** `generate` (one answer) or `stream`. */
export type CallKind = "text" | "stream"

/** What the steps report about one call (mutable, one per call). */
export class CallState {
  /** Provider attempts made (retries and fallbacks included). */
  attempts = 0
  /** Index in the chain of the target that answered (0: the requested model). */
  fallbackIndex = 0
  /** The target that answered, once one did. */
  answeredBy: Target | undefined = undefined
  /** Cost in USD of the answer, when the price of its model is known. */
  costUsd: number | undefined = undefined
  /** Input tokens the token counter estimated for the call (by the rate-limit step, else before the first attempt). */
  estimatedInputTokens: number | undefined = undefined
  /** Set when the provider was called for this call (false on a response-cache hit). */
  computed = false
  /** Set when a hedge was sent (`HedgeStep`): `won` when the hedge answered, `lost` when the primary did. */
  hedge: "won" | "lost" | undefined = undefined
  /** Cost in USD of a hedged call's losing leg (recorded by `HedgeStep`'s caller; 0 without one). */
  hedgeCostUsd = 0
  /** Set when the router policy (`RouterStep`) sent the call elsewhere: the model the call named. */
  routedFrom: string | undefined = undefined
  /** When the whole call must be over (Clock ms; see `CallLimits`): the retry step makes no retry ending later. */
  deadlineAt: number | undefined = undefined

  /**
   * The call's input-token estimate: counted by `counter` the first time a step asks (the rate limit, the budget
   * step or the attempt), then kept, so a call is counted once whichever steps run.
   */
  estimateInput(counter: Tokenizer.TokenCounterShape, call: LlmCall, model: string): number {
    if (this.estimatedInputTokens === undefined) this.estimatedInputTokens = counter.countRequest(call, model)
    return this.estimatedInputTokens
  }
}

/** One call as the steps see it. */
export interface CallContext {
  readonly call: LlmCall
  readonly kind: CallKind
  readonly state: CallState
}

/** The target of the current attempt (provided per `ExecutionPlan` step by the `FallbackStep`). */
export class CurrentTarget extends Context.Service<CurrentTarget, Target>()("troupe/pipeline/CurrentTarget") {}

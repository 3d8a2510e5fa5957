/**
 * What an `Llm` call returns: the provider's `LlmResponse` plus `meta` (which model answered, whether from the
 * response cache, attempts, fallback position, cost in USD); and, for streams, the same parts as `LlmStreamPart`
 * with the final `Finish` part carrying the same `meta`, so a stream still ends with one usage event.
 *
 * Plain types (the `meta` is computed, never decoded).
 *
 * @since 0.1.0
 */
import type { Finish, LlmResponse, LlmStreamPart } from "../llm/index.ts"

/** Usage and routing metadata of one call. */
export interface CallMeta {
  /** The alias or spec the call named. */
  readonly requested: string
  /** Set when the router policy (`RouterStep`) sent the call to a cheaper model: that model (alias or spec). */
  readonly routedTo?: string
  /** The provider and model that answered (for a cache hit: those of the cached answer's key). */
  readonly provider: string
  readonly model: string
  /** Set when a scripted stand-in answered (`provider` is then `scripted`): the provider entry it stood in for. */
  readonly standInFor?: string
  /** Served from the response cache (no provider call, no rate-limit cost). */
  readonly cached: boolean
  /** Provider attempts made (0 for a cache hit). */
  readonly attempts: number
  /** Position in the fallback chain of the model that answered (0: the requested one). */
  readonly fallbackIndex: number
  /** Cost in USD (0 for a cache hit; `undefined` when the model has no price). */
  readonly costUsd: number | undefined
  /** Set when a hedge was sent (`HedgeStep`): `won` when the hedge answered, `lost` when the primary did. */
  readonly hedge?: "won" | "lost"
  /** Cost in USD of the losing leg of a hedged call (beside `costUsd`, the winner's); set with `hedge`. */
  readonly hedgeCostUsd?: number
  /** The `TokenCounter`'s estimate of the input tokens, beside the actual `usage.inputTokens` (absent on a cache hit). */
  readonly estimatedInputTokens?: number
}

/** A finished answer with its metadata. */
export interface LlmResult extends LlmResponse {
  readonly meta: CallMeta
}

/** The last part of a pipeline stream: the provider's `Finish` plus `meta`. */
export interface PipelineFinish extends Finish {
  readonly meta: CallMeta
}

/** One part of a pipeline stream (every part is also an `LlmStreamPart`). */
export type LlmOutputPart = Exclude<LlmStreamPart, Finish> | PipelineFinish

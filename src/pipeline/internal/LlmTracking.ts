/**
 * Telemetry of provider calls: each provider attempt (every retry and fallback included) runs inside the
 * `TelemetryHub`'s `trackLlmCall` — `troupe.llm.call.start/stop/exception` events, the hub's LLM metrics (calls,
 * exceptions, duration, tokens, cost), a GenAI client span (`chat <model>` with `gen_ai.*` request and response
 * attributes) and `troupe.llm.token.usage` with the cost in USD. Without a hub in the context nothing is tracked.
 *
 * Trackers are precomputed per model (and per distinct sampling parameters / agent, bounded), so the hot path does
 * not rebuild event names or attribute maps; streams are tracked by a fiber in the stream's scope that waits for
 * the stream's end (a consumer that stops early shows up as an interrupted call). Reuses `src/telemetry`.
 *
 * Label cardinality is capped: the first `MAX_MODEL_LABELS` (128) distinct provider models get their own `model`
 * label (metric series, reporter window, event metadata); any later one is counted under the model `other` of its
 * provider, so a caller naming `provider:<anything>` cannot grow `/metrics` or the reporter without bound. The span
 * keeps the real model name (`gen_ai.request.model`): spans are exported, not kept.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, type Scope } from "effect"
import type { LlmResponse } from "../../llm/index.ts"
import type { TelemetryHubShape } from "../../telemetry/index.ts"
import type { CallContext, Target } from "../Target.ts"
import type { UsageStepShape } from "../UsageStep.ts"
import { isValidUsage } from "../UsageStep.ts"

type Tracker = <E, R>(self: Effect.Effect<LlmResponse, E, R>) => Effect.Effect<LlmResponse, E, R>

/** Wraps provider calls in the hub's LLM tracking (identity without a hub). */
export interface LlmTracking {
  readonly track: <E, R>(
    target: Target,
    context: CallContext,
    call: Effect.Effect<LlmResponse, E, R>
  ) => Effect.Effect<LlmResponse, E, R>
  /** Tracks a stream attempt ending when `done` completes (forked into the current scope). */
  readonly trackStream: <E>(
    target: Target,
    context: CallContext,
    done: Deferred.Deferred<LlmResponse, E>
  ) => Effect.Effect<void, never, Scope.Scope>
}

const MAX_TRACKERS = 256

/** Distinct provider models labelled by name in metrics; later ones share the `other` label. */
export const MAX_MODEL_LABELS = 128
/** The model label of the models past the cap. */
export const OTHER_MODEL_LABEL = "other"
const MAX_RECENT = 8

interface RecentTracker {
  readonly temperature: number | undefined
  readonly maxTokens: number | undefined
  readonly topP: number | undefined
  readonly agent: string | undefined
  readonly tracker: Tracker
}

/** The tracking of provider calls over `hub` (identity without one), with bounded per-label tracker tables. */
export const makeTracking = (hub: TelemetryHubShape | undefined, usage: UsageStepShape): LlmTracking => {
  if (hub === undefined) {
    return { track: (_target, _context, call) => call, trackStream: () => Effect.void }
  }
  const trackers = new Map<string, Tracker>()
  // a tracker is shared by calls with the same labels: each call's estimate travels with its response
  const estimates = new WeakMap<LlmResponse, number>()
  const withEstimate = <E, R>(
    context: CallContext,
    call: Effect.Effect<LlmResponse, E, R>
  ): Effect.Effect<LlmResponse, E, R> => {
    const estimate = context.state.estimatedInputTokens
    return estimate === undefined ? call : Effect.map(call, (response) => {
      estimates.set(response, estimate)
      return response
    })
  }
  const labelled = new Set<string>()
  const modelLabelOf = (target: Target): string => {
    if (labelled.has(target.spec)) return target.model
    if (labelled.size < MAX_MODEL_LABELS) {
      labelled.add(target.spec)
      return target.model
    }
    return OTHER_MODEL_LABEL
  }
  // The hot path: per target (targets are cached by the resolver), the last few distinct parameter tuples, compared
  // field by field, so no key string is built per call.
  const recent = new WeakMap<Target, Array<RecentTracker>>()
  const trackerOf = (target: Target, context: CallContext): Tracker => {
    const params = context.call.params
    const agent = context.call.options?.agent
    const temperature = params?.temperature ?? target.defaults.temperature
    const maxTokens = params?.maxTokens ?? target.defaults.maxTokens
    const topP = params?.topP ?? target.defaults.topP
    let list = recent.get(target)
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const r = list[i] as RecentTracker // i < length
        if (r.temperature === temperature && r.maxTokens === maxTokens && r.topP === topP && r.agent === agent) {
          return r.tracker
        }
      }
    }
    const model = modelLabelOf(target)
    const spec = model === target.model ? target.spec : `${target.provider}:${model}`
    const key = temperature === undefined && maxTokens === undefined && topP === undefined && agent === undefined
      ? spec
      : `${spec}|${temperature}|${maxTokens}|${topP}|${agent ?? ""}`
    let tracker = trackers.get(key)
    if (tracker === undefined) {
      tracker = hub.trackLlmCall<LlmResponse>({
        provider: target.provider,
        model,
        ...(temperature !== undefined ? { temperature } : {}),
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(topP !== undefined ? { topP } : {}),
        ...(agent !== undefined ? { agent } : {})
      }, {
        usage: (r) => {
          const cost = usage.costOf(target, r.usage)
          const valid = isValidUsage(r.usage) // a hostile usage is not counted (its tokens are unknown)
          const estimate = estimates.get(r)
          return {
            ...(estimate !== undefined ? { estimatedInputTokens: estimate } : {}),
            ...(valid ? { inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens } : {}),
            responseModel: r.model,
            finishReasons: [r.finishReason],
            ...(r.id !== undefined ? { responseId: r.id } : {}),
            ...(cost !== undefined ? { cost } : {})
          }
        }
      })
      if (trackers.size < MAX_TRACKERS) trackers.set(key, tracker)
    }
    if (list === undefined) {
      list = []
      recent.set(target, list)
    }
    if (list.length >= MAX_RECENT) list.shift()
    list.push({ temperature, maxTokens, topP, agent, tracker })
    return tracker
  }
  return {
    track: (target, context, call) => trackerOf(target, context)(withEstimate(context, call)),
    trackStream: (target, context, done) =>
      Effect.asVoid(
        Effect.forkScoped(trackerOf(target, context)(withEstimate(context, Deferred.await(done))), {
          startImmediately: true
        })
      )
  }
}

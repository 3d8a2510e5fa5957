/**
 * `SiblingStep`: the judge behind the `cheaper-model` recommendation. For a sample of answered calls it asks the
 * requested model's cheaper sibling the same question in the background, lets a judge compare the two answers and
 * reports the verdict to `Recommendations.judged`. Rules:
 *
 * - **Only configured siblings are asked**: `siblings: { capable: "fast" }` maps a requested model (as the call names
 *   it) to its cheaper sibling; only a `generate` answered by the provider (not from the cache, not rerouted by the
 *   `RouterStep`) for a model with a sibling is eligible. Streams are never shadowed.
 * - **Sampling is deterministic**: of the eligible calls, every ⌈1 / `sampleRate`⌉-th is sampled (`sampleRate` in
 *   [0, 1], default 0.01: every 100th; 0: none).
 * - **The caller never waits**: the shadow call is forked in the layer's scope (interrupted when the layer is
 *   released) and dropped when `maxInFlight` (default 2) shadow calls already run; its failure, or the judge's, is
 *   ignored and gives no verdict. The user's answer is returned as it was.
 * - **The shadow is its own call**: it sends the same messages, tools and params to the sibling with
 *   `options: { cache: "bypass", hedge: false, agent: "troupe.sibling" }` and the call's tenant only (no user, no
 *   budget scopes, no API key override), so with a `Costs` ledger its cost is recorded once, tagged
 *   `agent: "troupe.sibling"`, and it is not reported to `Recommendations.observe`. With a `BudgetStep`, only the
 *   tenant's budget (if it has one) is charged for it: the shadow is spend of that tenant's traffic.
 * - **The default judge is normalised text equality**: both answers' texts, trimmed, lower-cased and with runs of
 *   whitespace collapsed, are equal. `judge: ({ messages, answer, siblingAnswer, model, sibling }) => Effect<boolean>`
 *   replaces it (e.g. an LLM judge).
 * - A verdict needs both costs: a call to an unpriced model gives none.
 *
 * Optional in `Llm.layer`, like `RouterStep`: without a `SiblingStep` in the context no call is shadowed; without a
 * `Recommendations` service in the step's context nothing is sampled. Mirrors the shadow / mirror traffic of
 * LLM gateways (Portkey's canary tests, Martian's evaluations); hand-rolled over the pipeline's own `generate`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Schema, Scope } from "effect"
import { Recommendations } from "../costs/index.ts"
import type { LlmMessage } from "../llm/index.ts"
import { SIBLING_AGENT } from "./internal/Observe.ts"
import type { LlmCall, LlmCallInput } from "./LlmCall.ts"
import type { LlmResult } from "./LlmResult.ts"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"

/** What a judge compares. */
export interface JudgeInput {
  readonly messages: ReadonlyArray<LlmMessage>
  readonly answer: LlmResult
  readonly siblingAnswer: LlmResult
  /** The requested model (as the call named it). */
  readonly model: string
  readonly sibling: string
}

/** Options of `SiblingStep.layer`. */
export interface SiblingStepOptions {
  /** Requested model → its cheaper sibling (at most 1,000 entries). */
  readonly siblings: Readonly<Record<string, string>>
  /** The fraction of eligible calls shadowed, in [0, 1] (default 0.01). */
  readonly sampleRate?: number
  /** The most shadow calls running at once (default 2, at most 100); past it a sample is dropped. */
  readonly maxInFlight?: number
  /** Replaces the default judge (normalised text equality). */
  readonly judge?: (input: JudgeInput) => Effect.Effect<boolean>
}

/** The pipeline's `generate`, bound by `Llm.layer`. */
export type SiblingGenerate = (call: LlmCallInput | LlmCall) => Effect.Effect<LlmResult, unknown>

/** The sibling step of the pipeline. */
export interface SiblingStepShape {
  /** Called once by `Llm.layer` with the pipeline's `generate` (the one shadow calls go through). */
  readonly bind: (generate: SiblingGenerate) => void
  /** After an answered `generate`: maybe forks a shadow call (see the module doc). Never fails, never waits on it. */
  readonly consider: (call: LlmCall, result: LlmResult) => Effect.Effect<void>
}

/** The most siblings a step holds. */
export const MAX_SIBLINGS = 1_000

const NonEmpty = Schema.String.check(Schema.isMinLength(1))
const OptionsSchema = Schema.Struct({
  siblings: Schema.Record(NonEmpty, NonEmpty),
  sampleRate: Schema.optionalKey(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  maxInFlight: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })))
})

const normalised = (text: string): string => text.trim().toLowerCase().replace(/\s+/g, " ")

/** The default judge: the two answers' texts are equal once trimmed, lower-cased and whitespace-collapsed. */
export const sameText = (input: JudgeInput): Effect.Effect<boolean> =>
  Effect.succeed(normalised(input.answer.text) === normalised(input.siblingAnswer.text))

/** The shadow call of `call` to `sibling`: same request, the cache bypassed, no hedge, tagged `troupe.sibling`. */
const shadowOf = (call: LlmCall, sibling: string): LlmCall => {
  const tenant = call.options?.tenant
  return {
    ...call,
    model: sibling,
    options: { cache: "bypass", hedge: false, agent: SIBLING_AGENT, ...(tenant !== undefined ? { tenant } : {}) }
  }
}

const make = (input: SiblingStepOptions) =>
  Effect.gen(function*() {
    const { judge: custom, ...data } = input
    const options = yield* Schema.decodeUnknownEffect(OptionsSchema)(data, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("SiblingStep", e.issue))
    )
    if (custom !== undefined && typeof custom !== "function") {
      return yield* InvalidPipelineOptions.at("SiblingStep", "judge", "expected a function")
    }
    const entries = Object.entries(options.siblings)
    if (entries.length > MAX_SIBLINGS) {
      return yield* InvalidPipelineOptions.at("SiblingStep", "siblings", `expected at most ${MAX_SIBLINGS} siblings`)
    }
    const siblings = new Map(entries.filter(([from, to]) => from !== to))
    const rate = options.sampleRate ?? 0.01
    const every = rate === 0 ? Number.POSITIVE_INFINITY : Math.ceil(1 / rate)
    const maxInFlight = options.maxInFlight ?? 2
    const judge = custom ?? sameText
    const scope = yield* Scope.Scope
    const recommendations = Option.getOrUndefined(yield* Effect.serviceOption(Recommendations))
    let generate: SiblingGenerate | undefined
    let eligible = 0
    let inFlight = 0

    const shadow = (call: LlmCall, result: LlmResult, model: string, sibling: string, run: SiblingGenerate) =>
      Effect.gen(function*() {
        const siblingAnswer = yield* run(shadowOf(call, sibling))
        const agree = yield* judge({ messages: call.messages, answer: result, siblingAnswer, model, sibling })
        const modelCost = result.meta.costUsd
        const siblingCost = siblingAnswer.meta.costUsd
        if (modelCost === undefined || siblingCost === undefined || recommendations === undefined) return
        recommendations.judged({
          model: `${result.meta.provider}:${result.meta.model}`,
          sibling: `${siblingAnswer.meta.provider}:${siblingAnswer.meta.model}`,
          agree: agree === true,
          modelCost,
          siblingCost
        })
      }).pipe(
        // a failed shadow call or judge gives no verdict; it never reaches the caller
        Effect.catchCause(() => Effect.void),
        Effect.ensuring(Effect.sync(() => {
          inFlight--
        }))
      )

    return SiblingStep.of({
      bind: (g) => {
        generate = g
      },
      consider: (call, result) =>
        Effect.suspend(() => {
          const meta = result.meta
          const sibling = siblings.get(meta.requested)
          const run = generate
          if (
            recommendations === undefined || run === undefined || sibling === undefined || meta.cached ||
            meta.routedTo !== undefined || call.options?.agent === SIBLING_AGENT
          ) return Effect.void
          if (++eligible % every !== 0 || inFlight >= maxInFlight) return Effect.void
          inFlight++
          return Effect.asVoid(Effect.forkIn(shadow(call, result, meta.requested, sibling, run), scope))
        })
    })
  })

/** The pipeline's sibling judge (optional: provide it beside `Llm.layer`, with `Recommendations` in its context). */
export class SiblingStep extends Context.Service<SiblingStep, SiblingStepShape>()("troupe/pipeline/SiblingStep") {
  /**
   * Shadows a sample of calls on their models' cheaper siblings (see the module doc). Fails with
   * `InvalidPipelineOptions` when `siblings` is not a record of non-empty strings or holds more than 1,000 entries,
   * `sampleRate` is not a number in [0, 1], `maxInFlight` is not an integer from 1 to 100, or `judge` is not a
   * function.
   */
  static readonly layer = (options: SiblingStepOptions): Layer.Layer<SiblingStep, InvalidPipelineOptions> =>
    Layer.effect(SiblingStep, make(options))
}

/**
 * `RouterStep`: the router policy of the `Llm` pipeline — model choice by query complexity. A call whose requested
 * model has a cheaper route and whose request the classifier finds simple is sent to the cheaper model instead.
 * Rules:
 *
 * - **Only configured routes reroute**: `routes: { capable: "fast" }` maps a requested model (an alias or a spec, as
 *   the call names it) to the cheaper one; a model without a route is never rerouted, and a route is taken once (the
 *   cheaper model's own route is not followed).
 * - **Simple is what the classifier says**: the default (`classifyComplexity`) finds a request simple when it has
 *   no tools, no JSON response format, system instructions of at most `maxInstructionChars` characters (default 500),
 *   and at most `maxSimpleChars` characters of messages in all (default 2,000, about 500 tokens); anything else is
 *   complex. Pluggable: `classify: (call) => "simple" | "complex"` replaces it (a classifier that throws counts as
 *   complex: the call goes to the requested model).
 * - **A routed call is the cheaper model's call**: its cache key, rate limits, budget reservation, fallback chain
 *   and cost are the cheaper model's; `meta.requested` stays the model the call named and `meta.routedTo` names the
 *   model it was sent to.
 * - **The router reports its savings**: with a `Costs` ledger in the context, a routed call's record carries
 *   `routed: true` and `saved`, what the requested model would have cost for the same token usage minus what the
 *   cheaper one did (floored at 0; absent when either model has no price); `Costs.savings` sums them per period
 *   beside the savings of cache hits (whose `saved` is what their answer would have cost).
 *
 * Optional in `Llm.layer`, like `HedgeStep`: without a `RouterStep` in the context no call is rerouted. Mirrors
 * RouteLLM / Martian-style cost routing and LiteLLM's complexity router; hand-rolled because effect's
 * `ExecutionPlan` chooses among fallbacks on failure, not by the request's content.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { LlmCall } from "./LlmCall.ts"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"

/** What a classifier decides for one request. */
export type Complexity = "simple" | "complex"

/** Thresholds of the default classifier. */
export interface ComplexityThresholds {
  /** The most characters of all messages together for a simple request (default 2,000). */
  readonly maxSimpleChars?: number
  /** The most characters of system instructions for a simple request (default 500). */
  readonly maxInstructionChars?: number
}

/** Options of `RouterStep.layer`. */
export interface RouterStepOptions extends ComplexityThresholds {
  /** Requested model → the cheaper model a simple request goes to (at most 1,000 routes). */
  readonly routes: Readonly<Record<string, string>>
  /** Replaces the default classifier (see the module doc). */
  readonly classify?: (call: LlmCall) => Complexity
}

/** Default of `maxSimpleChars`. */
export const DEFAULT_MAX_SIMPLE_CHARS = 2_000
/** Default of `maxInstructionChars`. */
export const DEFAULT_MAX_INSTRUCTION_CHARS = 500

/**
 * The default classifier: `simple` when the request has no tools, no JSON response format, at most `maxInstructionChars`
 * characters of system instructions and at most `maxSimpleChars` characters of messages in all; else `complex`.
 */
export const classifyComplexity = (call: LlmCall, thresholds: ComplexityThresholds = {}): Complexity => {
  if ((call.tools?.length ?? 0) > 0 || (call.responseFormat?.type ?? "text") !== "text") return "complex"
  const maxChars = thresholds.maxSimpleChars ?? DEFAULT_MAX_SIMPLE_CHARS
  const maxInstructions = thresholds.maxInstructionChars ?? DEFAULT_MAX_INSTRUCTION_CHARS
  let chars = 0
  let instructions = 0
  for (const message of call.messages) {
    chars += message.content.length
    if (message.role === "system") instructions += message.content.length
    if (chars > maxChars || instructions > maxInstructions) return "complex"
  }
  return "simple"
}

/** The router step of the pipeline. */
export interface RouterStepShape {
  /** The model `call` is sent to instead of its own, or `undefined` when it keeps its model (see the module doc). */
  readonly route: (call: LlmCall) => string | undefined
}

const NonEmpty = Schema.String.check(Schema.isMinLength(1))
const Threshold = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000_000 }))
const OptionsSchema = Schema.Struct({
  routes: Schema.Record(NonEmpty, NonEmpty),
  maxSimpleChars: Schema.optionalKey(Threshold),
  maxInstructionChars: Schema.optionalKey(Threshold)
})

/** The most routes a router holds (a bound on its table). */
export const MAX_ROUTES = 1_000

const make = (input: RouterStepOptions) =>
  Effect.gen(function*() {
    const { classify, ...data } = input
    const options = yield* Schema.decodeUnknownEffect(OptionsSchema)(data, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("RouterStep", e.issue))
    )
    if (classify !== undefined && typeof classify !== "function") {
      return yield* InvalidPipelineOptions.at("RouterStep", "classify", "expected a function")
    }
    const entries = Object.entries(options.routes)
    if (entries.length > MAX_ROUTES) {
      return yield* InvalidPipelineOptions.at("RouterStep", "routes", `expected at most ${MAX_ROUTES} routes`)
    }
    const routes = new Map(entries.filter(([from, to]) => from !== to))
    const thresholds: ComplexityThresholds = options
    const complexity = (call: LlmCall): Complexity => {
      if (classify === undefined) return classifyComplexity(call, thresholds)
      try {
        return classify(call) === "simple" ? "simple" : "complex"
      } catch {
        return "complex" // a failing classifier keeps the requested model
      }
    }
    return RouterStep.of({
      route: (call) => {
        const to = routes.get(call.model)
        return to === undefined || complexity(call) !== "simple" ? undefined : to
      }
    })
  })

/** The pipeline's router policy (optional: provide it beside `Llm.layer`, or use `LlmPipeline.layerWith`). */
export class RouterStep extends Context.Service<RouterStep, RouterStepShape>()("troupe/pipeline/RouterStep") {
  /**
   * Routes simple requests to cheaper models (see the module doc). Fails with `InvalidPipelineOptions` when
   * `routes` is not a record of non-empty strings or holds more than 1,000 routes, a threshold is not an integer
   * from 0 to 10,000,000, or `classify` is not a function.
   */
  static readonly layer = (options: RouterStepOptions): Layer.Layer<RouterStep, InvalidPipelineOptions> =>
    Layer.effect(RouterStep, make(options))
}

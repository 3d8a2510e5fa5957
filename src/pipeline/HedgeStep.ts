/**
 * `HedgeStep`: hedged requests for calls marked critical, in the `Llm` pipeline. Rules:
 *
 * - **A call is critical** when its `options.hedge` is `true` or `{ delay }`, or, when the call says nothing, when
 *   the layer's `models` names the alias or spec the call asks for (`models: { fast: true }`). `options.hedge:
 *   false` turns hedging off for one call whatever the model's default. Only `generate` is hedged; streams and
 *   embeddings never are.
 * - **The hedge goes to the next target of the fallback chain** (`FallbackStep`'s chain: the call's `fallbacks` or
 *   the configured one). A call whose chain has one target is never hedged.
 * - **The delay** is fixed (ms or a duration string: `delay: "300 millis"`) or a percentile of the primary target's
 *   observed latency (`delay: "p95"`, the default; `"p1"` … `"p99"`). A percentile delay uses the last `samples`
 *   (default 1,000) latencies of that target: the time each of its attempts took to succeed (rate-limit wait and
 *   retries included), measured over every call that passes through the step, hedged or not; an interrupted
 *   primary (its hedge won) contributes the time it had run, a lower bound, so the slow tail does not vanish from
 *   the window. Until the window holds `minSamples` (default 20) latencies, the fixed `initialDelay` (default
 *   1 second) is used. The call's own `{ delay }` wins over the layer's.
 * - **The fallback step handles failures; hedging handles slowness.** A primary that fails (after its retries)
 *   before the delay does not start a hedge: its error goes to the fallback chain as without hedging. When the
 *   delay passes with the primary still in flight (waiting for its answer, or for a retry), the hedge is sent (if the budget allows) and **the first success wins**: the loser's
 *   fiber is interrupted, which aborts its HTTP request. If one leg fails, the other's outcome decides; if both
 *   fail, the call fails over with the primary's error, and the hedge's failure stands for the chain's attempt on
 *   the hedge target (that target is not asked twice).
 * - **The loser's cost is recorded** on the same path as every call's (the `Costs` ledger, tagged `hedge: true`,
 *   and the call's budgets): the cost of its tokens if it had answered, else the estimated cost of its input
 *   tokens (the call's token estimate at the loser's input price, plus any per-request fee). The winner's `meta`
 *   says `hedge: "won"` (the hedge answered) or `"lost"` (the primary did), and `hedgeCostUsd`.
 * - **The hedging budget**: over a sliding window (`budget.window`, default 10 seconds, kept as 10 buckets), hedges
 *   are at most `budget.percent` % (default 10) of the calls that passed through the step, plus `budget.reserve`
 *   (default 0). When the budget is spent, no hedge is sent: the call waits for its primary. As the window slides
 *   past, old hedges drop out and the budget comes back.
 * - **Metrics**: `troupe_hedge_sent_total`, `troupe_hedge_won_total` and `troupe_hedge_budget_exhausted_total`
 *   (attribute `model`: the primary target's `provider:model`).
 * - **Bounded**: at most `maxTargets` (default 1,000) targets keep a latency window; a target past the bound uses
 *   `initialDelay`.
 *
 * Optional in `Llm.layer`, like `CoalesceStep`: without a `HedgeStep` in the context no call is hedged. Mirrors
 * "The Tail at Scale" (Dean & Barroso: hedged requests after the 95th-percentile latency) and Envoy's / gRPC's
 * hedging policies, with a Finagle-style `RetryBudget`. Reuses effect's fibers (`forkScoped`, `Fiber.interrupt`),
 * `Clock` (`TestClock` drives every delay and window) and `Metric`; the latency window and the budget are
 * hand-rolled (`internal/LatencyWindow.ts`, `internal/HedgeBudget.ts`).
 *
 * @since 0.1.0
 */
import type { Array as Arr } from "effect"
import { Clock, Context, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Schema } from "effect"
import type { LlmResponse } from "../llm/index.ts"
import { HedgeBudget } from "./internal/HedgeBudget.ts"
import { LatencyWindow } from "./internal/LatencyWindow.ts"
import type { CallHedge, HedgeDelay as HedgeDelayType, LlmCall } from "./LlmCall.ts"
import { CallHedge as CallHedgeSchema, HedgeDelay } from "./LlmCall.ts"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"

const Millis = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(Schema.makeFilter((s: string) => {
    // a string is a Duration input candidate; fromInput checks it and answers None when it is not
    const d = Duration.fromInput(s as Duration.Input)
    return (d._tag === "Some" && Duration.isFinite(d.value) && Duration.toMillis(d.value) >= 0) ||
      `Expected a duration such as "1 second", got "${s.slice(0, 40)}"`
  }))
])
const Count = (minimum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum: 100_000 }))

/** The hedging budget's options. */
export const HedgeBudgetOptions = Schema.Struct({
  /** Hedges allowed, in % of the calls in the window (0–100). Default 10. */
  percent: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 }))),
  /** The sliding window (ms or a duration string, > 0). Default 10 seconds. */
  window: Schema.optionalKey(Millis),
  /** Hedges always allowed per window on top of the percentage. Default 0. */
  reserve: Schema.optionalKey(Count(0))
})

/** Options of `HedgeStep.layer` (decoded with Schema). */
export const HedgeStepOptions = Schema.Struct({
  /** When the hedge is sent: a fixed delay or a percentile (`"p95"`) of the primary's latency. Default `"p95"`. */
  delay: Schema.optionalKey(HedgeDelay),
  /** The delay of a percentile rule until `minSamples` latencies are known. Default 1 second. */
  initialDelay: Schema.optionalKey(Millis),
  /** Latencies needed before a percentile delay is used. Default 20. */
  minSamples: Schema.optionalKey(Count(1)),
  /** Latencies kept per target (the window). Default 1,000. */
  samples: Schema.optionalKey(Count(1)),
  /** Targets that keep a latency window. Default 1,000. */
  maxTargets: Schema.optionalKey(Count(1)),
  budget: Schema.optionalKey(HedgeBudgetOptions),
  /** Critical models by the alias or spec a call names: `true` or `{ delay }` (a call's `options.hedge` wins). */
  models: Schema.optionalKey(
    Schema.Record(Schema.String.check(Schema.isMinLength(1)), CallHedgeSchema).check(Schema.isMaxProperties(10_000))
  )
})
/** The input form of the options. */
export type HedgeStepOptions = typeof HedgeStepOptions.Encoded

/** The losing leg of a hedged call: its target, and its answer if it had one when it lost. */
export interface HedgeLoser {
  readonly target: Target
  /** Set when the loser had answered too (it finished in the same instant); else it was interrupted. */
  readonly response: LlmResponse | undefined
}

/** What the step counted since its layer was built. */
export interface HedgeStats {
  /** Calls that passed through the step (the budget's denominator). */
  readonly calls: number
  readonly sent: number
  readonly won: number
  readonly budgetExhausted: number
}

/** The hedging step of the pipeline. */
export interface HedgeStepShape {
  /**
   * Wraps the attempt `FallbackStep.run` makes per target of one call (see the module doc): the first target's
   * attempt is hedged when the call is critical, every attempt's latency is observed. `onLoser` records the cost
   * of a hedged call's losing leg. Call it once per run of the call.
   */
  readonly attempts: <E, R>(
    context: CallContext,
    targets: Arr.NonEmptyReadonlyArray<Target>,
    attempt: (target: Target) => Effect.Effect<LlmResponse, E, R>,
    onLoser: (loser: HedgeLoser) => Effect.Effect<void>
  ) => (target: Target) => Effect.Effect<LlmResponse, E, R>
  /** The delay in ms after which `call` to `primary` would be hedged now, or `undefined` when it is not critical. */
  readonly delayOf: (call: LlmCall, primary: Target) => number | undefined
  /** Counters since the layer was built. */
  readonly stats: () => HedgeStats
}

type Rule = { readonly millis: number } | { readonly percentile: number }

const ruleOf = (delay: HedgeDelayType): Rule => {
  if (typeof delay === "number") return { millis: delay }
  if (delay.startsWith("p")) return { percentile: Number(delay.slice(1)) }
  return { millis: Duration.toMillis(Duration.fromInputUnsafe(delay as Duration.Input)) } // validated by HedgeDelay
}
const millisOf = (input: number | string | undefined, fallback: number): number =>
  // decoded by the Schema above: a string here is a valid duration
  input === undefined
    ? fallback
    : typeof input === "number"
    ? input
    : Duration.toMillis(Duration.fromInputUnsafe(input as Duration.Input))

const sentTotal = Metric.counter("troupe_hedge_sent_total", {
  description: "Hedged requests sent (attribute: model)",
  incremental: true
})
const wonTotal = Metric.counter("troupe_hedge_won_total", {
  description: "Hedged calls the hedge answered (attribute: model)",
  incremental: true
})
const exhaustedTotal = Metric.counter("troupe_hedge_budget_exhausted_total", {
  description: "Hedges not sent because the hedging budget was spent (attribute: model)",
  incremental: true
})

interface PerTarget {
  readonly window: LatencyWindow
  readonly sent: Metric.Metric<number, unknown>
  readonly won: Metric.Metric<number, unknown>
  readonly exhausted: Metric.Metric<number, unknown>
}

const make = (input: HedgeStepOptions) =>
  Effect.gen(function*() {
    const options = yield* Schema.decodeUnknownEffect(HedgeStepOptions)(input, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("HedgeStep", e.issue))
    )
    const samples = options.samples ?? 1000
    const minSamples = options.minSamples ?? 20
    if (minSamples > samples) {
      return yield* InvalidPipelineOptions.at("HedgeStep", "minSamples", `expected at most samples (${samples})`)
    }
    const windowMillis = millisOf(options.budget?.window, 10_000)
    if (windowMillis <= 0) {
      return yield* InvalidPipelineOptions.at("HedgeStep", "budget.window", "expected a positive duration")
    }
    const defaultRule = ruleOf(options.delay ?? "p95")
    const initialDelay = millisOf(options.initialDelay, 1000)
    const maxTargets = options.maxTargets ?? 1000
    const budget = new HedgeBudget(options.budget?.percent ?? 10, windowMillis, options.budget?.reserve ?? 0)
    const ruleFrom = (hedge: CallHedge): Rule | undefined =>
      hedge === false ? undefined : hedge === true || hedge.delay === undefined ? defaultRule : ruleOf(hedge.delay)
    const models = new Map<string, Rule | undefined>()
    for (const [model, hedge] of Object.entries(options.models ?? {})) {
      models.set(model, ruleFrom(hedge))
    }

    const targets = new Map<string, PerTarget>()
    const overflow: PerTarget = {
      window: new LatencyWindow(1), // never read: `delayOf` ignores targets past the bound
      sent: Metric.withAttributes(sentTotal, { model: "other" }),
      won: Metric.withAttributes(wonTotal, { model: "other" }),
      exhausted: Metric.withAttributes(exhaustedTotal, { model: "other" })
    }
    const perTarget = (spec: string): PerTarget => {
      const known = targets.get(spec)
      if (known !== undefined) {
        return known
      }
      if (targets.size >= maxTargets) return overflow
      const created: PerTarget = {
        window: new LatencyWindow(samples),
        sent: Metric.withAttributes(sentTotal, { model: spec }),
        won: Metric.withAttributes(wonTotal, { model: spec }),
        exhausted: Metric.withAttributes(exhaustedTotal, { model: spec })
      }
      targets.set(spec, created)
      return created
    }
    const observe = (target: Target, millis: number): void => {
      const entry = perTarget(target.spec)
      if (entry !== overflow) entry.window.add(millis)
    }
    const stats = { calls: 0, sent: 0, won: 0, budgetExhausted: 0 }

    const ruleFor = (call: LlmCall): Rule | undefined => {
      const hedge = call.options?.hedge
      if (hedge !== undefined) return ruleFrom(hedge)
      return models.get(call.model)
    }
    const delayFor = (rule: Rule, primary: Target): number => {
      if ("millis" in rule) return rule.millis
      const window = targets.get(primary.spec)?.window
      if (window === undefined || window.count < minSamples) return initialDelay
      return window.percentile(rule.percentile) ?? initialDelay
    }

    /** `self`, its latency observed for `target` when it succeeds. */
    const timed = <E, R>(target: Target, self: Effect.Effect<LlmResponse, E, R>): Effect.Effect<LlmResponse, E, R> =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (start) => Effect.tap(self, () => Effect.map(Clock.currentTimeMillis, (end) => observe(target, end - start)))
      )

    const attempts: HedgeStepShape["attempts"] = <E, R>(
      context: CallContext,
      chain: Arr.NonEmptyReadonlyArray<Target>,
      attempt: (target: Target) => Effect.Effect<LlmResponse, E, R>,
      onLoser: (loser: HedgeLoser) => Effect.Effect<void>
    ) => {
      const primary = chain[0]
      const second = chain[1]
      const rule = second === undefined ? undefined : ruleFor(context.call)
      // the hedge's failure, when both legs failed: it stands for the chain's attempt on the hedge target
      let hedgeFailure: Exit.Exit<LlmResponse, E> | undefined = undefined
      let step = 0

      const hedged = (hedgeTarget: Target, delay: number) =>
        Effect.scoped(Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          const first = yield* Effect.forkScoped(attempt(primary), { startImmediately: true })
          const early = yield* Effect.timeoutOption(Fiber.await(first), Duration.millis(delay))
          if (Option.isSome(early)) {
            // answered or failed before the delay: no hedge (a failure goes to the fallback chain as it is)
            if (Exit.isSuccess(early.value)) observe(primary, (yield* Clock.currentTimeMillis) - start)
            return yield* early.value
          }
          const entry = perTarget(primary.spec)
          if (!budget.tryHedge(yield* Clock.currentTimeMillis)) {
            stats.budgetExhausted++
            yield* Metric.update(entry.exhausted, 1)
            return yield* timedJoin(first, start)
          }
          stats.sent++
          yield* Metric.update(entry.sent, 1)
          const hedge = yield* Effect.forkScoped(attempt(hedgeTarget), { startImmediately: true })
          const hedgeStart = yield* Clock.currentTimeMillis
          const [firstDone, exit] = yield* Effect.raceFirst(
            Effect.map(Fiber.await(first), (exit) => [true, exit] as const),
            Effect.map(Fiber.await(hedge), (exit) => [false, exit] as const)
          )
          const now = yield* Clock.currentTimeMillis
          if (Exit.isSuccess(exit)) observe(firstDone ? primary : hedgeTarget, now - (firstDone ? start : hedgeStart))
          if (Exit.isFailure(exit)) {
            // one leg failed: the other decides
            const other = yield* Fiber.await(firstDone ? hedge : first)
            if (Exit.isSuccess(other)) {
              observe(
                firstDone ? hedgeTarget : primary,
                (yield* Clock.currentTimeMillis) - (firstDone ? hedgeStart : start)
              )
              return yield* settle(!firstDone, hedgeTarget, other, entry)
            }
            hedgeFailure = firstDone ? other : exit
            return yield* (firstDone ? exit : other)
          }
          // the first success wins; the loser is interrupted (its HTTP request aborted) and its cost recorded
          const loser = firstDone ? hedge : first
          yield* Fiber.interrupt(loser)
          const lost = yield* Fiber.await(loser)
          if (!firstDone) observe(primary, now - start) // the interrupted primary ran at least this long
          yield* onLoser({
            target: firstDone ? hedgeTarget : primary,
            response: Exit.isSuccess(lost) ? lost.value : undefined
          })
          return yield* settle(firstDone, hedgeTarget, exit, entry)
        }))

      /** Marks which leg answered (the primary when `primaryWon`). */
      const settle = (primaryWon: boolean, hedgeTarget: Target, exit: Exit.Exit<LlmResponse, E>, entry: PerTarget) =>
        Effect.suspend(() => {
          context.state.answeredBy = primaryWon ? primary : hedgeTarget
          context.state.hedge = primaryWon ? "lost" : "won"
          if (primaryWon) return exit
          stats.won++
          return Effect.andThen(Metric.update(entry.won, 1), exit)
        })

      const timedJoin = (fiber: Fiber.Fiber<LlmResponse, E>, start: number) =>
        Effect.flatMap(Fiber.await(fiber), (exit) =>
          Exit.isSuccess(exit) ?
            Effect.flatMap(Clock.currentTimeMillis, (end) => {
              observe(primary, end - start)
              return exit
            }) :
            exit)

      return (target: Target): Effect.Effect<LlmResponse, E, R> => {
        const index = step++
        if (index === 0) {
          return Effect.suspend(() => {
            stats.calls++
            return Effect.flatMap(Clock.currentTimeMillis, (now) => {
              budget.request(now)
              return rule === undefined || second === undefined
                ? timed(target, attempt(target))
                : hedged(second, delayFor(rule, primary))
            })
          })
        }
        if (index === 1 && hedgeFailure !== undefined) return hedgeFailure
        return timed(target, attempt(target))
      }
    }

    return HedgeStep.of({
      attempts,
      delayOf: (call, primary) => {
        const rule = ruleFor(call)
        return rule === undefined ? undefined : delayFor(rule, primary)
      },
      stats: () => ({ ...stats })
    })
  })

/** The pipeline's hedging step (optional: provide it beside `Llm.layer`, or use `LlmPipeline.layerWithHedging`). */
export class HedgeStep extends Context.Service<HedgeStep, HedgeStepShape>()("troupe/pipeline/HedgeStep") {
  /** Hedges critical calls; fails with `InvalidPipelineOptions` (naming the path) on bad options. */
  static readonly layer = (options: HedgeStepOptions = {}): Layer.Layer<HedgeStep, InvalidPipelineOptions> =>
    Layer.effect(HedgeStep, make(options))
}

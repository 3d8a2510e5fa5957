/**
 * `BudgetStep`: budgets that cannot be overspent, in the `Llm` pipeline (see `src/budget`). Rules:
 *
 * - **The scopes of a call** are its `options.budgets` (`key:…`, `principal:…`, `tenant:…`, `project:…`), plus
 *   `tenant:<options.tenant>` and `principal:<options.user>` when those are set. A tenant or user that is not a
 *   valid scope id fails the call with `InvalidLlmRequest` (it is never silently left uncharged).
 * - **Reserve the estimated maximum before the call**: the prompt's tokens as the `TokenCounter` counts them (the
 *   same estimate the token rate limit uses, counted once) at the input price, plus `maxTokens` (the call's, else
 *   the model's default, else `defaultMaxOutputTokens`, 4,096) at the output price — the highest over the models of
 *   the fallback chain. A scope that cannot hold it fails the call with `BudgetExceeded` before any provider is
 *   asked (and before a rate-limit token is spent).
 * - **Settle at the actual cost** of the answer (the model that answered, its reported usage); a failed or
 *   interrupted call releases its hold. Streams settle on their `Finish` part and release when they end without one
 *   (failed, dropped or interrupted). A reservation and the release that ends it are installed in one uninterruptible
 *   step, so a call interrupted while its reservation is on its way to the store still releases it once the store
 *   answers; a stream's settle runs uninterruptibly (an interrupted consumer waits for the store's answer), and a
 *   stream whose settle fails releases its hold.
 * - **Cache hits cost nothing**: the reservation wraps the provider side only, inside the response cache.
 *
 * Optional in `Llm.layer`: without a `BudgetStep` in the context the pipeline is unchanged.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { dual } from "effect/Function"
import { Budgets, type Reservation, SCOPE_ID_PATTERN } from "../budget/index.ts"
import type { BudgetExceeded, BudgetStoreError } from "../budget/index.ts"
import type { LlmResponse } from "../llm/index.ts"
import { InvalidLlmRequest, makeUsage, Tokenizer } from "../llm/index.ts"
import type { CallContext, Target } from "./Target.ts"
import { UsageStep } from "./UsageStep.ts"

/** Options of `BudgetStep.layer`. */
export interface BudgetStepOptions {
  /** output tokens assumed when neither the call nor the model sets `maxTokens` (default 4,096) */
  readonly defaultMaxOutputTokens?: number
}

/** Errors the budget step adds to a call. */
export type BudgetStepError = BudgetExceeded | BudgetStoreError | InvalidLlmRequest

/** A stream's reservation, bound to the stream's scope (see `BudgetStepShape.reserveStream`). */
export interface StreamHold {
  /**
   * Settles at the cost of the stream's final response, once; uninterruptible (an interrupted consumer waits for the
   * store's answer), and a settle that fails releases the hold instead. Later calls do nothing.
   */
  readonly settle: (response: LlmResponse) => Effect.Effect<void>
}

/** The budget step of the pipeline. */
export interface BudgetStepShape {
  /**
   * Runs the provider side of a call under a reservation (settled at its actual cost, released on failure). Fails with
   * `InvalidLlmRequest` when `options.tenant` or `options.user` is not a budget scope id (1–128 characters of
   * `[A-Za-z0-9_.:@-]`); with `BudgetExceeded` when a scope of the call cannot hold the estimated maximum cost (nothing
   * is reserved then); with `BudgetStoreError` when the `Budgets` store fails (Redis or PostgreSQL unreachable, or the
   * in-memory table full), all before `compute` runs; `compute`'s own failures pass through.
   */
  readonly around: {
    (context: CallContext, targets: ReadonlyArray<Target>): <E>(
      compute: Effect.Effect<LlmResponse, E>
    ) => Effect.Effect<LlmResponse, E | BudgetStepError>
    <E>(
      compute: Effect.Effect<LlmResponse, E>,
      context: CallContext,
      targets: ReadonlyArray<Target>
    ): Effect.Effect<LlmResponse, E | BudgetStepError>
  }
  /**
   * Reserves for a stream; `undefined` when the call has no scopes. Fails with `InvalidLlmRequest` when
   * `options.tenant` or `options.user` is not a budget scope id (1–128 characters of `[A-Za-z0-9_.:@-]`); with
   * `BudgetExceeded` when a scope of the call cannot hold the estimated maximum cost (nothing is reserved then); with
   * `BudgetStoreError` when the `Budgets` store fails (Redis or PostgreSQL unreachable, or the in-memory table full).
   */
  readonly reserve: (
    context: CallContext,
    targets: ReadonlyArray<Target>
  ) => Effect.Effect<Reservation | undefined, BudgetStepError>
  /**
   * Reserves for a stream in the stream's scope; `undefined` when the call has no scopes. The reservation and its
   * release are installed in one uninterruptible step: when the scope closes before `StreamHold.settle` (the stream
   * failed, was dropped or interrupted, even while the reservation was on its way to the store) the hold is
   * released. Fails as `reserve` does: with `InvalidLlmRequest` when `options.tenant` or `options.user` is not a
   * budget scope id; with `BudgetExceeded` when a scope cannot hold the estimated maximum cost; with
   * `BudgetStoreError` when the `Budgets` store fails.
   */
  readonly reserveStream: (
    context: CallContext,
    targets: ReadonlyArray<Target>
  ) => Effect.Effect<StreamHold | undefined, BudgetStepError, Scope.Scope>
  /** Settles a stream's reservation at the cost of its final response. */
  readonly settle: (
    reservation: Reservation,
    context: CallContext,
    targets: ReadonlyArray<Target>,
    response: LlmResponse
  ) => Effect.Effect<void>
  /** Releases a reservation (a failed or abandoned stream). */
  readonly release: (reservation: Reservation) => Effect.Effect<void>
}

/** Default output tokens of the estimate. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096

/** The budget scopes of a call, or the `InvalidLlmRequest` naming the option that cannot be one. */
export const scopesOf = (context: CallContext): ReadonlyArray<string> | InvalidLlmRequest => {
  const options = context.call.options
  if (options === undefined) return []
  const scopes: Array<string> = [...(options.budgets ?? [])]
  for (const [field, kind] of [["tenant", "tenant"], ["user", "principal"]] as const) {
    const id = options[field]
    if (id === undefined) continue
    if (!SCOPE_ID_PATTERN.test(id)) {
      return InvalidLlmRequest.at(`options.${field}`, "not a budget scope id (1-128 characters of [A-Za-z0-9_.:@-])")
    }
    scopes.push(`${kind}:${id}`)
  }
  return scopes
}

const make = Effect.gen(function*() {
  const budgets = yield* Budgets
  const usage = yield* UsageStep
  const counter = yield* Tokenizer.TokenCounter
  return (options: BudgetStepOptions): BudgetStepShape => {
    const defaultMax = options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS
    const estimate = (context: CallContext, targets: ReadonlyArray<Target>): number => {
      let max = 0
      for (const target of targets) {
        const input = context.state.estimateInput(counter, context.call, target.model)
        const output = context.call.params?.maxTokens ?? target.defaults.maxTokens ?? defaultMax
        const cost = usage.costOf(target, makeUsage(input, output))
        if (cost !== undefined && cost > max) max = cost
      }
      return max
    }
    const actualOf = (context: CallContext, targets: ReadonlyArray<Target>, response: LlmResponse): number => {
      const by = context.state.answeredBy ?? targets[0]
      // a hedged call also pays for its losing leg (see HedgeStep)
      return (by === undefined ? 0 : usage.costOf(by, response.usage) ?? 0) + context.state.hedgeCostUsd
    }
    const reserve: BudgetStepShape["reserve"] = (context, targets) => {
      const scopes = scopesOf(context)
      if (scopes instanceof InvalidLlmRequest) return Effect.fail(scopes)
      if (scopes.length === 0) return Effect.succeed(undefined)
      return budgets.reserve({ scopes, amount: estimate(context, targets) }).pipe(
        // unreachable (the scopes are checked above, the amount is a finite cost): mapped to keep the error types
        Effect.catchTag(
          "InvalidOptions",
          (e) =>
            Effect.fail(new InvalidLlmRequest({ subject: "LLM request", path: `options.${e.path}`, detail: e.detail }))
        )
      )
    }
    const reserveStream: BudgetStepShape["reserveStream"] = (context, targets) => {
      // "held" until a settle starts; the scope's finalizer releases only a hold no settle has taken over
      let state: "held" | "ending" = "held"
      return Effect.map(
        Effect.acquireRelease(
          reserve(context, targets),
          (reservation) =>
            reservation === undefined || state !== "held" ? Effect.void : Effect.ignore(budgets.release(reservation))
        ),
        (reservation): StreamHold | undefined =>
          reservation === undefined ? undefined : {
            settle: (response) =>
              Effect.uninterruptible(Effect.suspend(() => {
                if (state !== "held") return Effect.void
                state = "ending"
                return budgets.settle(reservation, actualOf(context, targets, response)).pipe(
                  Effect.asVoid,
                  Effect.catch(() => Effect.ignore(budgets.release(reservation)))
                )
              }))
          }
      )
    }
    return {
      reserve,
      reserveStream,
      settle: (reservation, context, targets, response) =>
        Effect.ignore(budgets.settle(reservation, actualOf(context, targets, response))),
      release: (reservation) => Effect.ignore(budgets.release(reservation)),
      around: dual(
        3,
        <E>(compute: Effect.Effect<LlmResponse, E>, context: CallContext, targets: ReadonlyArray<Target>) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(
              reserve(context, targets),
              (reservation) =>
                reservation === undefined ? restore(compute) : restore(compute).pipe(
                  Effect.onExit((exit) =>
                    exit._tag === "Success"
                      ? Effect.ignore(budgets.settle(reservation, actualOf(context, targets, exit.value)))
                      : Effect.ignore(budgets.release(reservation))
                  )
                )
            )
          )
      )
    }
  }
})

/** The pipeline's budget step (optional: provide it beside `Llm.layer`, with `Budgets` and `UsageStep`). */
export class BudgetStep extends Context.Service<BudgetStep, BudgetStepShape>()("troupe/pipeline/BudgetStep") {
  /** Reserves before, settles after, on the `Budgets` in the context. */
  static readonly layer = (options: BudgetStepOptions = {}): Layer.Layer<BudgetStep, never, Budgets | UsageStep> =>
    Layer.effect(BudgetStep, Effect.map(make, (f) => f(options)))
}

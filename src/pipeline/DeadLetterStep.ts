/**
 * `DeadLetterStep`: requests of the `Llm` pipeline that fail permanently go to the dead-letter queue (`src/dlq`).
 * Rules:
 *
 * - **Failed permanently** means the provider side of a `generate` call failed after its retries and fallbacks
 *   (the error `FallbackStep` gives up with, or the call deadline). Errors before any provider is asked — an invalid
 *   call, a budget or rate-limit refusal, a guard block — are the caller's and are not recorded; neither is an
 *   interrupted call. Streams are not recorded.
 * - **A letter holds** the call as decoded (kind `request`, source the requested model), masked as `DeadLetters`
 *   masks every input (a per-call `apiKey` becomes `"<redacted>"`), the last error, the provider attempts made and
 *   the time of the failure.
 * - **Redrive re-runs the request through the pipeline**: `PipelineRedrive.handler` is the `redrive` option of the
 *   `DeadLetters` layer; it sends the letter's input to `Llm.generate` (every step again: cache, budgets, retries,
 *   fallbacks). It is idempotent: `DeadLetters` claims a letter before redriving it, and a redriven request that
 *   fails again is recorded under the letter's own id, a no-op, so one failure never makes two letters. A call whose
 *   `apiKey` was masked fails again on redrive (the key is never stored).
 * - **Recording never fails the call**: a store error is logged and the call fails with its own error.
 *
 * Optional in `Llm.layer`, like `BudgetStep`: without a `DeadLetterStep` in the context nothing is recorded.
 * Mirrors SQS / Azure Service Bus dead-letter queues with redrive; reuses `DeadLetters` (`src/dlq`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { dual } from "effect/Function"
import type { RedriveHandler } from "../dlq/index.ts"
import { DeadLetters } from "../dlq/index.ts"
import type { LlmResponse } from "../llm/index.ts"
import type { LlmCallInput } from "./LlmCall.ts"
import type { LlmResult } from "./LlmResult.ts"
import type { CallContext } from "./Target.ts"

/** The `generate` a redrive sends letters to (bound by `Llm.layer` when it is built with a `DeadLetterStep`). */
export type RedriveGenerate = (input: LlmCallInput) => Effect.Effect<LlmResult, unknown>

/** The id of the letter being redriven, if any: a failure under it is recorded under that id (a no-op). */
export const CurrentRedrive = Context.Reference<string | undefined>("troupe/pipeline/CurrentRedrive", {
  defaultValue: () => undefined
})

/**
 * The late-bound redrive of a pipeline: make one, pass `handler` as the `redrive` option of the `DeadLetters`
 * layer and the cell to `DeadLetterStep.layer`; `Llm.layer` binds it. Before it is bound (no pipeline built yet) a
 * redrive fails with an `Error`, so the letter stays dead.
 */
export class PipelineRedrive {
  private generate: RedriveGenerate | undefined = undefined
  /** The `redrive` option of the `DeadLetters` layer. */
  readonly handler: RedriveHandler = (letter) =>
    Effect.suspend(() =>
      this.generate === undefined
        ? Effect.fail(new Error("no pipeline bound to this redrive"))
        : this.generate(letter.input as LlmCallInput).pipe( // a request letter holds a decoded LlmCall (masked JSON)
          Effect.provideService(CurrentRedrive, letter.id)
        )
    )
  /** Binds the pipeline's `generate` (done by `Llm.layer`). */
  bind(generate: RedriveGenerate): void {
    this.generate = generate
  }
}

/** The dead-letter step of the pipeline. */
export interface DeadLetterStepShape {
  /** Runs the provider side of a call, recording its permanent failure (the error is passed through). */
  readonly around: {
    (context: CallContext): <E>(compute: Effect.Effect<LlmResponse, E>) => Effect.Effect<LlmResponse, E>
    <E>(compute: Effect.Effect<LlmResponse, E>, context: CallContext): Effect.Effect<LlmResponse, E>
  }
  /** Binds the pipeline's `generate` to the step's `PipelineRedrive` (called by `Llm.layer`). */
  readonly bind: (generate: RedriveGenerate) => void
}

const make = (redrive: PipelineRedrive | undefined) =>
  Effect.gen(function*() {
    const dlq = yield* DeadLetters
    const record = (context: CallContext, error: unknown) =>
      Effect.gen(function*() {
        const id = yield* CurrentRedrive
        yield* dlq.record({
          ...(id !== undefined ? { id } : {}),
          kind: "request",
          source: context.call.model,
          input: context.call,
          error,
          attempts: context.state.attempts
        }).pipe(Effect.catch((e) => Effect.logWarning("dead letter not recorded", e)))
      })
    return DeadLetterStep.of({
      around: dual(2, <E>(compute: Effect.Effect<LlmResponse, E>, context: CallContext) =>
        Effect.tapError(compute, (error) =>
          record(context, error))),
      bind: (generate) =>
        redrive?.bind(generate)
    })
  })

/** The pipeline's dead-letter step (optional: provide it beside `Llm.layer`, with `DeadLetters`). */
export class DeadLetterStep
  extends Context.Service<DeadLetterStep, DeadLetterStepShape>()("troupe/pipeline/DeadLetterStep")
{
  /** Records permanent failures on the `DeadLetters` in the context; `redrive`, when given, is bound to the pipeline. */
  static readonly layer = (
    options: { readonly redrive?: PipelineRedrive } = {}
  ): Layer.Layer<DeadLetterStep, never, DeadLetters> => Layer.effect(DeadLetterStep, make(options.redrive))
}

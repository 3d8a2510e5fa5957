/**
 * `Llm.embed({ model, input })`: embeddings through the same pipeline steps as chat calls.
 *
 * Rules: the input (a string or up to 2,048 strings) is decoded first (`InvalidLlmRequest` with the path); the model
 * alias resolves through the configuration (`ModelResolver`); the call is admitted by the rate limiter (one request,
 * and the token counter's estimate of the input under the tokens policy), guarded by the provider's circuit
 * breaker, and retried on retryable errors (`RetryStep`), exactly like `generate`; the cost comes from the price
 * table (embedding models are priced per input token). Not applied: the response cache and fallback chains (a
 * vector from another model lives in another space, so falling back would silently mix spaces). A provider whose
 * wire has no embeddings (Anthropic) fails with `EmbeddingsUnsupported`.
 */
import { Effect, Schema } from "effect"
import {
  type EmbedRequest,
  EmbedRequest as EmbedRequestSchema,
  type EmbedResponse,
  invalidRequestFromIssue,
  type ProviderError
} from "../llm/index.ts"
import type { BreakerStepShape } from "./BreakerStep.ts"
import type { LlmError } from "./Llm.ts"
import type { LlmCall } from "./LlmCall.ts"
import type { ModelResolverShape } from "./ModelResolver.ts"
import type { ProviderRegistryShape } from "./ProviderRegistry.ts"
import type { RateLimitStepShape } from "./RateLimitStep.ts"
import type { RetryStepShape } from "./RetryStep.ts"
import { type CallContext, CallState } from "./Target.ts"
import type { UsageStepShape } from "./UsageStep.ts"

/** One embedding call through the pipeline. */
export interface EmbedInput {
  /** an alias or `provider:model` */
  readonly model: string
  readonly input: string | ReadonlyArray<string>
  readonly dimensions?: number
}

/** The vectors (in input order) and where they came from. */
export interface EmbedResult extends EmbedResponse {
  readonly meta: {
    readonly requested: string
    readonly attempts: number
    /** USD from the price table; `undefined` when the model has no price */
    readonly costUsd: number | undefined
    readonly estimatedInputTokens?: number
  }
}

/** The provider's wire has no embeddings endpoint. */
export class EmbeddingsUnsupported extends Schema.TaggedError<EmbeddingsUnsupported>()("EmbeddingsUnsupported", {
  provider: Schema.String
}) {
  override get message(): string {
    return `provider ${this.provider} has no embeddings endpoint`
  }
}

const Input = Schema.Struct({
  model: Schema.String.check(Schema.isMinLength(1)),
  input: Schema.Union([Schema.String, Schema.Array(Schema.String)]),
  dimensions: Schema.optionalKey(Schema.Unknown)
})
const decodeInput = Schema.decodeUnknownExit(Input)
const decodeRequest = Schema.decodeUnknownExit(EmbedRequestSchema)

/** The pipeline steps an embeddings call goes through (aliases, registry, rate limit, breaker, retry, cost). */
export interface EmbedSteps {
  readonly resolver: ModelResolverShape
  readonly registry: ProviderRegistryShape
  readonly rateLimit: RateLimitStepShape
  readonly breaker: BreakerStepShape
  readonly retry: RetryStepShape
  readonly usage: UsageStepShape
}

/** `embed` over the pipeline's steps (built by `Llm.layer`). */
export const makeEmbed =
  (steps: EmbedSteps) => (input: EmbedInput): Effect.Effect<EmbedResult, LlmError | EmbeddingsUnsupported> =>
    Effect.gen(function*() {
      const shape = decodeInput(input)
      if (shape._tag === "Failure") return yield* Effect.fail(invalidFromExit(shape))
      const texts = typeof input.input === "string" ? [input.input] : input.input
      const target = yield* steps.resolver.resolve(input.model, "text")
      const checked = decodeRequest({
        model: target.model,
        input: texts,
        ...(input.dimensions !== undefined ? { dimensions: input.dimensions } : {})
      })
      if (checked._tag === "Failure") return yield* Effect.fail(invalidFromExit(checked))
      const request: EmbedRequest = checked.value
      // the rate limiter counts the input as one user message
      const call = { model: input.model, messages: [{ role: "user", content: texts.join("\n") }] } as unknown as LlmCall
      const context: CallContext = { call, kind: "text", state: new CallState() }
      const attempt = Effect.flatMap(
        steps.registry.get(target.route),
        (provider): Effect.Effect<EmbedResponse, ProviderError | EmbeddingsUnsupported> => {
          context.state.attempts++
          return provider.embed === undefined
            ? Effect.fail(new EmbeddingsUnsupported({ provider: target.provider }))
            : provider.embed(request)
        }
      )
      const response = yield* attempt.pipe(
        steps.retry.around(context, target),
        steps.breaker.around(target),
        steps.rateLimit.around(target, context)
      )
      const estimated = context.state.estimatedInputTokens
      return {
        ...response,
        meta: {
          requested: input.model,
          attempts: context.state.attempts,
          costUsd: steps.usage.costOf(target, response.usage),
          ...(estimated !== undefined ? { estimatedInputTokens: estimated } : {})
        }
      }
    })

const invalidFromExit = (exit: { readonly _tag: "Failure"; readonly cause: unknown }) => {
  // an Exit's cause, read by optional fields: a schema failure is its Fail reason's error
  const cause = exit.cause as {
    readonly reasons?: ReadonlyArray<{ readonly _tag: string; readonly error?: Schema.SchemaError }>
  }
  const error = cause.reasons?.find((r) => r._tag === "Fail")?.error
  // the issue of a SchemaError (or undefined, which the function reports as an unknown problem)
  return invalidRequestFromIssue(error?.issue as Parameters<typeof invalidRequestFromIssue>[0], "")
}

/**
 * Typed failures the LLM pipeline adds to those of its parts.
 *
 * - `RateLimitRefused`: troupe's own RateLimiter refused the call before it reached the provider (in `check` mode,
 *   or in `acquire` mode when the wait would exceed `maxWait`). It is a distinct tag from the provider's 429
 *   (`ProviderRateLimited` in `src/llm`), and from the limiter's own `RateLimited`, so `catchTag` stays unambiguous.
 * - `ProviderNotFound`: a model resolved to a provider name the `ProviderRegistry` has no provider for.
 *
 * Everything else a call can fail with comes from the parts: `InvalidLlmRequest` (decoding, with paths),
 * `ModelLookupError` (alias resolution, from `src/config`), `ProviderError` (the provider, `src/llm`) and effect's
 * `CircuitBreakerError` (an open or half-open breaker). All `Schema.TaggedError`s so they cross process boundaries.
 *
 * @since 0.1.0
 */
import { Duration, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** troupe's RateLimiter refused the call (the provider was not contacted). */
export class RateLimitRefused extends Schema.TaggedError<RateLimitRefused>()("RateLimitRefused", {
  /** The limiter key that refused (e.g. `provider=openai|model=gpt-4o`). */
  key: Schema.String,
  policy: Schema.String,
  tier: Schema.String,
  /** What was asked for: `requests` or `tokens`. */
  resource: Schema.Literals(["requests", "tokens"]),
  cost: Schema.Number,
  /** Milliseconds until the same call would be admitted (`Infinity`: never, the cost exceeds the limit). */
  retryAfterMillis: Schema.Number
}) {
  get retryAfter(): Duration.Duration {
    return Number.isFinite(this.retryAfterMillis) ? Duration.millis(this.retryAfterMillis) : Duration.infinity
  }
  override get message(): string {
    return `rate limit refused ${this.resource} (cost ${this.cost}) on "${this.key}", tier "${this.tier}" of policy "${this.policy}"` +
      (Number.isFinite(this.retryAfterMillis)
        ? `; retry after ${this.retryAfterMillis} ms`
        : "; the cost can never fit")
  }
}

/** The whole call (every attempt, retry wait and fallback) did not finish within its deadline. Not retried. */
export class CallDeadlineExceeded extends Schema.TaggedError<CallDeadlineExceeded>()("CallDeadlineExceeded", {
  /** The deadline in ms (the call's `timeout`, else the pipeline's `deadline`). */
  timeoutMillis: Schema.Number,
  /** Provider attempts made before the deadline. */
  attempts: Schema.Number
}) {
  override get message(): string {
    return `the LLM call did not finish within ${this.timeoutMillis} ms (${this.attempts} attempt${
      this.attempts === 1 ? "" : "s"
    }, retries and waits included)`
  }
}

/** A stream passed one of its limits (see `CallLimits`); the provider's request was aborted. */
export class StreamLimitExceeded extends Schema.TaggedError<StreamLimitExceeded>()("StreamLimitExceeded", {
  /** `deadline` (whole stream), `idle` (between two parts) or `size` (characters received). */
  limit: Schema.Literals(["deadline", "idle", "size"]),
  /** The limit's value: ms for `deadline` and `idle`, characters for `size`. */
  value: Schema.Number
}) {
  override get message(): string {
    switch (this.limit) {
      case "deadline":
        return `the LLM stream did not finish within ${this.value} ms`
      case "idle":
        return `the LLM stream sent nothing for ${this.value} ms`
      case "size":
        return `the LLM stream passed ${this.value} characters`
    }
  }
}

/** A model resolved to a provider that the `ProviderRegistry` does not have. */
export class ProviderNotFound extends Schema.TaggedError<ProviderNotFound>()("ProviderNotFound", {
  provider: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `no LLM provider named "${this.provider}" is registered (known: ${this.known.join(", ") || "none"})`
  }
}

/** A step's layer options failed validation; `path` names the bad field. */
export class InvalidPipelineOptions extends Schema.TaggedError<InvalidPipelineOptions>()("InvalidPipelineOptions", {
  ...Invalid.InvalidInputFields,
  /** The step (`RateLimitStep`, `BreakerStep`, …). */ step: Schema.String
}) {
  /** An `InvalidPipelineOptions` of `step` at `path`, for a rule Schema cannot express. */
  static at(step: string, path: string, detail: string): InvalidPipelineOptions {
    return new InvalidPipelineOptions({ step, ...Invalid.fields(`${step} options`, path, detail) })
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Builds an `InvalidPipelineOptions` from a Schema issue (first issue's path, every issue in the reason). */
export const invalidOptions = (step: string, issue: SchemaIssue.Issue): InvalidPipelineOptions =>
  new InvalidPipelineOptions({ step, subject: `${step} options`, ...Invalid.describeIssue(issue) })

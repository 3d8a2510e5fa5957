/**
 * Typed failures of LLM providers (`ProviderError`) and of decoding an LLM request (`InvalidLlmRequest`).
 *
 * Every failure is a `Schema.TaggedError` carrying the provider name, the HTTP status when there was one, a
 * human description (scrubbed of API keys, never the request headers) and `retryable`, which is what the
 * pipeline's retry step reads: rate limits, 5xx, overload, timeouts and connection resets are retryable;
 * authentication, validation, quota, content-policy and context-length failures are not. A rate limit carries the
 * server's `Retry-After` as `retryAfterMillis` (and as a `Duration` through the `retryAfter` getter).
 *
 * The taxonomy mirrors the OpenAI / Anthropic SDK error classes (`RateLimitError`, `AuthenticationError`,
 * `APIConnectionError`, `APITimeoutError`, `InternalServerError`, Anthropic's `overloaded_error`) and LiteLLM's
 * `ContextWindowExceededError` / `ContentPolicyViolationError`. `toAiError` (in `LanguageModelBridge.ts`) maps
 * them onto effect/ai's `AiError` reasons. Plain Effect `Schema`; nothing hand-rolled.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

const common = {
  /** The provider name (e.g. `openai`, `anthropic`, `scripted`). */
  provider: Schema.String,
  /** What went wrong, readable; API keys are scrubbed and headers are never included. */
  description: Schema.String,
  /** HTTP status, when the failure came with a response. */
  status: Schema.optionalKey(Schema.Int),
  /** Whether retrying the same request may succeed. */
  retryable: Schema.Boolean
}

const describe = (label: string, self: { provider: string; description: string; status?: number }): string =>
  `${self.provider}: ${label}${self.status !== undefined ? ` (HTTP ${self.status})` : ""}: ${self.description}`

/**
 * HTTP 429: too many requests. `retryAfterMillis` is the server's `retry-after-ms` / `Retry-After`.
 *
 * @example
 * ```ts
 * Effect.catchTag("ProviderRateLimited", (e) => Effect.sleep(e.retryAfter ?? Duration.seconds(1)))
 * ```
 */
export class ProviderRateLimited extends Schema.TaggedError<ProviderRateLimited>()("ProviderRateLimited", {
  ...common,
  retryAfterMillis: Schema.optionalKey(Schema.Number)
}) {
  /** The server's requested delay before retrying, if it sent one. */
  get retryAfter(): Duration.Duration | undefined {
    return this.retryAfterMillis === undefined ? undefined : Duration.millis(this.retryAfterMillis)
  }
  override get message(): string {
    const after = this.retryAfterMillis === undefined ? "" : ` (retry after ${this.retryAfterMillis} ms)`
    return describe("rate limited", this) + after
  }
}

/** The account's quota or credit is exhausted (OpenAI's 429 `insufficient_quota`, HTTP 402). Not retryable. */
export class QuotaExhausted extends Schema.TaggedError<QuotaExhausted>()("QuotaExhausted", common) {
  override get message(): string {
    return describe("quota exhausted", this)
  }
}

/** HTTP 401 / 403: a missing, invalid or insufficient API key. Not retryable. */
export class AuthenticationFailed extends Schema.TaggedError<AuthenticationFailed>()("AuthenticationFailed", {
  ...common,
  kind: Schema.Literals(["InvalidKey", "MissingKey", "InsufficientPermissions"])
}) {
  override get message(): string {
    return describe(`authentication failed (${this.kind})`, this)
  }
}

/** The request or its output was refused by the provider's content policy. Not retryable. */
export class ContentPolicyViolation extends Schema.TaggedError<ContentPolicyViolation>()(
  "ContentPolicyViolation",
  common
) {
  override get message(): string {
    return describe("content policy violation", this)
  }
}

/** The prompt (plus `maxTokens`) does not fit the model's context window. Not retryable as is. */
export class ContextLengthExceeded extends Schema.TaggedError<ContextLengthExceeded>()(
  "ContextLengthExceeded",
  common
) {
  override get message(): string {
    return describe("context length exceeded", this)
  }
}

/** The provider rejected the request as invalid (HTTP 400, 404 unknown model, 413, 422). Not retryable. */
export class ProviderRejectedRequest extends Schema.TaggedError<ProviderRejectedRequest>()(
  "ProviderRejectedRequest",
  common
) {
  override get message(): string {
    return describe("request rejected", this)
  }
}

/** The provider is overloaded (Anthropic 529 / `overloaded_error`, HTTP 503). Retryable. */
export class ProviderOverloaded extends Schema.TaggedError<ProviderOverloaded>()("ProviderOverloaded", {
  ...common,
  retryAfterMillis: Schema.optionalKey(Schema.Number)
}) {
  /** The server's requested delay before retrying, if it sent one. */
  get retryAfter(): Duration.Duration | undefined {
    return this.retryAfterMillis === undefined ? undefined : Duration.millis(this.retryAfterMillis)
  }
  override get message(): string {
    return describe("overloaded", this)
  }
}

/** Any other 5xx answer. Retryable. */
export class ProviderServerError extends Schema.TaggedError<ProviderServerError>()("ProviderServerError", common) {
  override get message(): string {
    return describe("server error", this)
  }
}

/** No answer (or no next stream chunk) within the timeout; the HTTP request was aborted. Retryable. */
export class ProviderTimeout extends Schema.TaggedError<ProviderTimeout>()("ProviderTimeout", {
  ...common,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return describe(`timed out after ${this.timeoutMillis} ms`, this)
  }
}

/** The connection failed or was reset, or a stream ended before its terminal event. Retryable. */
export class ProviderConnectionError extends Schema.TaggedError<ProviderConnectionError>()(
  "ProviderConnectionError",
  common
) {
  override get message(): string {
    return describe("connection error", this)
  }
}

/** The provider answered something that is not the wire format (bad JSON, missing fields). Not retryable. */
export class MalformedResponse extends Schema.TaggedError<MalformedResponse>()("MalformedResponse", common) {
  override get message(): string {
    return describe("malformed response", this)
  }
}

/** Every failure a provider call can end with. */
export type ProviderError =
  | ProviderRateLimited
  | QuotaExhausted
  | AuthenticationFailed
  | ContentPolicyViolation
  | ContextLengthExceeded
  | ProviderRejectedRequest
  | ProviderOverloaded
  | ProviderServerError
  | ProviderTimeout
  | ProviderConnectionError
  | MalformedResponse

/** The Schema of {@link ProviderError} (e.g. to persist or send failures). */
export const ProviderError = Schema.Union([
  ProviderRateLimited,
  QuotaExhausted,
  AuthenticationFailed,
  ContentPolicyViolation,
  ContextLengthExceeded,
  ProviderRejectedRequest,
  ProviderOverloaded,
  ProviderServerError,
  ProviderTimeout,
  ProviderConnectionError,
  MalformedResponse
])

const providerErrorTags: ReadonlySet<string> = new Set([
  "ProviderRateLimited",
  "QuotaExhausted",
  "AuthenticationFailed",
  "ContentPolicyViolation",
  "ContextLengthExceeded",
  "ProviderRejectedRequest",
  "ProviderOverloaded",
  "ProviderServerError",
  "ProviderTimeout",
  "ProviderConnectionError",
  "MalformedResponse"
])

/** Whether `u` is one of the {@link ProviderError} classes. */
export const isProviderError = (u: unknown): u is ProviderError =>
  typeof u === "object" && u !== null && "_tag" in u && providerErrorTags.has(String(u._tag)) &&
  "retryable" in u

/**
 * An LLM request (or per-call option) failed to decode. `path` is the dotted path of the first bad field
 * (e.g. `messages.2.toolCalls.0.name`); `issues` lists every problem as `path: message`.
 */
export class InvalidLlmRequest
  extends Schema.TaggedError<InvalidLlmRequest>()("InvalidLlmRequest", Invalid.InvalidInputFields)
{
  /** An `InvalidLlmRequest` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidLlmRequest {
    return new InvalidLlmRequest(Invalid.fields("LLM request", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Invalid provider options (base URL, timeout, headers, scripted rules). `path` names the bad field. */
export class InvalidProviderOptions extends Schema.TaggedError<InvalidProviderOptions>()("InvalidProviderOptions", {
  ...Invalid.InvalidInputFields,
  provider: Schema.String
}) {
  /** An `InvalidProviderOptions` of provider `provider` at `path`. */
  static at(provider: string, path: string, detail: string): InvalidProviderOptions {
    return new InvalidProviderOptions({ provider, ...Invalid.fields(`options of provider ${provider}`, path, detail) })
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

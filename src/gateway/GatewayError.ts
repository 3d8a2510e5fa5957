/**
 * The gateway's HTTP errors, in OpenAI's error format (`{ "error": { message, type, param, code } }`), and the one
 * mapping from troupe's typed failures to HTTP statuses.
 *
 * Rules (the same words as the README and the tests):
 * - a request that fails decoding is a 400 `invalid_request_error` whose `param` names the bad field's path;
 * - a missing or unknown key is 401, a known key without the right (the admin API) is 403;
 * - an unknown model or alias is 404 `model_not_found`; an unknown route is 404 `not_found`;
 * - troupe's own rate limit and a provider's 429 are 429 with `retry-after` (seconds, rounded up);
 * - a budget that cannot hold the call (`BudgetExceeded`) is 402 `budget_exceeded`, naming the scope, its limit,
 *   spend and reservations; the budget store down is 503;
 * - a full request queue (`QueueFull`) or a request shed from it (`Shed`) is 503 `queue_full` / `request_shed` with
 *   `retry-after`;
 * - an open circuit breaker, an overloaded provider, the rate-limit store down, maintenance mode and draining are
 *   503 (with `retry-after` when known); provider failures that are not the client's fault are 502, timeouts 504;
 * - anything unexpected (a defect) is a 500 whose message says nothing about the cause (the cause is logged with
 *   the request id).
 * Messages never carry a key, a header or a prompt: they come from the typed errors' own `message`, which the
 * providers already scrub, and from Schema issue texts (the expected type, never the received value).
 *
 * `GatewayHttpError` is `HttpServerRespondable`, so an HttpApi handler may fail with it and HttpApi sends it as is.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { HttpServerResponse } from "effect/http"
import * as Respondable from "effect/http/HttpServerRespondable"
import * as Invalid from "../internal/InvalidInput.ts"

/** One HTTP error as the gateway sends it. */
export class GatewayHttpError extends Schema.TaggedError<GatewayHttpError>()("GatewayHttpError", {
  status: Schema.Int,
  type: Schema.String,
  code: Schema.NullOr(Schema.String),
  param: Schema.NullOr(Schema.String),
  description: Schema.String,
  /** Seconds for `retry-after`, when the client should come back later. */
  retryAfterSeconds: Schema.optionalKey(Schema.Int)
}) {
  override get message(): string {
    return this.description
  }
  /** The OpenAI-format JSON body. */
  get body(): { readonly error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.description, type: this.type, param: this.param, code: this.code } }
  }
  /** The response: status, JSON body, `retry-after` when set. */
  toResponse(): HttpServerResponse.HttpServerResponse {
    return errorResponse(this)
  }
  [Respondable.symbol]() {
    return Effect.succeed(errorResponse(this))
  }
}

/** The response of a `GatewayHttpError` (also usable without the class, from middleware). */
export const errorResponse = (
  error: GatewayHttpError,
  extraHeaders?: Record<string, string>
): HttpServerResponse.HttpServerResponse => {
  const headers: Record<string, string> = { ...extraHeaders }
  if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.retryAfterSeconds)
  return HttpServerResponse.text(JSON.stringify(error.body), {
    status: error.status,
    headers,
    contentType: "application/json"
  })
}

/** Builds an error. */
export const httpError = (
  status: number,
  type: string,
  description: string,
  extra: { readonly code?: string; readonly param?: string; readonly retryAfterSeconds?: number } = {}
): GatewayHttpError =>
  new GatewayHttpError({
    status,
    type,
    description,
    code: extra.code ?? null,
    param: extra.param ?? null,
    ...(extra.retryAfterSeconds !== undefined ? { retryAfterSeconds: extra.retryAfterSeconds } : {})
  })

const secondsOf = (millis: number | undefined): number | undefined =>
  millis === undefined || !Number.isFinite(millis) ? undefined : Math.max(1, Math.ceil(millis / 1000))

/** A 400 naming the first bad field's path (every issue listed in the message). */
export const fromSchemaIssue = (issue: SchemaIssue.Issue, root?: string): GatewayHttpError => {
  const { path, detail } = Invalid.describeIssue(issue, root ?? "", 5)
  return httpError(400, "invalid_request_error", `Invalid request: ${detail}`, {
    code: "invalid_value",
    ...(path !== "" ? { param: path } : {})
  })
}

/** The tagged failures the mapping knows, by `_tag` (structural: no import of every class). */
interface Tagged {
  readonly _tag: string
  readonly message?: string
  readonly status?: number
  readonly retryAfterMillis?: number
  readonly path?: string
  readonly reason?: string
}

const isTagged = (u: unknown): u is Tagged =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string"

/**
 * Maps a failure of `Llm`, the agent service or the gateway onto its HTTP error. Unknown values become a 500 that
 * says nothing about them.
 */
export const fromFailure = (failure: unknown): GatewayHttpError => {
  if (failure instanceof GatewayHttpError) return failure
  if (!isTagged(failure)) return internalError
  const message = failure.message ?? failure._tag
  switch (failure._tag) {
    case "InvalidLlmRequest":
      return httpError(400, "invalid_request_error", message, {
        code: "invalid_value",
        ...(failure.path !== undefined && failure.path !== "" ? { param: failure.path } : {})
      })
    case "UnknownModelAlias":
    case "UnknownProvider":
    case "InvalidModelSpec":
    case "ProviderNotFound":
      return httpError(404, "invalid_request_error", message, { code: "model_not_found", param: "model" })
    case "ModelAliasCycle":
      return httpError(500, "server_error", message, { code: "model_alias_cycle" })
    case "RateLimitRefused":
    case "RateLimited":
    case "ProviderRateLimited": {
      const retryAfter = secondsOf(failure.retryAfterMillis)
      return httpError(429, "rate_limit_error", message, {
        code: "rate_limit_exceeded",
        ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {})
      })
    }
    case "BudgetExceeded":
      return httpError(402, "insufficient_quota", message, { code: "budget_exceeded" })
    case "BudgetStoreError":
      return httpError(503, "server_error", "the budget store is unavailable", {
        code: "budget_store_unavailable",
        retryAfterSeconds: 1
      })
    case "QueueFull":
    case "Shed":
      return httpError(503, "server_error", message, {
        code: failure._tag === "QueueFull" ? "queue_full" : "request_shed",
        retryAfterSeconds: secondsOf(failure.retryAfterMillis) ?? 1
      })
    case "QuotaExhausted":
      return httpError(429, "insufficient_quota", message, { code: "insufficient_quota" })
    case "EmbeddingsUnsupported":
      return httpError(400, "invalid_request_error", message, { code: "embeddings_unsupported", param: "model" })
    case "ContentPolicyViolation":
      return httpError(400, "invalid_request_error", message, { code: "content_policy_violation" })
    case "ContextLengthExceeded":
      return httpError(400, "invalid_request_error", message, { code: "context_length_exceeded" })
    case "ProviderRejectedRequest": {
      const status =
        failure.status !== undefined && failure.status >= 400 && failure.status < 500 && failure.status !== 401 &&
          failure.status !== 403 && failure.status !== 429
          ? failure.status
          : 400
      return httpError(status, "invalid_request_error", message, { code: "provider_rejected_request" })
    }
    case "ProviderOverloaded": {
      const retryAfter = secondsOf(failure.retryAfterMillis)
      return httpError(503, "server_error", message, {
        code: "provider_overloaded",
        ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {})
      })
    }
    case "CircuitBreakerError":
    case "CircuitBreakerOpen":
      return httpError(503, "server_error", "the provider's circuit breaker is open; retry later", {
        code: "provider_unavailable",
        retryAfterSeconds: 5
      })
    case "RateLimitStoreError":
      return httpError(503, "server_error", "the rate-limit store is unavailable", {
        code: "rate_limit_store_unavailable",
        retryAfterSeconds: 1
      })
    case "AuthenticationFailed":
      return httpError(502, "upstream_error", message, { code: "upstream_authentication_failed" })
    case "ProviderTimeout":
      return httpError(504, "upstream_error", message, { code: "upstream_timeout" })
    case "ProviderServerError":
    case "ProviderConnectionError":
    case "MalformedResponse":
      return httpError(502, "upstream_error", message, { code: "upstream_error" })
    default:
      return internalError
  }
}

/** The 500 sent for defects and unknown failures. */
export const internalError: GatewayHttpError = httpError(
  500,
  "server_error",
  "The server had an error while processing your request.",
  {
    code: "internal_error"
  }
)

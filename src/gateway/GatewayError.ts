/**
 * The gateway's HTTP errors, in OpenAI's error format (`{ "error": { message, type, param, code } }`), and the one
 * mapping from troupe's typed failures to HTTP statuses.
 *
 * Rules (the same words as the README and the tests):
 * - a request that fails decoding is a 400 `invalid_request_error` whose `param` names the bad field's path (the wire
 *   path the client sent: a field the pipeline refuses is named by `fromFailure`'s `param` mapping, see ChatCodec);
 * - a missing or unknown key is 401, a known key without the right (the admin API) is 403;
 * - an unknown model or alias is 404 `model_not_found`; an unknown route is 404 `not_found`;
 * - troupe's own rate limit and a provider's 429 are 429 with `retry-after` (seconds, rounded up);
 * - a budget that cannot hold the call (`BudgetExceeded`) is 402 `budget_exceeded`, naming the scope, its limit,
 *   spend and reservations; the budget store down is 503;
 * - a full request queue (`QueueFull`) or a request shed from it (`Shed`) is 503 `queue_full` / `request_shed` with
 *   `retry-after`;
 * - an open circuit breaker, an overloaded provider, the rate-limit store down, maintenance mode and draining are
 *   503 (with `retry-after` when known); provider failures that are not the client's fault are 502, timeouts 504
 *   `upstream_timeout` (the provider's, the call's deadline `CallDeadlineExceeded`, a stream's deadline or idle limit
 *   `StreamLimitExceeded`); a stream past its size limit is 502 `response_too_large`;
 * - a guard block (`GuardBlocked`) is a 400 `invalid_request_error` `content_policy_violation`, as a provider's
 *   moderation refusal is (its message names the stage, scanner and rule, never the text);
 * - every failure `Llm` documents (its `LlmError` union, `EmbeddingsUnsupported`) has its own case: the test
 *   enumerates the union, so a new tag cannot fall to the 500 silently;
 * - anything unexpected (a defect, an unknown failure) is a 500 `internal_error` whose message says nothing about
 *   the cause; a server-side misconfiguration (`ModelAliasCycle`, `InvalidProviderOptions`) is a 500 with its own
 *   code. `toHttpError` logs the cause of every 500 (the request id is on the log line).
 * Messages never carry a key, a header or a prompt: they come from the typed errors' own `message`, which the
 * providers already scrub, and from Schema issue texts (the expected type, never the received value).
 *
 * `GatewayHttpError` is `HttpServerRespondable`, so an HttpApi handler may fail with it and HttpApi sends it as is.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Schema, SchemaIssue } from "effect"
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
  readonly detail?: string
  readonly reason?: string
  readonly limit?: string
}

const isTagged = (u: unknown): u is Tagged =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string"

/** How a route names the fields of the pipeline's call on its wire (see `fromFailure`). */
export interface WirePaths {
  /** The wire path of a path of the call (`toolChoice.tool` → `tool_choice.function.name`); none: no `param`. */
  readonly param: (path: string) => string | undefined
}

const pathLike = /^[A-Za-z_][\w.[\]]*$/

/** `detail` (`path: message; …`) with each problem's path as the wire names it. */
const wireDetail = (detail: string, paths: WirePaths): string =>
  detail.split("; ").map((problem) => {
    const at = problem.indexOf(": ")
    if (at <= 0 || !pathLike.test(problem.slice(0, at))) return problem
    const wire = paths.param(problem.slice(0, at))
    return wire === undefined ? problem.slice(at + 2) : `${wire}: ${problem.slice(at + 2)}`
  }).join("; ")

const invalidRequest = (failure: Tagged, message: string, paths: WirePaths | undefined): GatewayHttpError => {
  const path = failure.path !== undefined && failure.path !== "" ? failure.path : undefined
  if (paths === undefined || typeof failure.detail !== "string") {
    return httpError(400, "invalid_request_error", message, {
      code: "invalid_value",
      ...(path !== undefined ? { param: path } : {})
    })
  }
  const param = path === undefined ? undefined : paths.param(path)
  return httpError(400, "invalid_request_error", `Invalid request: ${wireDetail(failure.detail, paths)}`, {
    code: "invalid_value",
    ...(param !== undefined ? { param } : {})
  })
}

/**
 * Maps a failure of `Llm`, the agent service or the gateway onto its HTTP error. Unknown values become a 500 that
 * says nothing about them. With `paths`, an `InvalidLlmRequest` names the wire's fields (`param` and message)
 * instead of the call's.
 */
export const fromFailure = (failure: unknown, paths?: WirePaths): GatewayHttpError => {
  if (failure instanceof GatewayHttpError) return failure
  if (!isTagged(failure)) return internalError
  const message = failure.message ?? failure._tag
  switch (failure._tag) {
    case "InvalidLlmRequest":
      return invalidRequest(failure, message, paths)
    case "UnknownModelAlias":
    case "UnknownProvider":
    case "InvalidModelSpec":
    case "ProviderNotFound":
      return httpError(404, "invalid_request_error", message, { code: "model_not_found", param: "model" })
    case "ModelAliasCycle":
      return httpError(500, "server_error", message, { code: "model_alias_cycle" })
    case "InvalidProviderOptions": // the server's configuration: its detail is logged, not sent
      return httpError(500, "server_error", "The provider of this model is misconfigured on the server.", {
        code: "provider_misconfigured"
      })
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
    case "CallDeadlineExceeded":
      return httpError(504, "upstream_error", message, { code: "upstream_timeout" })
    case "StreamLimitExceeded":
      return failure.limit === "size"
        ? httpError(502, "upstream_error", message, { code: "response_too_large" })
        : httpError(504, "upstream_error", message, { code: "upstream_timeout" })
    case "GuardBlocked":
      return httpError(400, "invalid_request_error", message, { code: "content_policy_violation" })
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

/**
 * `fromFailure` as an effect that logs the cause of every 500 (a defect or unknown failure answered with
 * `internal_error`, a server-side misconfiguration): the client's body says nothing about it, the log does.
 */
export const toHttpError = (failure: unknown, paths?: WirePaths): Effect.Effect<GatewayHttpError> => {
  const error = fromFailure(failure, paths)
  if (error.status !== 500 || failure instanceof GatewayHttpError) return Effect.succeed(error)
  return Effect.as(
    Effect.logError("request failed", Cause.fail(failure)).pipe(
      Effect.annotateLogs({ status: 500, code: error.code ?? "" })
    ),
    error
  )
}

/**
 * Mapping a provider's HTTP failure (status, headers, error body) to a typed `ProviderError`, and scrubbing
 * secrets out of every text that goes into an error.
 *
 * Understands both error bodies: OpenAI's `{ error: { message, type, code } }` (also used by Groq, DeepSeek,
 * Mistral, Ollama, vLLM, OpenRouter) and Anthropic's `{ type: "error", error: { type, message } }`, including
 * Anthropic's `overloaded_error` (HTTP 529) and OpenAI's `insufficient_quota` 429. The classification mirrors the
 * SDKs' status-to-class tables plus LiteLLM's message sniffing for context-window and content-policy failures. An
 * error event inside a stream goes through the same table, its `type` or `code` standing for the HTTP status the
 * provider answers that error with (`STREAM_ERROR_STATUS`); one the table does not know is a retryable server error.
 *
 * @since 0.1.0
 */
import { Cause, Exit, Option } from "effect"
import type { Schema } from "effect"
import { maskSecretsUpTo, REDACTED, stripControl } from "./internal/SecretScrub.ts"
import {
  AuthenticationFailed,
  ContentPolicyViolation,
  ContextLengthExceeded,
  MalformedResponse,
  ProviderOverloaded,
  ProviderRateLimited,
  ProviderRejectedRequest,
  ProviderServerError,
  ProviderTimeout,
  QuotaExhausted
} from "./LlmError.ts"
import type { ProviderError } from "./LlmError.ts"
import { invalidRequestFromIssue } from "./LlmRequest.ts"
import { parseRetryAfterMillis } from "./RetryAfter.ts"

/** Longest description kept in an error (after scrubbing). */
export const MAX_DESCRIPTION = 500

/**
 * Removes `secrets` (the call's own key and secret header values), terminal control characters and anything shaped
 * like a credential (`SecretScrub.ts`) from `text`, then cuts it to `max` characters (500 by default) — scrub
 * first, then cut, so no prefix of a key survives the cut. Every provider-derived text that reaches an error, an
 * event, a log or a span goes through here.
 *
 * In order: the known secrets are removed, control characters stripped, the known secrets removed again (one may
 * have hidden behind a control character), and the key-shaped tokens masked — only as far into the text as the cut
 * keeps, plus a margin (`maskSecretsUpTo`), so a megabyte of error body costs its strip, not its masking; the result
 * is the cut of scrubbing it all. Every step is linear in the text.
 *
 * @example
 * ```ts
 * scrubSecrets("Incorrect API key provided: sk-abc123456", ["sk-abc123456"]) // "Incorrect API key provided: <redacted>"
 * ```
 */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<string>, max: number = MAX_DESCRIPTION): string => {
  const known = secrets.filter((secret) => secret.length >= 4)
  const removeKnown = (t: string): string => known.reduce((out, secret) => out.split(secret).join(REDACTED), t)
  const { complete, masked } = maskSecretsUpTo(removeKnown(stripControl(removeKnown(text))), max)
  return !complete || masked.length > max ? `${masked.slice(0, max)}…` : masked
}

/** The interesting fields of a provider error body. */
export interface ErrorBody {
  readonly type?: string
  readonly code?: string
  readonly message?: string
}

const str = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" ? String(u) : undefined

/** Reads `{ error: { type, code, message } }` (OpenAI and Anthropic shapes alike) from a parsed body. */
export const readErrorBody = (json: unknown): ErrorBody => {
  if (typeof json !== "object" || json === null) return {}
  // a non-null object (checked above), read by field
  const record = json as Record<string, unknown>
  const inner = record["error"]
  // a non-null object (checked in the same expression), read by field
  const source = typeof inner === "object" && inner !== null ? inner as Record<string, unknown> : record
  const type = str(source["type"])
  const code = str(source["code"])
  const message = str(source["message"]) ?? (typeof inner === "string" ? inner : undefined)
  return {
    ...(type !== undefined ? { type } : {}),
    ...(code !== undefined ? { code } : {}),
    ...(message !== undefined ? { message } : {})
  }
}

const parseBody = (text: string): ErrorBody => {
  try {
    return readErrorBody(JSON.parse(text))
  } catch {
    return {}
  }
}

const CONTEXT_LENGTH =
  /context[_ ]length|context window|maximum context|prompt is too long|too many tokens|exceeds? the context|input length and `?max_tokens`? exceed/i
const CONTENT_POLICY = /content[_ ]policy|content[_ ]filter|safety system|flagged|moderation/i

/** Whether an error body describes a context-window overflow. */
export const isContextLengthBody = (body: ErrorBody): boolean =>
  body.code === "context_length_exceeded" || CONTEXT_LENGTH.test(`${body.code ?? ""} ${body.message ?? ""}`)

/** Whether an error body describes a content-policy refusal. */
export const isContentPolicyBody = (body: ErrorBody): boolean =>
  body.code === "content_policy_violation" || body.code === "content_filter" ||
  CONTENT_POLICY.test(`${body.code ?? ""} ${body.message ?? ""}`)

/** Inputs of {@link errorFromHttp}. */
export interface HttpFailure {
  readonly provider: string
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly bodyText: string
  readonly nowMillis: number
  /** Secret values to scrub from the description (the API key, secret header values). */
  readonly secrets: ReadonlyArray<string>
  /** The request timeout, reported by a 408. */
  readonly timeoutMillis: number
}

/** The provider's `x-should-retry` verdict (`true` / `false`), as the official SDKs read it, else `undefined`. */
export const shouldRetryHeader = (headers: Readonly<Record<string, string | undefined>>): boolean | undefined => {
  let value = headers["x-should-retry"]
  if (value === undefined) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === "x-should-retry") value = headers[key]
  }
  const v = value?.trim().toLowerCase()
  return v === "true" ? true : v === "false" ? false : undefined
}

/**
 * Classifies a non-2xx answer. Whether it is retryable follows the official SDKs: `x-should-retry: true` / `false`
 * wins; otherwise 408, 409, 429 and 5xx are retryable and the rest are not — except an exhausted quota (OpenAI's
 * 429 `insufficient_quota`, HTTP 402), which is never retried, whatever the header says.
 *
 * @example
 * ```ts
 * errorFromHttp({ provider: "openai", status: 429, headers: { "retry-after": "3" }, bodyText: "{}", nowMillis: 0, secrets: [], timeoutMillis: 60000 })
 * // ProviderRateLimited { retryAfterMillis: 3000, retryable: true }
 * ```
 */
export const errorFromHttp = (failure: HttpFailure): ProviderError => {
  const { provider, status } = failure
  const body = parseBody(failure.bodyText)
  const raw = body.message ?? (failure.bodyText.trim() === "" ? `HTTP ${status}` : failure.bodyText)
  const retryAfterMillis = parseRetryAfterMillis(failure.headers, failure.nowMillis)
  return classify(status, body, {
    base: { provider, status, description: scrubSecrets(raw, failure.secrets) },
    retryAfter: retryAfterMillis !== undefined ? { retryAfterMillis } : {},
    verdict: shouldRetryHeader(failure.headers),
    timeoutMillis: failure.timeoutMillis
  })
}

/** What {@link classify} puts into the error beside the class. */
interface Classified {
  readonly base: { readonly provider: string; readonly status?: number; readonly description: string }
  readonly retryAfter: { readonly retryAfterMillis?: number }
  /** `x-should-retry`, when the provider sent it */
  readonly verdict: boolean | undefined
  readonly timeoutMillis: number
}

/** The class of a failure answered with `status` and `body`: the table of {@link errorFromHttp}. */
const classify = (status: number, body: ErrorBody, c: Classified): ProviderError => {
  const { base, retryAfter } = c
  const retryable = (byStatus: boolean): boolean => c.verdict ?? byStatus
  if (body.type === "overloaded_error" || status === 529 || status === 503) {
    return new ProviderOverloaded({ ...base, ...retryAfter, retryable: retryable(true) })
  }
  if (status === 429) {
    if (body.code === "insufficient_quota" || body.type === "insufficient_quota") {
      return new QuotaExhausted({ ...base, retryable: false })
    }
    return new ProviderRateLimited({ ...base, ...retryAfter, retryable: retryable(true) })
  }
  if (status === 402) return new QuotaExhausted({ ...base, retryable: false })
  if (status === 401) return new AuthenticationFailed({ ...base, kind: "InvalidKey", retryable: retryable(false) })
  if (status === 403) {
    return new AuthenticationFailed({ ...base, kind: "InsufficientPermissions", retryable: retryable(false) })
  }
  if (status === 408) {
    return new ProviderTimeout({ ...base, timeoutMillis: c.timeoutMillis, retryable: retryable(true) })
  }
  // 409 Conflict: retried by both SDKs (a concurrent request on the same resource; the next try usually succeeds)
  if (status === 409) return new ProviderRejectedRequest({ ...base, retryable: retryable(true) })
  if (status >= 500) return new ProviderServerError({ ...base, retryable: retryable(true) })
  if (status >= 400) {
    if (isContextLengthBody(body)) return new ContextLengthExceeded({ ...base, retryable: retryable(false) })
    if (isContentPolicyBody(body)) return new ContentPolicyViolation({ ...base, retryable: retryable(false) })
    return new ProviderRejectedRequest({ ...base, retryable: retryable(false) })
  }
  if (status >= 300) {
    return new ProviderRejectedRequest({
      ...base,
      description: `redirect (HTTP ${status}) not followed: provider requests never follow redirects, so the key ` +
        `and the prompt are never sent to another origin; set the provider's baseUrl to the final URL`,
      retryable: false
    })
  }
  return new MalformedResponse({ ...base, description: `unexpected HTTP status ${status}`, retryable: false })
}

/**
 * The HTTP status each documented error `type` or `code` is answered with, by which an error inside a stream is
 * classified as the same error over HTTP: Anthropic's types (https://docs.anthropic.com/en/api/errors), OpenAI's
 * types and codes (https://platform.openai.com/docs/guides/error-codes), and the generic names of OpenAI-compatible
 * servers (Groq, vLLM, LiteLLM).
 */
export const STREAM_ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  context_length_exceeded: 400,
  content_policy_violation: 400,
  authentication_error: 401,
  invalid_api_key: 401,
  billing_error: 402,
  billing_hard_limit_reached: 402,
  permission_error: 403,
  unsupported_country_region_territory: 403,
  not_found_error: 404,
  model_not_found: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  rate_limit_exceeded: 429,
  insufficient_quota: 429,
  api_error: 500,
  server_error: 500,
  internal_server_error: 500,
  internal_error: 500,
  service_unavailable: 503,
  timeout_error: 504,
  overloaded_error: 529
}

/**
 * The HTTP status a stream error stands for: its `code` first (the more specific of the two in OpenAI's errors), a
 * numeric one (OpenRouter, vLLM: `code: 429`) as the status it names, then its `type`; `undefined` when the table
 * knows neither. A 408 is read as 504 (the provider's own timeout: a stream error has no request timeout to report).
 */
const streamStatus = (body: ErrorBody): number | undefined => {
  const byName = (name: string | undefined): number | undefined =>
    name !== undefined && Object.hasOwn(STREAM_ERROR_STATUS, name) ? STREAM_ERROR_STATUS[name] : undefined
  const numeric = body.code !== undefined && /^[45]\d\d$/.test(body.code) ? Number(body.code) : undefined
  const status = byName(body.code) ?? numeric ?? byName(body.type)
  return status === 408 ? 504 : status
}

/**
 * Classifies an error event inside a 200 stream (Anthropic's `event: error`, an OpenAI chunk with `error`), which
 * has no HTTP status of its own, by the table of {@link errorFromHttp}: its `type` or `code` stands for the status
 * the provider answers that error with over HTTP (`STREAM_ERROR_STATUS`), so `insufficient_quota`, `billing_error`,
 * `not_found_error`, `request_too_large`, `authentication_error`, `permission_error` and `invalid_request_error` are
 * as permanent in a stream as over HTTP. An error the table does not know — no `type` (a proxy's flat `{ message }`)
 * or a new one — is a retryable `ProviderServerError`, the class of an HTTP 5xx: the provider accepted the request
 * (it answered 200) and failed while answering, and the official SDKs give no other verdict (they raise a plain
 * `APIError` for any stream error); unless its message names a context overflow or a content-policy refusal, which
 * no retry changes.
 */
export const errorFromStreamEvent = (
  provider: string,
  json: unknown,
  secrets: ReadonlyArray<string>
): ProviderError => {
  const body = readErrorBody(json)
  const description = scrubSecrets(body.message ?? body.type ?? "error event in stream", secrets)
  const status = streamStatus(body) ?? (isContextLengthBody(body) || isContentPolicyBody(body) ? 400 : 500)
  return classify(status, body, {
    base: { provider, description },
    retryAfter: {},
    verdict: undefined,
    timeoutMillis: 0
  })
}

/** A `MalformedResponse` naming the bad field of a failed wire decode. */
export const malformedFrom = (
  provider: string,
  what: string,
  exit: Exit.Exit<unknown, Schema.SchemaError>
): MalformedResponse => {
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  const detail = Option.match(error, {
    onNone: () => "unexpected shape",
    onSome: (e) => {
      return invalidRequestFromIssue(e.issue).detail
    }
  })
  // a Schema issue can quote the offending value, which is provider-derived: scrub it like any other text
  return new MalformedResponse({ provider, description: scrubSecrets(`${what}: ${detail}`, []), retryable: false })
}

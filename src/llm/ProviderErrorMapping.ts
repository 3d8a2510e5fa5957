/**
 * Mapping a provider's HTTP failure (status, headers, error body) to a typed `ProviderError`, and scrubbing
 * secrets out of every text that goes into an error.
 *
 * Understands both error bodies: OpenAI's `{ error: { message, type, code } }` (also used by Groq, DeepSeek,
 * Mistral, Ollama, vLLM, OpenRouter) and Anthropic's `{ type: "error", error: { type, message } }`, including
 * Anthropic's `overloaded_error` (HTTP 529) and OpenAI's `insufficient_quota` 429. The classification mirrors the
 * SDKs' status-to-class tables plus LiteLLM's message sniffing for context-window and content-policy failures.
 *
 * @since 0.1.0
 */
import { Cause, Exit, Option } from "effect"
import type { Schema } from "effect"
import { REDACTED, sanitize } from "./internal/SecretScrub.ts"
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
 * @example
 * ```ts
 * scrubSecrets("Incorrect API key provided: sk-abc123456", ["sk-abc123456"]) // "Incorrect API key provided: <redacted>"
 * ```
 */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<string>, max: number = MAX_DESCRIPTION): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  out = sanitize(out)
  // a secret may also hide behind control characters that were just stripped
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  return out.length > max ? `${out.slice(0, max)}…` : out
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
  const description = scrubSecrets(raw, failure.secrets)
  const base = { provider, status, description }
  const retryAfterMillis = parseRetryAfterMillis(failure.headers, failure.nowMillis)
  const retryAfter = retryAfterMillis !== undefined ? { retryAfterMillis } : {}
  const verdict = shouldRetryHeader(failure.headers)
  const retryable = (byStatus: boolean): boolean => verdict ?? byStatus

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
    return new ProviderTimeout({ ...base, timeoutMillis: failure.timeoutMillis, retryable: retryable(true) })
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
 * Classifies an error event inside a 200 stream (Anthropic's `event: error`, an OpenAI chunk with `error`), which
 * has no HTTP status of its own.
 */
export const errorFromStreamEvent = (
  provider: string,
  json: unknown,
  secrets: ReadonlyArray<string>
): ProviderError => {
  const body = readErrorBody(json)
  const description = scrubSecrets(body.message ?? body.type ?? "error event in stream", secrets)
  const base = { provider, description }
  switch (body.type) {
    case "overloaded_error":
      return new ProviderOverloaded({ ...base, retryable: true })
    case "rate_limit_error":
      return new ProviderRateLimited({ ...base, retryable: true })
    case "authentication_error":
      return new AuthenticationFailed({ ...base, kind: "InvalidKey", retryable: false })
    case "permission_error":
      return new AuthenticationFailed({ ...base, kind: "InsufficientPermissions", retryable: false })
    case "invalid_request_error":
      if (isContextLengthBody(body)) return new ContextLengthExceeded({ ...base, retryable: false })
      if (isContentPolicyBody(body)) return new ContentPolicyViolation({ ...base, retryable: false })
      return new ProviderRejectedRequest({ ...base, retryable: false })
    default:
      if (isContentPolicyBody(body)) return new ContentPolicyViolation({ ...base, retryable: false })
      return new ProviderServerError({ ...base, retryable: true })
  }
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

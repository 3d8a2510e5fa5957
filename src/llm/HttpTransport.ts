/**
 * The HTTP side shared by the OpenAI-compatible and Anthropic providers: POST a JSON body, read a JSON answer or
 * an SSE stream, with a timeout, and every failure mapped to a typed `ProviderError`.
 *
 * Built on effect's `HttpClient` (any implementation: `NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, …),
 * whose requests carry an `AbortSignal` that fires when the calling fiber is interrupted — so `Effect.timeout`,
 * `Fiber.interrupt` or a consumer that stops pulling a stream all close the connection. SSE parsing is effect's
 * `Sse.decode` channel. The timeout covers a whole non-streaming call; for a stream it covers the wait for the
 * response headers and then the wait for each next chunk (an idle timeout, like the SDKs' `timeout`).
 *
 * Secrets: header values are kept `Redacted` until the request is built, `HttpClientError`s (which reference the
 * request, headers included) are never stored in our errors, and descriptions go through `scrubSecrets`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Redacted, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { HttpClientError, HttpClientResponse } from "effect/http"
import type { ProviderError } from "./LlmError.ts"
import { MalformedResponse, ProviderConnectionError, ProviderRejectedRequest, ProviderTimeout } from "./LlmError.ts"
import { errorFromHttp, scrubSecrets } from "./ProviderErrorMapping.ts"

/** One POST to a provider. */
export interface ProviderPost {
  readonly provider: string
  /** Absolute URL. */
  readonly url: string
  /** Request headers; values stay `Redacted` until the request is sent. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string> | string>>
  readonly body: unknown
  readonly timeoutMillis: number
}

/** The secret values of a post's headers (a `Bearer` token also without its prefix), for scrubbing. */
export const secretsOf = (post: ProviderPost): ReadonlyArray<string> =>
  Object.values(post.headers).flatMap((v) => {
    if (!Redacted.isRedacted(v)) return []
    const value = Redacted.value(v)
    return value.startsWith("Bearer ") ? [value, value.slice(7)] : [value]
  })

const describeClientError = (error: HttpClientError.HttpClientError, secrets: ReadonlyArray<string>): string => {
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : undefined
  const causeText = cause instanceof Error ? cause.message : cause === undefined ? "" : String(cause)
  const text = reason.description ?? (causeText !== "" ? causeText : reason._tag)
  return scrubSecrets(text, secrets)
}

/** Maps an `HttpClientError` (never stored: it references the request and its headers). */
const fromClientError = (
  provider: string,
  error: HttpClientError.HttpClientError,
  secrets: ReadonlyArray<string>
): ProviderError => {
  const description = describeClientError(error, secrets)
  switch (error.reason._tag) {
    case "InvalidUrlError":
    case "EncodeError":
      return new ProviderRejectedRequest({ provider, description, retryable: false })
    default:
      return new ProviderConnectionError({ provider, description, retryable: true })
  }
}

const buildRequest = (post: ProviderPost): HttpClientRequest.HttpClientRequest => {
  const headers: Record<string, string> = { "content-type": "application/json" }
  for (const [name, value] of Object.entries(post.headers)) {
    headers[name] = Redacted.isRedacted(value) ? Redacted.value(value) : value
  }
  return HttpClientRequest.post(post.url).pipe(
    HttpClientRequest.setHeaders(headers),
    HttpClientRequest.bodyText(JSON.stringify(post.body), "application/json")
  )
}

const timeoutError = (post: ProviderPost, what: string) =>
  new ProviderTimeout({
    provider: post.provider,
    description: `no ${what} within ${post.timeoutMillis} ms; request aborted`,
    timeoutMillis: post.timeoutMillis,
    retryable: true
  })

/** Sends the POST; a non-2xx answer fails with the mapped `ProviderError` (its body read for the description). */
const send = (
  client: HttpClient.HttpClient,
  post: ProviderPost,
  secrets: ReadonlyArray<string>
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError> =>
  client.execute(buildRequest(post)).pipe(
    Effect.mapError((e) => fromClientError(post.provider, e, secrets)),
    Effect.flatMap((response) => {
      if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
      return Effect.gen(function*() {
        const bodyText = yield* Effect.orElseSucceed(response.text, () => "")
        const nowMillis = yield* Clock.currentTimeMillis
        return yield* Effect.fail(errorFromHttp({
          provider: post.provider,
          status: response.status,
          headers: response.headers,
          bodyText,
          nowMillis,
          secrets,
          timeoutMillis: post.timeoutMillis
        }))
      })
    })
  )

/**
 * POSTs `body` and parses the JSON answer (the whole call bounded by `timeoutMillis`).
 *
 * @example
 * ```ts
 * const json = yield* postJson(client, { provider: "openai", url, headers: { authorization: key }, body, timeoutMillis: 60_000 })
 * ```
 */
export const postJson = (client: HttpClient.HttpClient, post: ProviderPost): Effect.Effect<unknown, ProviderError> => {
  const secrets = secretsOf(post)
  return send(client, post, secrets).pipe(
    Effect.flatMap((response) =>
      response.text.pipe(Effect.mapError((e) => fromClientError(post.provider, e, secrets)))
    ),
    Effect.flatMap((text) =>
      Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: () =>
          new MalformedResponse({
            provider: post.provider,
            status: 200,
            description: `response body is not JSON: ${scrubSecrets(text.slice(0, 120), secrets)}`,
            retryable: false
          })
      })
    ),
    Effect.timeoutOrElse({ duration: post.timeoutMillis, orElse: () => Effect.fail(timeoutError(post, "answer")) })
  )
}

/**
 * POSTs `body` and streams the SSE events of the answer. The wait for headers and for each next chunk is bounded
 * by `timeoutMillis`; stopping the consumer aborts the request.
 */
export const postSse = (client: HttpClient.HttpClient, post: ProviderPost): Stream.Stream<Sse.Event, ProviderError> => {
  const secrets = secretsOf(post)
  return Stream.unwrap(
    send(client, post, secrets).pipe(
      Effect.timeoutOrElse({ duration: post.timeoutMillis, orElse: () => Effect.fail(timeoutError(post, "headers")) }),
      Effect.map((response) =>
        response.stream.pipe(
          Stream.mapError((e): ProviderError => fromClientError(post.provider, e, secrets)),
          Stream.decodeText(),
          Stream.pipeThroughChannel(Sse.decode()),
          Stream.mapError((e): ProviderError =>
            "_tag" in e && (e._tag === "Retry" || e._tag === "SseError")
              ? new ProviderConnectionError({
                provider: post.provider,
                description: `bad SSE stream: ${e._tag}`,
                retryable: true
              })
              : e as ProviderError
          ),
          Stream.timeoutOrElse({
            duration: post.timeoutMillis,
            orElse: () => Stream.fail(timeoutError(post, "stream chunk"))
          })
        )
      )
    )
  )
}

/**
 * The HTTP side shared by the OpenAI-compatible and Anthropic providers: POST a JSON body, read a JSON answer or
 * an SSE stream, with a timeout, and every failure mapped to a typed `ProviderError`.
 *
 * Built on effect's `HttpClient` (any implementation: `NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, …),
 * whose requests carry an `AbortSignal` that fires when the calling fiber is interrupted — so `Effect.timeout`,
 * `Fiber.interrupt` or a consumer that stops pulling a stream all close the connection. SSE parsing is effect's
 * `Sse.makeParser`; the providers' streams go from body bytes to parts in one stage (`SseFold`). The timeout covers a
 * whole non-streaming call; for a stream it covers the wait for the response headers and then the wait for each next
 * event (an idle timeout, like the SDKs' `timeout`).
 *
 * Secrets: header values are kept `Redacted` until the request is built, `HttpClientError`s (which reference the
 * request, headers included) are never stored in our errors, and every provider-derived text goes through
 * `scrubSecrets` (known secrets, control characters, key-shaped tokens) before it is cut.
 *
 * The body of a non-2xx answer is read for its description only up to `ERROR_BODY_MAX_BYTES` (64 KiB).
 *
 * Redirects are never followed, on every client: undici's and node's clients do not follow them, and the fetch
 * client is given `redirect: "manual"` for provider requests, so a 3xx answer (a proxy or a hijacked DNS sending the
 * request to another host) fails with a typed, non-retryable `ProviderRejectedRequest` instead of forwarding the
 * key and the prompt. Effect's trace propagation headers (`traceparent`, `b3`) are not sent to the provider unless
 * the post asks for them (`propagateTrace`). A gzip- or deflate-encoded body is decoded when the client has not
 * done it already (undici's and node's clients do not; fetch does — told apart by the body's first byte). The SSE
 * parser is effect's, except that a `retry:` field (a reconnection hint) is ignored instead of failing the stream.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Redacted, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import type { HttpClientError, HttpClientResponse } from "effect/http"
import type { ProviderError } from "../LlmError.ts"
import { MalformedResponse, ProviderConnectionError, ProviderRejectedRequest, ProviderTimeout } from "../LlmError.ts"
import { errorFromHttp, scrubSecrets } from "../ProviderErrorMapping.ts"
import type { SseFoldState } from "./SseFold.ts"
import { foldSse } from "./SseFold.ts"

/** One POST to a provider. */
export interface ProviderPost {
  readonly provider: string
  /** Absolute URL. */
  readonly url: string
  /** Request headers; values stay `Redacted` until the request is sent. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string> | string>>
  readonly body: unknown
  readonly timeoutMillis: number
  /** Send effect's trace propagation headers (`traceparent`, `b3`) to the provider. Default `false`. */
  readonly propagateTrace?: boolean
}

/** The secret values of a post's headers (a `Bearer` token also without its prefix), for scrubbing. */
export const secretsOf = (post: ProviderPost): ReadonlyArray<string> => [
  ...Object.values(post.headers).flatMap((v) => {
    if (!Redacted.isRedacted(v)) return []
    const value = Redacted.value(v)
    return value.startsWith("Bearer ") ? [value, value.slice(7)] : [value]
  }),
  ...queryCredentials(post.url)
]

/**
 * Query parameter names that carry credentials (`?key=` as Gemini's REST API takes it, `api-key`, `access_token`,
 * signatures, …), beside effect's own defaults (the OpenTelemetry `url.full` list). Their values are sent as
 * `Redacted` URL parameters, so the HTTP client's spans (`url.full`, `url.query`) and errors never show them, and
 * they are scrubbed from every error we build.
 */
export const CREDENTIAL_QUERY_NAMES: ReadonlyArray<string | RegExp> = [
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
  "AWSAccessKeyId",
  "Signature",
  "sig",
  "X-Goog-Signature",
  /^(?:x-)?(?:api[-_]?key|key|(?:access|auth|id|refresh)[-_]?token|token|auth|authorization|secret|client[-_]?secret|password|passwd|pwd|signature|code)$/i
]

const isCredentialName = (name: string): boolean =>
  CREDENTIAL_QUERY_NAMES.some((n) => (typeof n === "string" ? n.toLowerCase() === name.toLowerCase() : n.test(name)))

/** A URL split into the part before its query string and its query parameters, credential-named ones Redacted. */
const splitQuery = (url: string): {
  readonly path: string
  readonly params: ReadonlyArray<readonly [string, string | Redacted.Redacted<string>]>
} => {
  const at = url.indexOf("?")
  if (at < 0) return { path: url, params: [] }
  const params = [...new URLSearchParams(url.slice(at + 1))].map(([name, value]) =>
    [name, isCredentialName(name) ? Redacted.make(value) : value] as const
  )
  return { path: url.slice(0, at), params }
}

/** The values of credential-named query parameters of `url`. */
const queryCredentials = (url: string): ReadonlyArray<string> =>
  splitQuery(url).params.flatMap(([, value]) => {
    if (!Redacted.isRedacted(value)) return []
    const secret = Redacted.value(value)
    return secret === "" ? [] : [secret]
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
  // the query string goes in as URL parameters, credential-named ones Redacted: effect's client then redacts them
  // in the span (`url.full`, `url.query`) and leaves them out of its errors' messages, whatever fiber renders them
  const { path, params } = splitQuery(post.url)
  return HttpClientRequest.post(path).pipe(
    HttpClientRequest.setUrlParams(params),
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

const decompressionFormat = (response: HttpClientResponse.HttpClientResponse): "gzip" | "deflate" | undefined => {
  const encoding = (response.headers["content-encoding"] ?? "").trim().toLowerCase()
  return encoding === "gzip" || encoding === "x-gzip" ? "gzip" : encoding === "deflate" ? "deflate" : undefined
}

/**
 * `source` decoded with `format` if it is still encoded: a gzip body starts with `0x1f`, a zlib (deflate) body with
 * `0x78`; neither can start a JSON or SSE body, so a body the client already decoded (fetch) passes through.
 */
const decodeIfEncoded = (
  source: ReadableStream<Uint8Array>,
  format: "gzip" | "deflate"
): ReadableStream<Uint8Array> => {
  const reader = source.getReader()
  let inner: ReadableStreamDefaultReader<Uint8Array> | undefined
  const open = async (): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
    let first = await reader.read()
    while (!first.done && first.value.length === 0) first = await reader.read()
    const head = first.done ? undefined : first.value
    const rest = new ReadableStream<Uint8Array>({
      start(controller) {
        if (head !== undefined) controller.enqueue(head)
        if (first.done) controller.close()
      },
      async pull(controller) {
        if (first.done) return
        const next = await reader.read()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      cancel: (reason) => reader.cancel(reason)
    })
    const magic = format === "gzip" ? 0x1f : 0x78
    const encoded = head !== undefined && head[0] === magic
    // Uint8Array<ArrayBufferLike> vs the BufferSource the DOM typing of DecompressionStream wants: same bytes
    return (encoded
      ? rest.pipeThrough(new DecompressionStream(format) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>)
      : rest)
      .getReader()
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      inner ??= await open()
      const next = await inner.read()
      if (next.done) controller.close()
      else controller.enqueue(next.value)
    },
    cancel: (reason) => (inner ?? reader).cancel(reason)
  })
}

/** The response body as bytes, decompressed when it is still gzip/deflate-encoded. */
const bodyStream = (
  response: HttpClientResponse.HttpClientResponse,
  provider: string,
  secrets: ReadonlyArray<string>
): Stream.Stream<Uint8Array, ProviderError> => {
  const raw = response.stream.pipe(Stream.mapError((e): ProviderError => fromClientError(provider, e, secrets)))
  const format = decompressionFormat(response)
  if (format === undefined) return raw
  return Stream.unwrap(
    Stream.toReadableStreamEffect(raw).pipe(
      Effect.map((readable) =>
        Stream.fromReadableStream({
          evaluate: () => decodeIfEncoded(readable, format),
          onError: (cause): ProviderError =>
            isProviderErrorLike(cause)
              ? cause
              : new MalformedResponse({
                provider,
                description: `cannot decode the ${format}-encoded body: ${
                  scrubSecrets(cause instanceof Error ? cause.message : String(cause), secrets)
                }`,
                retryable: false
              })
        })
      )
    )
  )
}

const isProviderErrorLike = (u: unknown): u is ProviderError =>
  typeof u === "object" && u !== null && "_tag" in u && "provider" in u && "retryable" in u

/** The whole body as UTF-8 text (decompressed when needed). */
const readText = (
  response: HttpClientResponse.HttpClientResponse,
  provider: string,
  secrets: ReadonlyArray<string>
): Effect.Effect<string, ProviderError> =>
  decompressionFormat(response) === undefined
    ? response.text.pipe(Effect.mapError((e) => fromClientError(provider, e, secrets)))
    : bodyStream(response, provider, secrets).pipe(Stream.decodeText(), Stream.mkString)

/**
 * How much of a non-2xx answer's body is read for its description (64 KiB): an error body is a few hundred bytes,
 * and the description is cut far shorter; reading stops there and the connection is given up, so an endless or
 * huge error body never holds the call or its memory.
 */
export const ERROR_BODY_MAX_BYTES = 64 * 1024

/** The first `ERROR_BODY_MAX_BYTES` of the body as UTF-8 text (decompressed when needed), for a description. */
const readErrorText = (
  response: HttpClientResponse.HttpClientResponse,
  provider: string,
  secrets: ReadonlyArray<string>
): Effect.Effect<string, ProviderError> =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let bytes = 0
    return Stream.runForEachWhile(bodyStream(response, provider, secrets), (chunk) =>
      Effect.sync(() => {
        const room = ERROR_BODY_MAX_BYTES - bytes
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
        bytes += Math.min(chunk.length, room)
        return bytes < ERROR_BODY_MAX_BYTES
      })).pipe(Effect.map(() => Buffer.concat(chunks).toString("utf8")))
  })

/** Sends the POST; a non-2xx answer fails with the mapped `ProviderError` (its body read for the description). */
const send = (
  client: HttpClient.HttpClient,
  post: ProviderPost,
  secrets: ReadonlyArray<string>
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError> =>
  Effect.serviceOption(FetchHttpClient.RequestInit).pipe(
    Effect.flatMap((init) =>
      client.execute(buildRequest(post)).pipe(
        // fetch follows redirects by default (and forwards x-api-key and the body to the new host): never
        Effect.provideService(FetchHttpClient.RequestInit, { ...Option.getOrUndefined(init), redirect: "manual" }),
        Effect.provideService(HttpClient.TracerPropagationEnabled, post.propagateTrace === true)
      )
    ),
    Effect.mapError((e) => fromClientError(post.provider, e, secrets)),
    Effect.flatMap((response) => {
      if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
      return Effect.gen(function*() {
        const bodyText = yield* Effect.orElseSucceed(readErrorText(response, post.provider, secrets), () => "")
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
    Effect.flatMap((response) => readText(response, post.provider, secrets)),
    Effect.flatMap((text) =>
      Effect.try({
        try: (): unknown => JSON.parse(text),
        catch: () =>
          new MalformedResponse({
            provider: post.provider,
            status: 200,
            // scrub first, then cut: a cut before the scrub would leave a prefix of a key the patterns miss
            description: `response body is not JSON: ${scrubSecrets(text, secrets, 120)}`,
            retryable: false
          })
      })
    ),
    Effect.timeoutOrElse({ duration: post.timeoutMillis, orElse: () => Effect.fail(timeoutError(post, "answer")) })
  )
}

/**
 * How long a provider's SSE body is read on after its terminal event for its end (see `SseFold`: this long in all,
 * however often keep-alives or pings keep arriving): a body read to its end keeps its keep-alive connection; one that
 * does not end in this time is aborted as before.
 */
export const SSE_END_GRACE_MILLIS = 250

/**
 * POSTs `body` and folds the SSE events of the answer into parts with `state` in one stream stage (`SseFold`, the
 * providers' hot path): the wait for headers and for each next event is bounded by `timeoutMillis`, the body is read
 * on for at most `SSE_END_GRACE_MILLIS` after the terminal event, and stopping the consumer aborts the request.
 */
export const postSseParts = <P>(
  client: HttpClient.HttpClient,
  post: ProviderPost,
  state: SseFoldState<P>
): Stream.Stream<P, ProviderError> => {
  const secrets = secretsOf(post)
  return Stream.unwrap(
    send(client, post, secrets).pipe(
      Effect.timeoutOrElse({ duration: post.timeoutMillis, orElse: () => Effect.fail(timeoutError(post, "headers")) }),
      Effect.map((response) =>
        foldSse(bodyStream(response, post.provider, secrets), state, {
          provider: post.provider,
          idleMillis: post.timeoutMillis,
          onIdle: () => timeoutError(post, "stream chunk"),
          graceMillis: SSE_END_GRACE_MILLIS
        })
      )
    )
  )
}

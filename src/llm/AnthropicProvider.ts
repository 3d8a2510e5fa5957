/**
 * The Anthropic Messages provider: `POST {baseUrl}/messages` with `x-api-key` and `anthropic-version`.
 *
 * `generate` decodes the JSON answer; `stream` sends `stream: true` and folds the SSE events (`AnthropicWire.ts`).
 * Failures are typed `ProviderError`s — including HTTP 529 and the in-stream `overloaded_error` event as
 * `ProviderOverloaded`. Timeout, abort-on-interrupt and secret handling come from `HttpTransport.ts`. Built on
 * effect's `HttpClient`; no SDK (`@effect/ai-anthropic` does not load with effect 4.1).
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import type { Redacted } from "effect"
import { HttpClient } from "effect/http"
import { AnthropicStreamState, decodeAnthropicResponse, encodeAnthropicBody } from "./internal/AnthropicWire.ts"
import type { ProviderPost } from "./internal/HttpTransport.ts"
import { postJson, postSseParts, secretsOf } from "./internal/HttpTransport.ts"
import type { InvalidProviderOptions, ProviderError } from "./LlmError.ts"
import type { LlmCallOptions, LlmProviderShape } from "./LlmProvider.ts"
import { LlmProvider } from "./LlmProvider.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import type { HttpProviderOptions, ResolvedHttpProvider } from "./ProviderOptions.ts"
import { callSettings, endpointUrl, httpProviderMaker } from "./ProviderOptions.ts"

const DEFAULTS = { name: "anthropic", baseUrl: "https://api.anthropic.com/v1" } as const

/** The API version header sent with every request. */
export const ANTHROPIC_VERSION = "2023-06-01"

const makePost = (
  provider: ResolvedHttpProvider,
  request: LlmRequest,
  options: LlmCallOptions | undefined,
  stream: boolean
): Effect.Effect<ProviderPost, ProviderError> => {
  const { apiKey, timeoutMillis } = callSettings(provider, options)
  const headers: Record<string, Redacted.Redacted<string> | string> = {
    "anthropic-version": ANTHROPIC_VERSION,
    ...provider.headers
  }
  if (apiKey !== undefined) headers["x-api-key"] = apiKey
  if (stream) headers["accept"] = "text/event-stream"
  return encodeAnthropicBody(request, stream, provider.name).pipe(Effect.map((body) => ({
    provider: provider.name,
    url: endpointUrl(provider, "/messages"),
    headers,
    body,
    timeoutMillis,
    propagateTrace: provider.propagateTrace
  })))
}

/** Builds the provider over an already-resolved configuration. */
export const makeResolved = (client: HttpClient.HttpClient, provider: ResolvedHttpProvider): LlmProviderShape => ({
  name: provider.name,
  api: "anthropic",
  generate: (request, options) =>
    makePost(provider, request, options, false).pipe(
      Effect.flatMap((post) => postJson(client, post)),
      Effect.flatMap((json) => decodeAnthropicResponse(provider.name, request, json))
    ),
  stream: (request, options) =>
    Stream.unwrap(Effect.map(makePost(provider, request, options, true), (post) => {
      const state = new AnthropicStreamState(provider.name, request, secretsOf(post))
      // one stage from bytes to parts (SseFold); the body is read to its end after the terminal event, as the SDK does
      return postSseParts(client, post, state)
    }))
})

/**
 * An Anthropic Messages provider (needs an `HttpClient`). Fails with `InvalidProviderOptions` (naming the field) when
 * `name` is not `[A-Za-z0-9][A-Za-z0-9_.-]*`, `baseUrl` is not an absolute http(s) URL or carries `user:password@`
 * credentials, `apiKey` is not `Redacted`, `timeout` is not a positive duration, a header name is not an HTTP token or
 * a header value neither a string nor `Redacted`, or `propagateTrace` is not a boolean.
 *
 * @example
 * ```ts
 * const claude = yield* AnthropicProvider.make({ apiKey: Redacted.make(process.env.ANTHROPIC_API_KEY ?? "") })
 * const answer = yield* claude.generate({ model: "claude-3-5-haiku-latest", messages: [{ role: "user", content: "hi" }] })
 * ```
 */
export const make: (
  options?: HttpProviderOptions
) => Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient> = httpProviderMaker(
  DEFAULTS,
  makeResolved
)

/**
 * A layer providing `LlmProvider` as an Anthropic provider. Fails to build with `InvalidProviderOptions` when `options`
 * fail `make`'s checks (a bad name, base URL, key, timeout, header or `propagateTrace`).
 */
export const layer = (
  options: HttpProviderOptions = {}
): Layer.Layer<LlmProvider, InvalidProviderOptions, HttpClient.HttpClient> => Layer.effect(LlmProvider, make(options))

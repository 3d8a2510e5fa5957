/**
 * The OpenAI-compatible chat-completions provider: OpenAI, Groq, DeepSeek, Mistral, xAI, Ollama, vLLM, OpenRouter,
 * LiteLLM proxies — any server speaking `POST {baseUrl}/chat/completions`.
 *
 * `generate` sends one request and decodes the JSON answer; `embed` posts to `{baseUrl}/embeddings` (`Embeddings.ts`); `stream` sends `stream: true` with
 * `stream_options.include_usage` and folds the SSE chunks (`OpenAiWire.ts`). Auth is `Authorization: Bearer <key>`
 * (omitted when there is no key, for local servers). Failures are typed `ProviderError`s (`ProviderErrorMapping.ts`);
 * the timeout, abort-on-interrupt and secret handling come from `HttpTransport.ts`. Built on effect's `HttpClient`
 * (provide `NodeHttpClient.layerUndici` or `FetchHttpClient.layer`); no SDK.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Redacted, Stream } from "effect"
import { HttpClient } from "effect/http"
import { decodeEmbeddingsResponse, encodeEmbeddingsBody } from "./Embeddings.ts"
import type { ProviderPost } from "./internal/HttpTransport.ts"
import { postJson, postSseParts, secretsOf } from "./internal/HttpTransport.ts"
import { decodeOpenAiResponse, encodeOpenAiBody, OpenAiStreamState } from "./internal/OpenAiWire.ts"
import type { InvalidProviderOptions, ProviderError } from "./LlmError.ts"
import type { LlmCallOptions, LlmProviderShape } from "./LlmProvider.ts"
import { LlmProvider } from "./LlmProvider.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import type { HttpProviderOptions, ResolvedHttpProvider } from "./ProviderOptions.ts"
import { callSettings, endpointUrl, httpProviderMaker } from "./ProviderOptions.ts"

const DEFAULTS = { name: "openai", baseUrl: "https://api.openai.com/v1" } as const

/** Whether `baseUrl` is OpenAI's own API (or Azure OpenAI), which takes `max_completion_tokens` for every model. */
export const isOfficialOpenAi = (baseUrl: string): boolean => {
  if (!URL.canParse(baseUrl)) return false
  const host = new URL(baseUrl).hostname.toLowerCase()
  return host === "api.openai.com" || host.endsWith(".openai.azure.com")
}

const makePost = (
  provider: ResolvedHttpProvider,
  request: LlmRequest,
  options: LlmCallOptions | undefined,
  stream: boolean
): Effect.Effect<ProviderPost, ProviderError> => {
  const { apiKey, timeoutMillis } = callSettings(provider, options)
  const headers: Record<string, Redacted.Redacted<string> | string> = { ...provider.headers }
  if (apiKey !== undefined) headers["authorization"] = Redacted.make(`Bearer ${Redacted.value(apiKey)}`)
  if (stream) headers["accept"] = "text/event-stream"
  return encodeOpenAiBody(request, stream, { provider: provider.name, officialApi: isOfficialOpenAi(provider.baseUrl) })
    .pipe(Effect.map((body) => ({
      provider: provider.name,
      url: endpointUrl(provider, "/chat/completions"),
      headers,
      body,
      timeoutMillis,
      propagateTrace: provider.propagateTrace
    })))
}

/** Builds the provider over an already-resolved configuration. */
export const makeResolved = (client: HttpClient.HttpClient, provider: ResolvedHttpProvider): LlmProviderShape => ({
  name: provider.name,
  api: "openai-compatible",
  generate: (request, options) =>
    makePost(provider, request, options, false).pipe(
      Effect.flatMap((post) => postJson(client, post)),
      Effect.flatMap((json) => decodeOpenAiResponse(provider.name, request, json))
    ),
  stream: (request, options) =>
    Stream.unwrap(Effect.map(makePost(provider, request, options, true), (post) => {
      const state = new OpenAiStreamState(provider.name, request, secretsOf(post))
      // one stage from bytes to parts (SseFold); the body is read to its end after the terminal event, as the SDK does
      return postSseParts(client, post, state)
    })),
  embed: (request, options) => {
    // same auth, timeout and secret handling as chat completions; only the path and body differ
    const { apiKey, timeoutMillis } = callSettings(provider, options)
    const headers: Record<string, Redacted.Redacted<string> | string> = { ...provider.headers }
    if (apiKey !== undefined) headers["authorization"] = Redacted.make(`Bearer ${Redacted.value(apiKey)}`)
    const post: ProviderPost = {
      provider: provider.name,
      url: endpointUrl(provider, "/embeddings"),
      headers,
      body: encodeEmbeddingsBody(request),
      timeoutMillis,
      propagateTrace: provider.propagateTrace
    }
    return postJson(client, post).pipe(Effect.flatMap((json) => decodeEmbeddingsResponse(provider.name, request, json)))
  }
})

/**
 * An OpenAI-compatible provider (needs an `HttpClient`). Fails with `InvalidProviderOptions` (naming the field) when
 * `name` is not `[A-Za-z0-9][A-Za-z0-9_.-]*`, `baseUrl` is not an absolute http(s) URL or carries `user:password@`
 * credentials, `apiKey` is not `Redacted`, `timeout` is not a positive duration, a header name is not an HTTP token or
 * a header value neither a string nor `Redacted`, or `propagateTrace` is not a boolean.
 *
 * @example
 * ```ts
 * const groq = yield* OpenAiCompatibleProvider.make({
 *   name: "groq", baseUrl: "https://api.groq.com/openai/v1", apiKey: Redacted.make(process.env.GROQ_API_KEY ?? "")
 * })
 * const answer = yield* groq.generate({ model: "llama-3.1-8b-instant", messages: [{ role: "user", content: "hi" }] })
 * ```
 */
export const make: (
  options?: HttpProviderOptions
) => Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient> = httpProviderMaker(
  DEFAULTS,
  makeResolved
)

/**
 * A layer providing `LlmProvider` as an OpenAI-compatible provider. Fails to build with `InvalidProviderOptions` when
 * `options` fail `make`'s checks (a bad name, base URL, key, timeout, header or `propagateTrace`).
 */
export const layer = (
  options: HttpProviderOptions = {}
): Layer.Layer<LlmProvider, InvalidProviderOptions, HttpClient.HttpClient> => Layer.effect(LlmProvider, make(options))

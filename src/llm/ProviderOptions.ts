/**
 * Options of the HTTP providers (OpenAI-compatible and Anthropic), their Schema, and their resolution into what a
 * call needs (URL, timeout in ms, Redacted headers).
 *
 * Options are decoded at construction: a bad base URL, timeout or header fails with `InvalidProviderOptions`
 * naming the field. `fromProviderConfig` builds options from a ConfigStore `providers.<name>` entry (its key and
 * header values are already `Redacted`). Per-call options (`LlmCallOptions`) override timeout and key. Plain Effect
 * `Schema` and `Duration`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Redacted, Schema } from "effect"
import { HttpClient } from "effect/http"
import type { ProviderConfig } from "../config/index.ts"
import * as Invalid from "../internal/InvalidInput.ts"
import { hasUserinfo } from "./internal/SecretScrub.ts"
import { InvalidProviderOptions } from "./LlmError.ts"
import type { LlmCallOptions, LlmProviderShape } from "./LlmProvider.ts"
import { invalidRequestFromIssue } from "./LlmRequest.ts"

/** Options of an HTTP provider. */
export interface HttpProviderOptions {
  /** Provider name for errors and telemetry. Default: `openai` / `anthropic`. */
  readonly name?: string
  /** Base URL up to the version segment, e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`. */
  readonly baseUrl?: string
  /** API key. Optional for keyless endpoints (Ollama, local vLLM). */
  readonly apiKey?: Redacted.Redacted<string>
  /** Request timeout (see `LlmCallOptions.timeout`). Default 60 seconds. */
  readonly timeout?: Duration.Input
  /** Extra headers sent with every request. */
  readonly headers?: Readonly<Record<string, Redacted.Redacted<string> | string>>
  /**
   * Send effect's trace propagation headers (`traceparent`, `b3`) with each request. Default `false`: troupe's
   * trace ids are not disclosed to a third-party provider unless you ask (an in-house gateway may want them).
   */
  readonly propagateTrace?: boolean
}

/** Decodes a `Duration.Input` to positive milliseconds, or `undefined`. */
export const positiveMillis = (input: unknown): number | undefined => {
  if (typeof input === "number") return input > 0 && Number.isFinite(input) ? input : undefined
  // fromInput validates any input and returns undefined for a bad one
  const decoded = Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded)) return undefined
  const ms = Duration.toMillis(decoded.value)
  return ms > 0 && Number.isFinite(ms) ? ms : undefined
}

const PositiveDuration = Schema.Any.check(
  Schema.makeFilter((u: unknown) => positiveMillis(u) !== undefined || "expected a positive finite duration")
)
/** The message never echoes the value: a URL can carry credentials. */
const Url = Schema.String.check(
  Schema.makeFilter((s: string) => {
    if (!URL.canParse(s)) return "expected an absolute http(s) URL"
    const url = new URL(s)
    if (url.protocol !== "http:" && url.protocol !== "https:") return "expected an http: or https: URL"
    return !hasUserinfo(s) ||
      "credentials in the URL (user:password@) are rejected: pass the key as apiKey or a header, so it stays Redacted"
  })
)
const HeaderValue = Schema.Union([Schema.String, Schema.Redacted(Schema.String)])

const OptionsSchema = Schema.Struct({
  name: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/))),
  baseUrl: Schema.optionalKey(Url),
  apiKey: Schema.optionalKey(Schema.Redacted(Schema.String)),
  timeout: Schema.optionalKey(PositiveDuration),
  headers: Schema.optionalKey(
    Schema.Record(Schema.String.check(Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)), HeaderValue)
  ),
  propagateTrace: Schema.optionalKey(Schema.Boolean)
})

/** Resolved provider settings. */
export interface ResolvedHttpProvider {
  readonly name: string
  /** The base URL without its query string and trailing slashes. */
  readonly baseUrl: string
  /** The base URL's query string with its `?` (`?api-version=…`), or `""`: appended after each endpoint's path. */
  readonly query: string
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly timeoutMillis: number
  readonly headers: Readonly<Record<string, Redacted.Redacted<string> | string>>
  readonly propagateTrace: boolean
}

const splitBaseUrl = (url: string): { readonly baseUrl: string; readonly query: string } => {
  const noHash = url.split("#")[0] ?? url
  const at = noHash.indexOf("?")
  const base = at < 0 ? noHash : noHash.slice(0, at)
  return { baseUrl: base.replace(/\/+$/, ""), query: at < 0 || at === noHash.length - 1 ? "" : noHash.slice(at) }
}

/**
 * The URL of one endpoint of a provider: `{baseUrl}{path}{query}`, so a base URL's query string
 * (`https://host/v1?api-version=2024-10-21`) follows the endpoint's path instead of swallowing it.
 */
export const endpointUrl = (provider: ResolvedHttpProvider, path: string): string =>
  `${provider.baseUrl}${path}${provider.query}`

/** Default request timeout: 60 s (the ConfigStore's provider default too). */
export const DEFAULT_TIMEOUT_MILLIS = 60_000

/**
 * Decodes and resolves options, with the provider's defaults. Fails with `InvalidProviderOptions` (naming the field and
 * the provider) when `name` is not `[A-Za-z0-9][A-Za-z0-9_.-]*`, `baseUrl` is not an absolute http(s) URL or carries
 * `user:password@` credentials, `apiKey` is not `Redacted`, `timeout` is not a positive duration, a header name is not
 * an HTTP token or a header value neither a string nor `Redacted`, or `propagateTrace` is not a boolean.
 */
export const resolveHttpProviderOptions = (
  options: HttpProviderOptions,
  defaults: { readonly name: string; readonly baseUrl: string }
): Effect.Effect<ResolvedHttpProvider, InvalidProviderOptions> =>
  Schema.decodeUnknownEffect(OptionsSchema)(options).pipe(
    Effect.mapError((e) => {
      const provider = options.name ?? defaults.name
      return Invalid.fromSchemaError(
        e,
        `options of provider ${provider}`,
        (f) => new InvalidProviderOptions({ provider, ...f })
      )
    }),
    Effect.map((o) => ({
      name: o.name ?? defaults.name,
      ...splitBaseUrl(o.baseUrl ?? defaults.baseUrl),
      apiKey: o.apiKey,
      timeoutMillis: o.timeout === undefined
        ? DEFAULT_TIMEOUT_MILLIS
        : positiveMillis(o.timeout) ?? DEFAULT_TIMEOUT_MILLIS,
      headers: o.headers ?? {},
      propagateTrace: o.propagateTrace === true
    }))
  )

/** The timeout and key of one call (per-call options win). */
export const callSettings = (
  provider: ResolvedHttpProvider,
  options: LlmCallOptions | undefined
): { readonly timeoutMillis: number; readonly apiKey: Redacted.Redacted<string> | undefined } => ({
  timeoutMillis: options?.timeout === undefined
    ? provider.timeoutMillis
    : positiveMillis(options.timeout) ?? provider.timeoutMillis,
  apiKey: options?.apiKey ?? provider.apiKey
})

/**
 * Options from a ConfigStore provider entry.
 *
 * @example
 * ```ts
 * const config = yield* store.getProviderConfig("groq")
 * const groq = yield* OpenAiCompatibleProvider.make(fromProviderConfig("groq", config))
 * ```
 */
export const fromProviderConfig = (name: string, config: ProviderConfig): HttpProviderOptions => ({
  name,
  baseUrl: config.baseUrl,
  timeout: config.timeout,
  headers: config.headers,
  ...(config.apiKey !== undefined ? { apiKey: config.apiKey } : {})
})

/** Whether a value is a non-empty Redacted key. */
export const hasKey = (key: Redacted.Redacted<string> | undefined): key is Redacted.Redacted<string> =>
  key !== undefined && Redacted.value(key).trim() !== ""

/**
 * The `make` of an HTTP provider: resolves `options` over the provider's `defaults`, then builds it with the
 * `HttpClient` of the context. Shared by the OpenAI-compatible and the Anthropic providers.
 */
export const httpProviderMaker = (
  defaults: { readonly name: string; readonly baseUrl: string },
  build: (client: HttpClient.HttpClient, provider: ResolvedHttpProvider) => LlmProviderShape
) =>
(options: HttpProviderOptions = {}): Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const resolved = yield* resolveHttpProviderOptions(options, defaults)
    const client = yield* HttpClient.HttpClient
    return build(client, resolved)
  })

/**
 * Per-provider configuration: the Schema of one `providers.<name>` entry and the table of providers troupe knows.
 *
 * A provider entry holds what an LLM client needs to talk to one API: the API key (always a `Redacted`, never a
 * plain string once it is inside troupe), the base URL, request timeout, retry budget, an optional rate-limit
 * policy (the RateLimiter's own schema, see `RateLimitPolicyRef.ts`), HTTP connection-pool settings and extra
 * headers (values are `Redacted` too: they often carry tokens). Built-in providers get their base URL from the
 * defaults; any other name is an OpenAI-compatible endpoint and must give its own `baseUrl`.
 *
 * Reuses Effect's `Schema` (checks, decoding defaults, `Redacted`). The per-provider API-key formats are plain
 * data here (`KnownProviders`) and are enforced by `ConfigValidation.ts`, which always runs them, even when other
 * fields are broken, so that every error is reported at once.
 */
import { Effect, Schema } from "effect"
import { RateLimitPolicy } from "./RateLimitPolicyRef.ts"

/** What troupe knows about a built-in provider. */
export interface KnownProvider {
  readonly name: string
  /** Human name for messages. */
  readonly label: string
  readonly defaultBaseUrl: string
  /** Environment variables holding the API key, highest priority first. */
  readonly apiKeyEnv: ReadonlyArray<string>
  /** Environment variable holding the base URL. */
  readonly baseUrlEnv: string
  /** Required API-key prefix, if the provider has a recognisable format. */
  readonly keyPrefix?: string
  /** Prefixes that belong to another provider and are rejected here (an Anthropic key is also `sk-…`). */
  readonly foreignPrefixes?: ReadonlyArray<string>
}

const known = (provider: KnownProvider): readonly [string, KnownProvider] => [provider.name, provider]

/** The built-in providers, keyed by name. */
export const KnownProviders: ReadonlyMap<string, KnownProvider> = new Map([
  known({
    name: "openai",
    label: "OpenAI",
    defaultBaseUrl: "https://api.openai.com/v1",
    apiKeyEnv: ["OPENAI_API_KEY"],
    baseUrlEnv: "OPENAI_BASE_URL",
    keyPrefix: "sk-",
    foreignPrefixes: ["sk-ant-"]
  }),
  known({
    name: "anthropic",
    label: "Anthropic",
    defaultBaseUrl: "https://api.anthropic.com/v1",
    apiKeyEnv: ["ANTHROPIC_API_KEY"],
    baseUrlEnv: "ANTHROPIC_BASE_URL",
    keyPrefix: "sk-ant-"
  }),
  known({
    name: "google",
    label: "Google",
    // Gemini's OpenAI-compatible endpoint: {baseUrl}/chat/completions = /v1beta/openai/chat/completions
    defaultBaseUrl: "https://generativelanguage.googleapis.com/v1beta/openai",
    apiKeyEnv: ["GOOGLE_API_KEY", "GEMINI_API_KEY"],
    baseUrlEnv: "GOOGLE_BASE_URL",
    keyPrefix: "AIza"
  }),
  known({
    name: "mistral",
    label: "Mistral",
    defaultBaseUrl: "https://api.mistral.ai/v1",
    apiKeyEnv: ["MISTRAL_API_KEY"],
    baseUrlEnv: "MISTRAL_BASE_URL"
  }),
  known({
    name: "groq",
    label: "Groq",
    defaultBaseUrl: "https://api.groq.com/openai/v1",
    apiKeyEnv: ["GROQ_API_KEY"],
    baseUrlEnv: "GROQ_BASE_URL",
    keyPrefix: "gsk_"
  }),
  known({
    name: "deepseek",
    label: "DeepSeek",
    defaultBaseUrl: "https://api.deepseek.com/v1",
    apiKeyEnv: ["DEEPSEEK_API_KEY"],
    baseUrlEnv: "DEEPSEEK_BASE_URL"
  }),
  known({
    name: "ollama",
    label: "Ollama",
    defaultBaseUrl: "http://localhost:11434/v1",
    apiKeyEnv: [],
    baseUrlEnv: "OLLAMA_BASE_URL"
  }),
  known({
    name: "xai",
    label: "xAI",
    defaultBaseUrl: "https://api.x.ai/v1",
    apiKeyEnv: ["XAI_API_KEY"],
    baseUrlEnv: "XAI_BASE_URL",
    keyPrefix: "xai-"
  })
])

/**
 * An absolute `http:` or `https:` URL without credentials (`user:password@` is rejected, so a key never sits in a
 * plain-string field that `store.get` prints). The message never echoes the value.
 */
export const HttpUrl = Schema.String.check(
  Schema.makeFilter((s: string) => {
    if (!URL.canParse(s)) return "Expected an absolute http(s) URL"
    const url = new URL(s)
    if (url.protocol !== "http:" && url.protocol !== "https:") return "Expected an http: or https: URL"
    return (url.username === "" && url.password === "") ||
      "Credentials in the URL (user:password@) are rejected: put the key in apiKey or headers, which stay Redacted"
  })
)

const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefault(Effect.succeed(value)))

/** HTTP connection-pool settings for a provider's client. */
export const ConnectionPool = Schema.Struct({
  /** Maximum concurrent connections to the provider. */
  connections: withDefault(int(1, 1024), 16),
  /** Reuse connections between requests. */
  keepAlive: withDefault(Schema.Boolean, true),
  /** How long an idle kept-alive connection stays open, in ms. */
  keepAliveTimeout: withDefault(int(0, 600_000), 30_000),
  /** Requests sent at once over one kept-alive HTTP/1.1 connection (1 = no pipelining). */
  pipelining: withDefault(int(1, 128), 1),
  /** Negotiate HTTP/2 over TLS (ALPN) when the provider supports it. */
  allowH2: withDefault(Schema.Boolean, false)
})
export type ConnectionPool = typeof ConnectionPool.Type

/** An HTTP header name (an RFC 9110 token). */
const HeaderName = Schema.String.check(Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/))

/** A secret string as stored inside troupe: always wrapped in `Redacted` (see `SecretMasking.ts`). */
export const Secret = Schema.Redacted(Schema.String)

/** One `providers.<name>` entry. */
export const ProviderConfig = Schema.Struct({
  /** The API key. Optional: local providers (Ollama) and keyless proxies have none. */
  apiKey: Schema.optionalKey(Secret),
  /** Base URL of the API. Built-in providers get theirs from the defaults; other names must set it. */
  baseUrl: HttpUrl,
  /** Request timeout in ms. */
  timeout: withDefault(int(1, 600_000), 60_000),
  /** Retries after a failed request. */
  maxRetries: withDefault(int(0, 10), 2),
  /** Rate-limit policy applied to this provider's calls (the RateLimiter's schema). */
  rateLimit: Schema.optionalKey(RateLimitPolicy),
  /** HTTP connection-pool settings. */
  pool: withDefault(ConnectionPool, {}),
  /** Extra HTTP headers sent with every request (values are secrets: they often carry tokens). */
  headers: withDefault(Schema.Record(HeaderName, Secret), {})
})
export type ProviderConfig = typeof ProviderConfig.Type

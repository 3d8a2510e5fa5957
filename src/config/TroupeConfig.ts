/**
 * The one Schema for troupe's configuration, and its built-in defaults.
 *
 * Sections: `providers` (LLM APIs, see `ProviderConfig.ts`), `models` (aliases, see `ModelConfig.ts`), `cache`,
 * `rateLimits` (named RateLimiter policies), `telemetry`, and two open sections kept for later subsystems,
 * `security` and `budgets` (any JSON object until those subsystems define their schemas).
 *
 * This plays the part of an OTP application's `sys.config` / `config/runtime.exs` spec, but typed: every field has
 * a Schema, defaults live in the Schema (`withDecodingDefault`) or in {@link DefaultConfig}, and unknown keys are
 * rejected (typos are errors, not silently ignored). Plain Effect `Schema`; nothing hand-rolled.
 */
import { Effect, Schema } from "effect"
import { GatewaySection } from "./GatewayConfig.ts"
import { AliasName, ModelAlias } from "./ModelConfig.ts"
import { HttpUrl, KnownProviders, ProviderConfig, Secret } from "./ProviderConfig.ts"
import { RateLimitPolicy } from "./RateLimitPolicyRef.ts"

const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefault(Effect.succeed(value)))
const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** Provider names: lowercase-ish identifiers (`openai`, `my-proxy`, `together_ai`). */
export const ProviderName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/))

/** The `cache` section. */
export const CacheSection = Schema.Struct({
  /** The pipeline's response cache on or off (live: read on every call). */
  enabled: withDefault(Schema.Boolean, true),
  /** `memory` (L1 only) or `redis` (L1 over Redis; needs `Troupe.layer({ redis })`). Absent: `redis` when a Redis is given. */
  backend: Schema.optionalKey(Schema.Literals(["memory", "redis"])),
  /** Response-cache entries kept in memory (read at start-up). */
  maxEntries: withDefault(int(1, 100_000_000), 10_000),
  /** Entry time-to-live in ms (read at start-up). */
  ttl: withDefault(int(1, 365 * 24 * 3_600_000), 3_600_000),
  /** Key prefix of the Redis tier (read at start-up). Default `<redis prefix>cache:`. */
  redisPrefix: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1)))
})
export type CacheSection = typeof CacheSection.Type

/** The `telemetry` section. */
export const TelemetrySection = Schema.Struct({
  /** `false`: the hub records no metrics and nothing is exported (events still reach attached handlers). */
  enabled: withDefault(Schema.Boolean, true),
  /** The OTLP resource's `service.name`. */
  serviceName: withDefault(Schema.String.check(Schema.isMinLength(1)), "troupe"),
  /** OTLP/HTTP export of spans and metrics (`OtelExport.layer`), read at start-up. */
  otlp: withDefault(
    Schema.Struct({
      enabled: withDefault(Schema.Boolean, false),
      endpoint: Schema.optionalKey(HttpUrl),
      headers: withDefault(Schema.Record(Schema.String, Secret), {})
    }),
    {}
  ),
  /** Number of recent calls kept per component by the reporter's sliding window. */
  reporterWindow: withDefault(int(1, 1_000_000), 1000)
})
export type TelemetrySection = typeof TelemetrySection.Type

/** An open section reserved for a later subsystem: any JSON object for now. */
const OpenSection = Schema.Record(Schema.String, Schema.Unknown)

/** troupe's whole configuration. */
export const TroupeConfig = Schema.Struct({
  providers: withDefault(Schema.Record(ProviderName, ProviderConfig), {}),
  models: withDefault(Schema.Record(AliasName, ModelAlias), {}),
  cache: withDefault(CacheSection, {}),
  /** Named RateLimiter policies, keyed by limiter key (e.g. `tool:web-search`). */
  rateLimits: withDefault(Schema.Record(Schema.String.check(Schema.isMinLength(1)), RateLimitPolicy), {}),
  telemetry: withDefault(TelemetrySection, {}),
  /** The HTTP gateway (`troupe serve`, `Gateway.layer`). */
  gateway: withDefault(GatewaySection, {}),
  /**
   * The router policy (`RouterStep`): simple requests to a model in `routes` go to its cheaper model (`troupe serve`
   * and `Troupe.layer` apply it at start-up when `routes` is not empty; `Troupe.layer({ router })` wins).
   */
  router: Schema.optionalKey(Schema.Struct({
    routes: Schema.Record(Schema.String.check(Schema.isMinLength(1)), Schema.String.check(Schema.isMinLength(1))),
    maxSimpleChars: Schema.optionalKey(int(0, 10_000_000)),
    maxInstructionChars: Schema.optionalKey(int(0, 10_000_000))
  })),
  /** Reserved for the security subsystem. */
  security: Schema.optionalKey(OpenSection),
  /** Reserved for the budgets subsystem. */
  budgets: Schema.optionalKey(OpenSection)
})
export type TroupeConfig = typeof TroupeConfig.Type
/** The input (encoded) form, as found in a JSON file after secrets were wrapped in `Redacted`. */
export type TroupeConfigEncoded = typeof TroupeConfig.Encoded

/**
 * The built-in defaults (lowest-precedence source): every known provider with its base URL, and the standard
 * model aliases. Everything else comes from the Schema's decoding defaults.
 */
export const DefaultConfig: { readonly [key: string]: unknown } = {
  providers: Object.fromEntries([...KnownProviders.values()].map((p) => [p.name, { baseUrl: p.defaultBaseUrl }])),
  models: {
    fast: "openai:gpt-4o-mini",
    capable: "openai:gpt-4o",
    reasoning: "openai:o3-mini",
    embedding: "openai:text-embedding-3-small"
  }
}

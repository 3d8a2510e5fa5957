/**
 * The `gateway` section of troupe's configuration: what `troupe serve` / `Gateway.layer` reads from the config
 * file, the environment (`TROUPE_GATEWAY__PORT=…`) and runtime updates (the admin API patches it through the
 * ConfigStore, so a change is validated whole like any other).
 *
 * - `port`, `host`: where the HTTP server listens (default `127.0.0.1:7400`).
 * - `maxBodyBytes`: request bodies above this size are refused with 413 (default 4 MiB).
 * - `cors`: `false` (default: no CORS headers) or allowed origins / headers / credentials.
 * - `auth`: `apiKeys` (bearer keys accepted on `/v1/*`; none configured means `/v1/*` is open) and `adminKey`
 *   (the bearer credential of `/admin/*`; none configured means the admin API refuses every call with 403);
 *   `issuedKeys` (default `false`, read by `troupe serve`): `/v1/*` then requires a key — the admin key, one of
 *   `apiKeys`, or a key issued through `/admin/keys` with the `gateway:use` scope — and `/admin/*` also accepts an
 *   issued key with the `gateway:admin` scope.
 * - `drain`: `deregistrationDelay` (ms readiness stays false while requests are still served, for the load
 *   balancer to notice) and `timeout` (ms in-flight requests and streams get to finish before streams are ended).
 * - `maintenance`: switched at run time; new requests get `status` (default 503) with `message` and `retry-after`
 *   seconds, except the health and metrics routes, the `exemptRoutes` path prefixes and requests with one of the
 *   `exemptKeys` keys (sent as `Authorization: Bearer` or `x-api-key`).
 * - `health`: the readiness checks' `timeout` and how long a result is cached (`cacheTtl`), both ms; `probeUrls`
 *   adds a GET of each URL (per provider or any name) as a readiness check.
 * - `accessLog`: one structured log line per request (method, route, status, duration, request id; never headers,
 *   bodies, keys or prompts).
 *
 * Plain Effect `Schema` with decoding defaults; keys are `Redacted` (the section never prints them).
 */
import { Effect, Schema } from "effect"
import { HttpUrl, Secret } from "./ProviderConfig.ts"

const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefault(Effect.succeed(value)))
const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** The CORS policy: allowed origins (`*` for any), headers, credentials, preflight max age (s). */
export const GatewayCors = Schema.Struct({
  allowedOrigins: withDefault(Schema.Array(Schema.String.check(Schema.isMinLength(1))), ["*"]),
  allowedHeaders: withDefault(Schema.Array(Schema.String), ["authorization", "content-type", "x-request-id"]),
  exposedHeaders: withDefault(Schema.Array(Schema.String), ["x-request-id", "retry-after"]),
  credentials: withDefault(Schema.Boolean, false),
  maxAge: Schema.optionalKey(int(0, 86_400))
})
export type GatewayCors = typeof GatewayCors.Type

/** Maintenance mode. */
export const GatewayMaintenance = Schema.Struct({
  enabled: withDefault(Schema.Boolean, false),
  status: withDefault(int(400, 599), 503),
  message: withDefault(Schema.String, "The service is under maintenance. Please retry later."),
  /** Seconds sent as `retry-after` (0: no header). */
  retryAfter: withDefault(int(0, 86_400), 30),
  /** Path prefixes still served (health and metrics always are). */
  exemptRoutes: withDefault(Schema.Array(Schema.String.check(Schema.isPattern(/^\//))), []),
  /** Bearer keys whose requests are still served. */
  exemptKeys: withDefault(Schema.Array(Secret), [])
})
export type GatewayMaintenance = typeof GatewayMaintenance.Type

/** The `gateway` section. */
export const GatewaySection = Schema.Struct({
  port: withDefault(int(0, 65_535), 7400),
  host: withDefault(Schema.String.check(Schema.isMinLength(1)), "127.0.0.1"),
  maxBodyBytes: withDefault(int(1, 1024 * 1024 * 1024), 4 * 1024 * 1024),
  cors: withDefault(Schema.Union([Schema.Literal(false), GatewayCors]), false),
  auth: withDefault(
    Schema.Struct({
      apiKeys: withDefault(Schema.Array(Secret), []),
      adminKey: Schema.optionalKey(Secret),
      issuedKeys: withDefault(Schema.Boolean, false)
    }),
    {}
  ),
  drain: withDefault(
    Schema.Struct({
      deregistrationDelay: withDefault(int(0, 600_000), 0),
      timeout: withDefault(int(0, 3_600_000), 30_000)
    }),
    {}
  ),
  maintenance: withDefault(GatewayMaintenance, {}),
  health: withDefault(
    Schema.Struct({
      timeout: withDefault(int(1, 600_000), 2_000),
      cacheTtl: withDefault(int(0, 3_600_000), 5_000),
      probeUrls: withDefault(Schema.Record(Schema.String.check(Schema.isMinLength(1)), HttpUrl), {})
    }),
    {}
  ),
  accessLog: withDefault(Schema.Boolean, true)
})
export type GatewaySection = typeof GatewaySection.Type

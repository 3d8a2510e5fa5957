/**
 * The Schema of `Troupe.layer`'s options. Every option is decoded here: the plain ones (names, URLs, sizes) in
 * full; an option that carries another service's options (`config`, `telemetry`, `rateLimiter`, `providers`,
 * `pipeline`, `queues`, `router`, `recommendations`) at least as to its shape here (an object, and the keys troupe
 * reads itself), its other keys by that service's own layer, with its own typed errors.
 */
import { Layer, Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { SCHEMA_NAME } from "../internal/PostgresDdl.ts"

/**
 * `Troupe.layer` / `layerTest` were given options that do not decode: `subject` says which options, `path` names
 * the first offending field (`redis.url`; `""` is the root) and `detail` says what was expected.
 */
export class InvalidTroupeOptions extends Schema.TaggedError<InvalidTroupeOptions>()(
  "InvalidTroupeOptions",
  Invalid.InvalidInputFields
) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** A `SchemaError` of `Troupe.layer`'s options as `InvalidTroupeOptions` (first path, every issue). */
export const toInvalidTroupeOptions = (error: Schema.SchemaError): InvalidTroupeOptions =>
  Invalid.fromSchemaError(error, "Troupe.layer options", (f) => new InvalidTroupeOptions(f))

/** An `InvalidTroupeOptions` for a rule Schema cannot express (one option needs another). */
export const invalidTroupeOption = (path: string, detail: string): InvalidTroupeOptions =>
  new InvalidTroupeOptions(Invalid.fields("Troupe.layer options", path, detail))

const Name = Schema.String.pipe(Schema.check(Schema.isMinLength(1)))
/** A size from 1 to `maximum` (the bounds of the in-memory tables are bounded too). */
const Size = (maximum: number) => Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum })))
/** Does the string decode as a URI component (node-redis decodes a URL's credentials and throws on a bad `%`)? */
const decodable = (s: string): boolean => {
  try {
    decodeURIComponent(s)
    return true
  } catch {
    return false
  }
}
/**
 * Is `u` a Redis URL the client accepts: `redis://` or `rediss://`, no whitespace, a host, a port from 1 to 65535
 * (or none), a database number (`/<n>`, from 0 to 2^31-1) or no path, percent-encoded credentials?
 */
const isRedisUrl = (u: string): boolean => {
  if (!/^rediss?:\/\/\S+$/.test(u) || !URL.canParse(u)) return false
  const url = new URL(u)
  const port = url.port === "" ? 6379 : Number(url.port)
  const db = /^\/?(\d{0,10})$/.exec(url.pathname)?.[1]
  return url.hostname !== "" && port >= 1 && port <= 65_535 && db !== undefined &&
    (db === "" || Number(db) <= 2 ** 31 - 1) && decodable(url.username) && decodable(url.password)
}
const REDIS_URL_EXPECTED = "expected a redis:// or rediss:// URL with a host, a port from 1 to 65535, at most a " +
  "database number as its path (/<n>) and percent-encoded credentials"
/** A Redis URL (the message never quotes it: it may hold a password). */
const RedisUrl = Schema.String.pipe(
  Schema.check(Schema.makeFilter((u: string) => isRedisUrl(u) || REDIS_URL_EXPECTED))
)
const PostgresUrl = Schema.String.pipe(Schema.check(Schema.isPattern(/^postgres(ql)?:\/\/[^\s]+$/)))
/** A PostgreSQL schema name, as the stores accept it. */
const SqlSchema = Schema.String.pipe(Schema.check(Schema.isPattern(SCHEMA_NAME)))

/** Any object: its keys are decoded by the service it configures. */
const AnyObject = Schema.Record(Schema.String, Schema.Unknown)
/** A function (called by the service it is given to). */
const AnyFunction = Schema.Any.pipe(
  Schema.check(Schema.makeFilter((u: unknown) => typeof u === "function" || "expected a function"))
)
/** A `Layer` (built by the service it is given to). */
const AnyLayer = Schema.Any.pipe(
  Schema.check(Schema.makeFilter((u: unknown) => Layer.isLayer(u) || "expected a Layer"))
)
/** A pipeline step's options: `false` turns the step off; an object is decoded by the step's layer. */
const StepOptions = Schema.optionalKey(Schema.Union([Schema.Literal(false), AnyObject]))

/** `config`: the configuration sources (`ConfigStoreOptions`). */
const ConfigOptions = Schema.Struct({
  configFile: Schema.optionalKey(Schema.UndefinedOr(Schema.String)),
  env: Schema.optionalKey(
    Schema.UndefinedOr(Schema.Union([Schema.Record(Schema.String, Schema.UndefinedOr(Schema.String)), AnyFunction]))
  ),
  envProvider: Schema.optionalKey(Schema.UndefinedOr(AnyObject)),
  defaults: Schema.optionalKey(Schema.UndefinedOr(AnyObject)),
  openSecret: Schema.optionalKey(Schema.UndefinedOr(AnyFunction))
})

/** `providers`: one scripted model, or from the configuration (never both). */
const ProvidersOptions = Schema.Union([
  Schema.Struct({ scripted: AnyObject }),
  Schema.Struct({
    scripted: Schema.optionalKey(Schema.Never),
    scriptedWhenNoKey: Schema.optionalKey(AnyObject),
    overrides: Schema.optionalKey(AnyObject)
  })
])

/** `pipeline`: each step's options (decoded by the step), the breakers' store, the call limits. */
const PipelineOptions = Schema.Struct({
  cache: StepOptions,
  rateLimit: StepOptions,
  breaker: StepOptions,
  breakerStore: Schema.optionalKey(AnyLayer),
  retry: StepOptions,
  fallback: StepOptions,
  usage: StepOptions,
  limits: Schema.optionalKey(AnyObject)
})

/** The Schema `Troupe.layer` decodes its options with. */
export const TroupeOptionsSchema = Schema.Struct({
  name: Schema.optionalKey(Name),
  config: Schema.optionalKey(ConfigOptions),
  // decoded by TelemetryHub.layer (`InvalidTelemetryInput` naming the field)
  telemetry: Schema.optionalKey(AnyObject),
  // the policies are merged here, each one decoded by the RateLimiter layer (`InvalidRateLimitInput`)
  rateLimiter: Schema.optionalKey(Schema.Struct({ policies: Schema.optionalKey(AnyObject) })),
  replaceDefaultPolicies: Schema.optionalKey(Schema.Boolean),
  providers: Schema.optionalKey(ProvidersOptions),
  pipeline: Schema.optionalKey(PipelineOptions),
  redis: Schema.optionalKey(Schema.Struct({ url: RedisUrl, prefix: Schema.optionalKey(Name) })),
  postgres: Schema.optionalKey(Schema.Struct({ url: PostgresUrl, schema: Schema.optionalKey(SqlSchema) })),
  cache: Schema.optionalKey(Schema.Struct({
    maxEntries: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
    defaultTtl: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number]))
  })),
  costs: Schema.optionalKey(Schema.Boolean),
  budgets: Schema.optionalKey(Schema.Boolean),
  deadLetters: Schema.optionalKey(Schema.Boolean),
  // decoded by QueueStep.layer (its own Schema, `InvalidOptions` naming the path)
  queues: Schema.optionalKey(Schema.Unknown),
  // decoded by RouterStep.layer (its own Schema, `InvalidPipelineOptions` naming the path)
  router: Schema.optionalKey(Schema.Unknown),
  // decoded by Recommendations.layer and SiblingStep.layer (their own Schemas); needs `costs: true`
  recommendations: Schema.optionalKey(Schema.Struct({ sibling: Schema.optionalKey(AnyObject) })),
  // the memory layers' bound
  memory: Schema.optionalKey(Schema.Struct({ maxMessages: Schema.optionalKey(Size(100_000_000)) })),
  // error analytics and handlers: on unless `false`; an object sizes their bounded in-memory tables
  errors: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({
      bucketMillis: Schema.optionalKey(Size(86_400_000)),
      historyBuckets: Schema.optionalKey(Size(10_000)),
      windowBuckets: Schema.optionalKey(Size(10_000)),
      baselineBuckets: Schema.optionalKey(Size(10_000)),
      k: Schema.optionalKey(Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
      minCount: Schema.optionalKey(Size(1_000_000_000)),
      maxKeys: Schema.optionalKey(Size(10_000)),
      maxHandlers: Schema.optionalKey(Size(10_000))
    })
  ])),
  agents: Schema.optionalKey(Schema.Struct({
    name: Schema.optionalKey(Name),
    maxRestarts: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
    maxSeconds: Schema.optionalKey(Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
  }))
})

/**
 * `troupe serve [--config file] [--port n] [--host h] [--redis-url url] [--database-url url] [--database-schema s]
 * [--json]`: runs the gateway (`Gateway.layer`) over the whole application (`Troupe.layer`) until SIGTERM or
 * SIGINT, which drain it (see `Gateway.ts`) before the tree shuts down in order.
 *
 * With no configuration it starts on the embedded defaults: the scripted offline model for every provider without
 * an API key, everything in memory, `127.0.0.1:7400`. `--config` (or `TROUPE_CONFIG`) names the JSON config file
 * (its `gateway` section configures the server); `--redis-url` (or `REDIS_URL`) puts the rate limiter, the cache's
 * L2, conversation memory, budgets and dead letters in Redis, shared by every gateway process on it;
 * `--database-url` (or `DATABASE_URL`, a `postgres://` URL) puts the cost ledger, budgets and dead letters in
 * PostgreSQL instead (tables in `--database-schema` or `TROUPE_DATABASE_SCHEMA`, default `public`, created if
 * missing), where they outlive a restart of every gateway and of Redis. Readiness then includes a probe of each
 * server. A Redis that is down at start leaves the gateway degraded; a PostgreSQL that is down fails the start
 * (exit 1, the database error printed). What it runs is `serveLayer` (`ServeLayer.ts`), imported when the command
 * runs, so the other commands do not load the application.
 *
 * Output: the logs go to stdout (`troupe gateway listening on <url>` once it listens). With `--json`, stdout carries
 * only one JSON line once the gateway listens, `{"url":"http://127.0.0.1:7400","host":"127.0.0.1","port":7400}`
 * (the bound port with `--port 0`), and the logs go to stderr.
 *
 * Exit codes:
 * - 2: an invalid argument, checked before anything starts: `--port` must be an integer from 0 to 65535 (0: a free
 *   port).
 * - 1: the start failed (an unreadable or invalid config file, a port in use or a host that cannot be bound, a
 *   PostgreSQL that does not answer): one line `troupe: <reason>` on stderr (for a server that cannot listen, the
 *   reason the operating system gave), never a stack trace; a failure while draining also exits 1.
 * - 0: stopped by SIGTERM or SIGINT once the drain and the ordered shutdown completed (as a service manager
 *   expects of a clean stop).
 *
 * @since 0.1.0
 */
import { Cause, Config, Console, Context, Effect, Layer, Logger, Option } from "effect"
import { Command, Flag } from "effect/cli"
import type { TroupeOptions } from "../app/index.ts"
import type { GatewayOptions } from "../gateway/index.ts"
import { CliFailure, invalidArgument, report } from "./internal/AdminClient.ts"

const messageOf = (u: unknown): string | undefined =>
  u instanceof Error && u.message !== ""
    ? u.message
    : typeof u === "object" && u !== null && "message" in u && typeof u.message === "string" && u.message !== ""
    ? u.message
    : undefined

/**
 * The reason a start failed, in one line: the failure's (or defect's) message; for an error without one (a
 * `ServeError`: the server could not listen) the message of its cause, else its tag.
 */
const startFailure = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons.find((r) => r._tag === "Fail" || r._tag === "Die")
  const error: unknown = reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : undefined
  const nested = typeof error === "object" && error !== null && "cause" in error ? error.cause : undefined
  const tag = typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined
  const own = messageOf(error)
  const inner = messageOf(nested)
  return tag === "ServeError"
    ? `the server cannot listen: ${inner ?? own ?? "unknown reason"}`
    : own ?? inner ?? tag ?? String(error)
}

/**
 * `troupe serve [--config file] [--port n] [--host h] [--redis-url url] [--database-url url] [--database-schema s]
 * [--json]`: the gateway until SIGTERM/SIGINT
 * (then it drains); `--json` prints where it listens as one JSON line and sends the logs to stderr.
 */
export const serve = Command.make(
  "serve",
  {
    config: Flag.String("config").pipe(
      Flag.withDescription("JSON config file (default: TROUPE_CONFIG, else the embedded defaults)"),
      Flag.optional
    ),
    port: Flag.Int("port").pipe(
      Flag.withAlias("p"),
      Flag.withDescription("port (default: gateway.port, 7400)"),
      Flag.optional
    ),
    host: Flag.String("host").pipe(Flag.withDescription("host (default: gateway.host, 127.0.0.1)"), Flag.optional),
    redis: Flag.String("redis-url").pipe(
      Flag.withDescription("Redis for shared rate limits, cache and memory (default: REDIS_URL, else in memory)"),
      Flag.withFallbackConfig(Config.String("REDIS_URL")),
      Flag.optional
    ),
    database: Flag.String("database-url").pipe(
      Flag.withDescription("PostgreSQL for the cost ledger, budgets and dead letters (default: DATABASE_URL)"),
      Flag.withFallbackConfig(Config.String("DATABASE_URL")),
      Flag.optional
    ),
    databaseSchema: Flag.String("database-schema").pipe(
      Flag.withDescription("the PostgreSQL schema of those tables (default: TROUPE_DATABASE_SCHEMA, else public)"),
      Flag.withFallbackConfig(Config.String("TROUPE_DATABASE_SCHEMA")),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("print {url, host, port} as one JSON line once listening; logs go to stderr"),
      Flag.withDefault(false)
    )
  },
  ({ config, database, databaseSchema, host, json, port, redis }) => {
    if (Option.isSome(port) && (port.value < 0 || port.value > 65_535)) {
      return report(Effect.fail(invalidArgument(`--port: expected an integer from 0 to 65535, got ${port.value}`)))
    }
    // the application is loaded only now: the other commands start without it
    return Effect.promise(() =>
      Promise.all([import("./ServeLayer.ts"), import("../gateway/HealthCheck.ts"), import("../gateway/Gateway.ts")])
    ).pipe(
      Effect.flatMap(([{ serveLayer }, HealthCheck, { Gateway }]) => {
        const gateway: GatewayOptions = {
          ...(Option.isSome(port) ? { port: port.value } : {}),
          ...(Option.isSome(host) ? { host: host.value } : {}),
          // with Redis, readiness includes a PING of it; with PostgreSQL, a TCP probe of it
          checks: [
            ...(Option.isSome(redis) ? [HealthCheck.redisPing(redis.value)] : []),
            ...(Option.isSome(database) ? [HealthCheck.tcp("postgres", database.value)] : [])
          ]
        }
        const troupe: TroupeOptions = {
          ...(Option.isSome(config) ? { config: { configFile: config.value } } : {}),
          ...(Option.isSome(redis) ? { redis: { url: redis.value } } : {}),
          ...(Option.isSome(database)
            ? {
              postgres: {
                url: database.value,
                ...(Option.isSome(databaseSchema) ? { schema: databaseSchema.value } : {})
              }
            }
            : {})
        }
        return Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(serveLayer({ gateway, troupe })).pipe(
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.fail(new CliFailure(startFailure(cause), 1))
            )
          )
          if (json) {
            const { host, port, url } = Context.get(context, Gateway).address
            yield* Console.log(JSON.stringify({ url, host, port }))
          }
          return yield* Effect.never
        })).pipe(
          // interrupted (SIGTERM, SIGINT) and drained without a failure: main.ts exits with this code, not 130
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              process.exitCode = 0
            })
          ),
          report,
          Effect.provideService(Logger.LogToStderr, json)
        )
      }),
      Effect.asVoid
    )
  }
).pipe(
  Command.withDescription("Run the HTTP gateway (OpenAI-compatible API, health, metrics, admin) until SIGTERM/SIGINT")
)

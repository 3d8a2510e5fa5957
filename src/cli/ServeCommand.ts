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
 * (exit 1, the database error logged). What it runs is `serveLayer` (`ServeLayer.ts`), imported when the command
 * runs, so the other commands do not load the application.
 *
 * Output: the logs go to stdout (`troupe gateway listening on <url>` once it listens). With `--json`, stdout carries
 * only one JSON line once the gateway listens, `{"url":"http://127.0.0.1:7400","host":"127.0.0.1","port":7400}`
 * (the bound port with `--port 0`), and the logs go to stderr.
 *
 * @since 0.1.0
 */
import { Config, Console, Context, Effect, Layer, Logger, Option } from "effect"
import { Command, Flag } from "effect/cli"
import type { TroupeOptions } from "../app/index.ts"
import type { GatewayOptions } from "../gateway/index.ts"

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
          const context = yield* Layer.build(serveLayer({ gateway, troupe }))
          if (json) {
            const { host, port, url } = Context.get(context, Gateway).address
            yield* Console.log(JSON.stringify({ url, host, port }))
          }
          return yield* Effect.never
        })).pipe(Effect.provideService(Logger.LogToStderr, json))
      }),
      Effect.asVoid
    )
  }
).pipe(
  Command.withDescription("Run the HTTP gateway (OpenAI-compatible API, health, metrics, admin) until SIGTERM/SIGINT")
)

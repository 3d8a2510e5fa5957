/**
 * `troupe serve [--config file] [--port n] [--host h] [--redis-url url]`: runs the gateway (`Gateway.layer`) over the
 * whole application (`Troupe.layer`) until SIGTERM or SIGINT, which drain it (see `Gateway.ts`) before the tree
 * shuts down in order.
 *
 * With no configuration it starts on the embedded defaults: the scripted offline model for every provider without
 * an API key, everything in memory, `127.0.0.1:7400`. `--config` (or `TROUPE_CONFIG`) names the JSON config file
 * (its `gateway` section configures the server); `--redis-url` (or `REDIS_URL`) puts the rate limiter, the cache's
 * L2 and conversation memory in Redis, shared by every gateway process on it.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Troupe } from "../app/index.ts"
import type { TroupeOptions } from "../app/index.ts"
import { GatewayAgents, HealthCheck } from "../gateway/index.ts"
import { LlmAgents } from "../llmagent/index.ts"
import type { GatewayOptions } from "../gateway/index.ts"
import * as ServeAccess from "./internal/ServeAccess.ts"

/**
 * What `serve` runs: the gateway over the application layer, with the agent routes over `LlmAgents` serving
 * `GatewayAgents.DefaultAgent` for every agent id, until interrupted. The application records costs, enforces
 * budgets and dead-letters permanent failures (`Troupe.layer({ costs, budgets, deadLetters })`, unless
 * `options.troupe` says otherwise), and the gateway serves issued keys and abuse blocks (`ServeAccess`) unless
 * `options.gateway` gives its own `auth` / `access`.
 */
export const serveLayer = (options: { readonly gateway?: GatewayOptions; readonly troupe?: TroupeOptions } = {}) =>
  Layer.unwrap(Effect.map(ServeAccess.make, (access) =>
    GatewayAgents.withAgents({ ...access, ...options.gateway }, {
      costOf: GatewayAgents.costFromDefinitions([GatewayAgents.DefaultAgent], { default: "assistant" })
    }))).pipe(
    Layer.provide(LlmAgents.layer({ agents: [GatewayAgents.DefaultAgent], default: "assistant" })),
    Layer.provide(Troupe.layer({ costs: true, budgets: true, deadLetters: true, ...options.troupe }))
  )

/** `troupe serve [--config file] [--port n] [--host h] [--redis-url url]`: the gateway until SIGTERM/SIGINT (then it drains). */
export const serve = Command.make(
  "serve",
  {
    config: Flag.String("config").pipe(
      Flag.withDescription("JSON config file (default: TROUPE_CONFIG, else the embedded defaults)"),
      Flag.optional
    ),
    port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("port (default: gateway.port, 7400)"), Flag.optional),
    host: Flag.String("host").pipe(Flag.withDescription("host (default: gateway.host, 127.0.0.1)"), Flag.optional),
    redis: Flag.String("redis-url").pipe(
      Flag.withDescription("Redis for shared rate limits, cache and memory (default: REDIS_URL, else in memory)"),
      Flag.withFallbackConfig(Config.String("REDIS_URL")),
      Flag.optional
    )
  },
  ({ config, host, port, redis }) => {
    const gateway: GatewayOptions = {
      ...(Option.isSome(port) ? { port: port.value } : {}),
      ...(Option.isSome(host) ? { host: host.value } : {}),
      // with Redis, readiness includes a PING of it
      ...(Option.isSome(redis) ? { checks: [HealthCheck.redisPing(redis.value)] } : {})
    }
    const troupe: TroupeOptions = {
      ...(Option.isSome(config) ? { config: { configFile: config.value } } : {}),
      ...(Option.isSome(redis) ? { redis: { url: redis.value } } : {})
    }
    return Layer.launch(serveLayer({ gateway, troupe })).pipe(Effect.asVoid)
  }
).pipe(Command.withDescription("Run the HTTP gateway (OpenAI-compatible API, health, metrics, admin) until SIGTERM/SIGINT"))

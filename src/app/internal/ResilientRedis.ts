/**
 * `ResilientRedis.layer(url)`: effect's `Redis` service over a node-redis client that never fails start-up.
 *
 * `NodeRedis.layer` connects while the layer is built, so Redis down at start-up failed the whole application with
 * an opaque `RedisError`. Here start-up waits only for the first outcome (connected, or the first connection error,
 * at most 2 s); the client then keeps reconnecting in the background (backoff 50 ms → 2 s);
 * until it is ready every command fails fast with `RedisError` (`disableOfflineQueue`, and a 250 ms command timeout),
 * which the services already treat as an outage: the cache serves from L1, the rate limiter applies its declared
 * store-failure policy (`failOpen` / `failClosed` / `insurance`), conversation memory fails typed. One clear line is
 * logged when Redis is unreachable at start-up ("starting degraded") and one when it becomes reachable; the
 * services then use it again on their next command (the cache's L2 after its next probe).
 *
 * Reuses effect's `Redis.make` and the `redis` (node-redis) client; reserved connections and pub/sub, which troupe
 * does not use, fail with `RedisError`.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { createClient } from "redis"

/** The host part of a Redis URL, for log lines (never the password). */
const hostOf = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || "6379"}`
  } catch {
    return "redis"
  }
}

/** The `Redis` service; start-up never waits for nor fails because of the server. */
export const layer = (url: string): Layer.Layer<Redis.Redis> =>
  Layer.effect(
    Redis.Redis,
    Effect.gen(function*() {
      const host = hostOf(url)
      let ready = false
      let warned = false
      const client = yield* Effect.acquireRelease(
        Effect.sync(() =>
          createClient({
            url,
            disableOfflineQueue: true,
            commandOptions: { timeout: 250 },
            socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(2 ** retries * 50, 2000) }
          })
        ),
        (client) => Effect.ignoreCause(Effect.promise(() => client.isOpen ? client.close() : Promise.resolve()))
      )
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      client.on("error", () => {
        if (!ready && !warned) {
          warned = true
          runFork(
            Effect.logWarning(
              `Redis at ${host} is unreachable: starting degraded (cache from memory only, rate limiter on its store-failure policy); reconnecting in the background`
            )
          )
        }
      })
      client.on("ready", () => {
        if (!ready) runFork(Effect.logInfo(`Redis at ${host} is reachable: cache L2, rate limiter and memory use it`))
        ready = true
      })
      client.on("end", () => {
        ready = false
      })
      // start-up waits for the first outcome only — ready, or the first connection error — never for a recovery
      const firstOutcome = new Promise<void>((resolve) => {
        client.once("ready", () => resolve())
        client.once("error", () => resolve())
      })
      client.connect().catch(() => undefined) // keeps reconnecting; commands fail fast meanwhile
      yield* Effect.promise(() =>
        Promise.race([
          firstOutcome,
          new Promise<void>((r) => {
            setTimeout(r, 2000).unref()
          })
        ])
      )
      const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
        Effect.tryPromise({
          try: () => client.sendCommand([command, ...args]) as Promise<A>, // node-redis replies are untyped
          catch: (cause) => new Redis.RedisError({ cause })
        })
      const unsupported = Effect.fail(new Redis.RedisError({ cause: new Error("not supported by ResilientRedis") }))
      return yield* Redis.make({
        send,
        connect: unsupported,
        subscribe: () => unsupported
      })
    })
  )

/**
 * `ResilientRedis.layer(url)`: effect's `Redis` service over a node-redis client that never fails start-up.
 *
 * `NodeRedis.layer` connects while the layer is built, so Redis down at start-up failed the whole application with
 * an opaque `RedisError`. Here start-up waits only for the first outcome (connected, or the first connection error,
 * at most 2 s); the client then keeps reconnecting in the background (backoff 50 ms → 2 s);
 * until it is ready every command fails fast with `RedisError` (`disableOfflineQueue`). Every command is bounded
 * from the moment it is sent to its reply: no reply within 250 ms fails it with `RedisError`, also one already
 * written on a connection that has stalled with the socket still open (a partition, a blocked server), which TCP
 * would only notice much later; a late reply is then ignored, and replies stay matched to their commands. At most
 * 10,000 commands wait on the connection; past that a command fails at once with `RedisError`. Either way the
 * services treat it as an outage: the cache serves from L1, the rate limiter applies its declared
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

/** How long a command may wait for its reply, from the moment it is sent (queued, written, answered). */
const COMMAND_TIMEOUT_MS = 250

/** The most commands waiting on the connection (to be written or for their reply); past it a command fails at once. */
const MAX_PENDING_COMMANDS = 10_000

const timeoutMessage = (command: string): string =>
  `Redis did not answer ${command} within ${COMMAND_TIMEOUT_MS} ms (a stalled or unreachable server)`

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
            // no node-redis `commandOptions.timeout`: it bounds only a command not yet written (and costs an
            // AbortSignal per command); `send` bounds the whole round trip with one timer
            commandsQueueMaxLength: MAX_PENDING_COMMANDS,
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
      // one real timer per command (never the Effect clock: a TestClock must not time out a Redis round trip)
      const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
        Effect.callback<A, Redis.RedisError>((resume) => {
          const timer = setTimeout(() => {
            resume(Effect.fail(new Redis.RedisError({ cause: new Error(timeoutMessage(command)) })))
          }, COMMAND_TIMEOUT_MS)
          client.sendCommand([command, ...args]).then(
            (reply) => {
              clearTimeout(timer)
              resume(Effect.succeed(reply as A)) // node-redis replies are untyped
            },
            (cause: unknown) => {
              clearTimeout(timer)
              resume(Effect.fail(new Redis.RedisError({ cause })))
            }
          )
          return Effect.sync(() => clearTimeout(timer))
        })
      const unsupported = Effect.fail(new Redis.RedisError({ cause: new Error("not supported by ResilientRedis") }))
      return yield* Redis.make({
        send,
        connect: unsupported,
        subscribe: () => unsupported
      })
    })
  )

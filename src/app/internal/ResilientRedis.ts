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
 * A URL node-redis refuses (a port, a path or a percent-encoding it cannot parse) is `checkUrl`'s
 * `InvalidTroupeOptions` at `redis.url`, never quoting the URL or its credentials; `Troupe.layer` checks it before
 * it builds this layer, which does not fail on it either (one error line; every command fails with `RedisError`).
 *
 * Reuses effect's `Redis.make` and the `redis` (node-redis) client; reserved connections and pub/sub, which troupe
 * does not use, fail with `RedisError`.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { createClient } from "redis"
import { invalidTroupeOption, type InvalidTroupeOptions } from "../TroupeOptions.ts"

/** The host part of a Redis URL, for log lines (never the password). */
const hostOf = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || "6379"}`
  } catch {
    return "redis"
  }
}

/**
 * The client refused `url`: `InvalidTroupeOptions` at `redis.url` with the client's reason, unless that reason
 * quotes the URL or its credentials (then a generic one: the URL may hold a password).
 */
const refusedUrl = (url: string, error: unknown): InvalidTroupeOptions => {
  const reason = error instanceof Error ? error.message : ""
  const credentials = URL.canParse(url) ? [new URL(url).username, new URL(url).password] : []
  const quotes = [url, ...credentials].some((s) => s !== "" && reason.includes(s))
  const why = reason === "" || quotes ? "the URL does not parse" : reason
  return invalidTroupeOption("redis.url", `the Redis client refuses this URL: ${why}`)
}

/** How long a command may wait for its reply, from the moment it is sent (queued, written, answered). */
const COMMAND_TIMEOUT_MS = 250

/** The most commands waiting on the connection (to be written or for their reply); past it a command fails at once. */
const MAX_PENDING_COMMANDS = 10_000

const timeoutMessage = (command: string): string =>
  `Redis did not answer ${command} within ${COMMAND_TIMEOUT_MS} ms (a stalled or unreachable server)`

/** The node-redis client of `url`, or `InvalidTroupeOptions` at `redis.url` when node-redis refuses the URL. */
const makeClient = (url: string) =>
  // node-redis throws on a URL it cannot parse (a bad port, path or `%` in the credentials)
  Effect.try({
    try: () =>
      createClient({
        url,
        disableOfflineQueue: true,
        // no node-redis `commandOptions.timeout`: it bounds only a command not yet written (and costs an
        // AbortSignal per command); `send` bounds the whole round trip with one timer
        commandsQueueMaxLength: MAX_PENDING_COMMANDS,
        socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(2 ** retries * 50, 2000) }
      }),
    catch: (error) => refusedUrl(url, error)
  })

/**
 * Checks that the Redis client accepts `url` (nothing is connected). Fails with `InvalidTroupeOptions` (path
 * `redis.url`, never quoting the URL or its credentials) when node-redis refuses it: a port, a path or a
 * percent-encoding it cannot parse. `Troupe.layer` runs it before building its Redis layers.
 */
export const checkUrl = (url: string): Effect.Effect<void, InvalidTroupeOptions> => Effect.asVoid(makeClient(url))

/** A `Redis` whose every command fails with `RedisError`: the client refused the URL (no server can be reached). */
const refused = (error: InvalidTroupeOptions) =>
  Effect.gen(function*() {
    yield* Effect.logError(`Redis is not used: ${error.message}`)
    const fail = Effect.fail(new Redis.RedisError({ cause: error }))
    return yield* Redis.make({ send: () => fail, connect: fail, subscribe: () => fail })
  })

/**
 * The `Redis` service; start-up never waits for nor fails because of the server. A URL the client refuses
 * (`checkUrl`) does not fail start-up either: one error line is logged and every command fails with `RedisError`.
 */
export const layer = (url: string): Layer.Layer<Redis.Redis> =>
  Layer.effect(
    Redis.Redis,
    Effect.gen(function*() {
      const host = hostOf(url)
      let ready = false
      let warned = false
      const made = yield* Effect.result(makeClient(url))
      if (made._tag === "Failure") return yield* refused(made.failure)
      const client = yield* Effect.acquireRelease(
        Effect.succeed(made.success),
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

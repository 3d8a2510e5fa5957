/**
 * The L2 tier of the tiered cache: Redis, reached through Effect's persistence `Redis` service
 * (`effect/persistence` Redis, provided on Node by `NodeRedis.layer` from `@effect/platform-node`).
 *
 * Wire format: each key `prefix + cacheKey` holds a JSON envelope `{ v, e, t }`: `v` is the value encoded with
 * `Schema.toCodecJson` of the caller's value Schema, `e` its
 * absolute expiry in Effect `Clock` milliseconds (`null` = none) and `t` its token count. Storing the expiry makes
 * L2 expiry exact under `TestClock` and lets a promotion to L1 keep exactly the remaining TTL. Whose clock: each
 * process's Effect `Clock` (the wall clock in production), so a clock skew between instances shifts a shared
 * entry's expiry by that skew; Redis's own clock only drives the `PX` safety net. The key also gets
 * `PX` (capped by `maxTtl`, which is also the PX of non-expiring entries) so Redis memory stays bounded. A value
 * that does not decode is a miss, is counted (`decodeFailures`) and is deleted, never a crash; so is an envelope
 * whose `t` is not a number from 0 to 2^53 - 1 (it would corrupt `tokensSaved`; `encode` caps `t` there). A value
 * its Schema encodes but JSON cannot hold (a bigint or a cycle through `Schema.Any`, or `undefined`) is a
 * `CacheValueEncodingError` of `put` (`getOrCompute` returns it uncached), never a defect.
 *
 * Degradation (hand-rolled; Effect has no such policy for `Redis`): the first failed command (error, client-side
 * timeout, or the optional Effect-level `timeout`) flips the tier to *degraded* — counted (`degradations`, metric `troupe_cache_l2_degraded`), logged once
 * at Warn — and from then on L2 is bypassed so the cache keeps serving from L1 at memory speed. Writes, deletes
 * and clears made while degraded are remembered as pending invalidations (bounded; past the bound the whole
 * prefix is cleared instead), because the L2 copies they supersede would otherwise be promoted later as stale
 * values. A supervised probe (`PING` on a Schedule) replays them when Redis answers again and flips the tier
 * back to healthy (logged once at Info). The replay takes the pending set and leaves a fresh one (see
 * `internal/PendingInvalidations.ts`): invalidations made during the replay (the tier is still degraded) are
 * replayed in the next round, and the tier flips only after a round found nothing left (at most 16 rounds per
 * probe; a failed round puts its batch back). Clear is by prefix with `SCAN MATCH` + `UNLINK`, never `FLUSHDB`.
 *
 * Never hung by a stalled Redis: every command has the tier's own real-time `timeout` (default 250 ms; node-redis
 * drops a command's own timeout once the command is written, so on a frozen server it would wait until the server
 * resumes). It bounds each command, not an operation: each `SCAN` page and `UNLINK` of a clear or of a replay has
 * its own, so a clear walking a large keyspace (`SCAN MATCH` visits other services' keys too) is progress, not a
 * degradation. With `NodeRedis` in context the tier runs on its own connection, a `duplicate` of that client with
 * `disableOfflineQueue: true` (commands fail fast while the socket is down instead of queueing), closed on release
 * and destroyed if the close has not completed within the timeout (node-redis's `close` waits for commands a
 * stopped server never answers), so releasing the layer never hangs.
 *
 * @since 0.1.0
 */
import type { NodeRedis } from "@effect/platform-node/NodeRedis"
import { Cause, Deferred, Duration, Effect, Exit, Layer, Schema } from "effect"
import { Redis } from "effect/persistence"
import { escapeGlob } from "../internal/RedisGlob.ts"
import { Watchdog, type WatchdogEntry } from "../internal/Watchdog.ts"
import { CacheValueEncodingError } from "./CacheError.ts"
import type { CacheCounters } from "./CacheStats.ts"
import { type PendingBatch, PendingInvalidations } from "./internal/PendingInvalidations.ts"

/** Options of the Redis tier. */
export interface RedisTierOptions<A, I = unknown> {
  /** Schema of the cached values; they cross the wire as its JSON encoding (`Schema.toCodecJson`). */
  readonly value: Schema.Codec<A, I>
  /** Key prefix in Redis. Default `troupe:cache:<name>:`. */
  readonly prefix?: string
  /**
   * A real-time timeout on each Redis command (a timeout counts as an error and degrades the tier). Default
   * 250 ms. It is the tier's own, because node-redis's `commandOptions.timeout` no longer applies once a command is
   * written (a frozen server would hold `get` and `put` until it resumes).
   */
  readonly timeout?: Duration.Input
  /** How often the health probe pings Redis while the tier is degraded. Default 1 second. */
  readonly probeInterval?: Duration.Input
  /** Cap of the Redis `PX`, also used for entries without TTL. Default 1 day. */
  readonly maxTtl?: Duration.Input
  /** Pending invalidations remembered while degraded before falling back to a full prefix clear. Default 10,000. */
  readonly maxPendingInvalidations?: number
}

/** node-redis client options for a cache tier: fail fast when disconnected, 250 ms per-command timeout. */
export const recommendedNodeRedisOptions = {
  disableOfflineQueue: true,
  commandOptions: { timeout: 250 }
} as const

/**
 * `NodeRedis.layer({ url, ...recommendedNodeRedisOptions })`, with `@effect/platform-node/NodeRedis` (and so the
 * node-redis client) imported only when the layer is built: importing troupe never loads Redis code, and a
 * program (or a bundle) whose layers use no Redis never runs it. Building fails with `RedisError` when the module
 * cannot be loaded (the `redis` package is missing) or, as `NodeRedis.layer` does, when Redis does not answer.
 */
export const nodeRedisLayer = (url: string): Layer.Layer<Redis.Redis | NodeRedis, Redis.RedisError> =>
  Layer.unwrap(
    Effect.tryPromise({
      try: () => import("@effect/platform-node/NodeRedis"),
      catch: (cause) => new Redis.RedisError({ cause })
    }).pipe(Effect.map((module) => module.layer({ url, ...recommendedNodeRedisOptions })))
  )

/** A decoded L2 hit. */
export interface L2Hit<A> {
  readonly value: A
  readonly expiresAt: number
  readonly tokens: number
}

/** Resolved Redis tier settings (validated by the cache layer). */
export interface RedisTierConfig<A, I> {
  readonly name: string
  readonly value: Schema.Codec<A, I>
  readonly prefix: string
  readonly timeoutMs: number | undefined
  readonly probeIntervalMs: number
  readonly maxTtlMs: number
  readonly maxPendingInvalidations: number
}

/** Escapes Redis glob metacharacters so a prefix matches literally in `SCAN MATCH` (see `internal/RedisGlob`). */
export { escapeGlob }

/**
 * The tier's connection: Redis's `send`, plus, when the tier owns a node-redis connection, that client's raw
 * `sendCommand`. Single commands then go straight to the Promise under the tier's watchdog, with no fiber: a
 * timeout raced in fibers (`Effect.raceFirst`) cost ~15 µs per L2 read (`cache.get-hit.l2`).
 */
export interface TierConnection extends Pick<Redis.Redis["Service"], "send"> {
  readonly sendCommand?: (args: Array<string>) => Promise<unknown>
}

/** The L2 tier operations used by the tiered cache. None of them fails: Redis trouble degrades the tier. */
export interface RedisTier<A> {
  readonly prefix: string
  /** Encodes an entry for the wire (sync), or fails with `CacheValueEncodingError`. */
  readonly encode: (key: string, value: A, expiresAt: number, tokens: number) => string | CacheValueEncodingError
  /** Reads and decodes `key`; `count: false` leaves the hit/miss statistics alone (used by `has`). */
  readonly read: (key: string, now: number, count?: boolean) => Effect.Effect<L2Hit<A> | undefined>
  readonly write: (key: string, encoded: string, expiresAt: number, now: number) => Effect.Effect<void>
  readonly remove: (key: string) => Effect.Effect<void>
  readonly clearPrefix: (prefix: string) => Effect.Effect<void>
  /** One probe step: while degraded, ping Redis and, if it answers, replay pending invalidations and recover. */
  readonly probe: Effect.Effect<void>
  /** Completed at the next degradation (the probe loop waits on it while the tier is healthy). */
  readonly degraded: () => Deferred.Deferred<void>
}

/** Builds the Redis tier over a `Redis` service. */
export const makeRedisTier = <A, I>(
  redis: TierConnection,
  config: RedisTierConfig<A, I>,
  counters: CacheCounters
): RedisTier<A> => {
  counters.l2Enabled = true
  // The envelope is built by hand around the value's JSON codec: JSON.parse + a shape check + decoding only `v`
  // is ~2x cheaper than a Schema over the whole envelope, and the L2 read path is latency-sensitive.
  const valueJson = Schema.toCodecJson(config.value) as Schema.Codec<A, unknown>
  const encodeValue = Schema.encodeExit(valueJson)
  const decodeValue = Schema.decodeUnknownExit(valueJson)
  const decodeEnvelope = (raw: string): { readonly v: A; readonly e: number; readonly t: number } | undefined => {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      return undefined
    }
    if (typeof parsed !== "object" || parsed === null || !("v" in parsed)) return undefined
    const e = "e" in parsed ? parsed.e : undefined
    const t = "t" in parsed ? parsed.t : 0
    if (!(e === null || typeof e === "number") || !isTokenCount(t)) return undefined
    const value = decodeValue(parsed.v)
    return Exit.isSuccess(value) ? { v: value.value, e: e ?? Infinity, t } : undefined
  }
  let onDegraded: Deferred.Deferred<void> | undefined
  const pending = new PendingInvalidations(config.maxPendingInvalidations)
  const remember = (key: string | undefined, prefix: string | undefined) => pending.remember(key, prefix)
  const timeoutMs = config.timeoutMs
  const watchdog = new Watchdog(timeoutMs === undefined || !Number.isFinite(timeoutMs) ? 0 : timeoutMs)
  // real time, never the Effect Clock: a frozen Redis is detected under TestClock too
  const withTimeout = <X>(
    command: Effect.Effect<X, Redis.RedisError>
  ): Effect.Effect<X, Redis.RedisError | L2Timeout> =>
    timeoutMs === undefined || !Number.isFinite(timeoutMs)
      ? command
      : Effect.raceFirst(
        command,
        // one shared watchdog timer for all commands, not a timer per call (see `internal/Watchdog.ts`)
        Effect.callback<never, L2Timeout>((resume) => {
          const entry: WatchdogEntry = {
            sentAt: Date.now(),
            expire: () => resume(Effect.fail(new L2Timeout(timeoutMs)))
          }
          watchdog.enter(entry)
          return Effect.sync(() => watchdog.entries.delete(entry))
        })
      )

  // One command under the timeout. On the tier's own node-redis connection: the Promise under a watchdog entry,
  // as the rate limiter's script runner does (no fiber); otherwise `send` under `withTimeout`.
  const sendCommand = redis.sendCommand
  const timed = <X>(command: string, ...args: Array<string>): Effect.Effect<X, Redis.RedisError | L2Timeout> =>
    sendCommand === undefined || timeoutMs === undefined || !Number.isFinite(timeoutMs)
      ? withTimeout(redis.send<X>(command, ...args))
      : Effect.callback<X, Redis.RedisError | L2Timeout>((resume) => {
        const entry: WatchdogEntry = {
          sentAt: Date.now(),
          expire: () => resume(Effect.fail(new L2Timeout(timeoutMs)))
        }
        watchdog.enter(entry) // the reply type of a command is the caller's X (Redis replies are untyped)
        ;(sendCommand([command, ...args]) as Promise<X>).then(
          (reply) => {
            watchdog.entries.delete(entry)
            resume(Effect.succeed(reply))
          },
          (cause: unknown) => {
            watchdog.entries.delete(entry)
            resume(Effect.fail(new Redis.RedisError({ cause })))
          }
        )
        return Effect.sync(() => watchdog.entries.delete(entry))
      })

  const degrade = (reason: unknown): Effect.Effect<void> =>
    Effect.suspend(() => {
      counters.l2Errors++
      if (counters.l2Degraded) return Effect.void
      counters.l2Degraded = true
      counters.l2Degradations++
      if (onDegraded !== undefined) {
        Deferred.doneUnsafe(onDegraded, Effect.void)
        onDegraded = undefined
      }
      return Effect.logWarning(`cache ${config.name}: Redis tier unavailable; serving from L1 only until it recovers`, {
        reason: describe(reason)
      })
    })

  /** Runs Redis commands, each under its timeout (`timed`); on failure degrades and yields `undefined`. */
  const attemptTimed = <X>(command: Effect.Effect<X, Redis.RedisError | L2Timeout>): Effect.Effect<X | undefined> =>
    Effect.catchCause(
      command,
      (cause) =>
        Cause.hasInterruptsOnly(cause)
          // a cause with interrupts only holds no failure, so its error type is never
          ? Effect.failCause(cause as Cause.Cause<never>)
          : degrade(Cause.squash(cause)).pipe(Effect.as(undefined))
    )

  const unlinkAll = (keys: ReadonlyArray<string>): Effect.Effect<void, Redis.RedisError | L2Timeout> =>
    keys.length === 0 ? Effect.void : Effect.asVoid(timed<number>("UNLINK", ...keys))

  // Each SCAN and UNLINK under its own timeout: `SCAN MATCH` walks the whole keyspace (other services' keys too),
  // so a clear may take many round trips; one that keeps getting answers is progress, not a degradation.
  const scanDelete = (prefix: string): Effect.Effect<void, Redis.RedisError | L2Timeout> =>
    Effect.gen(function*() {
      const pattern = `${escapeGlob(config.prefix + prefix)}*`
      let cursor = "0"
      do {
        const reply = yield* timed<[string, Array<string>]>("SCAN", cursor, "MATCH", pattern, "COUNT", "500")
        cursor = reply[0]
        yield* unlinkAll(reply[1])
      } while (cursor !== "0")
    })

  const replay = (batch: PendingBatch): Effect.Effect<void, Redis.RedisError | L2Timeout> => {
    if (batch.overflow) return scanDelete("")
    const keys = [...batch.keys].map((k) => config.prefix + k)
    return Effect.forEach(batch.prefixes, scanDelete, { discard: true }).pipe(
      Effect.andThen(Effect.forEach(chunks(keys, 500), unlinkAll, { discard: true }))
    )
  }

  // Replays batch after batch: writes, deletes and clears made during a replay (the tier is still degraded) are
  // remembered in the next batch, so the tier flips back to healthy only once a replay found nothing new to do.
  const recover: Effect.Effect<void> = Effect.gen(function*() {
    const pong = yield* attemptTimed(timed("PING"))
    if (pong === undefined) return
    for (let round = 0; round < MAX_REPLAY_ROUNDS; round++) {
      const batch = pending.take()
      if (batch === undefined) {
        counters.l2Degraded = false
        counters.l2Recoveries++
        return yield* Effect.logInfo(`cache ${config.name}: Redis tier recovered`)
      }
      const ok = yield* attemptTimed(replay(batch).pipe(Effect.as(true as const))).pipe(
        Effect.onInterrupt(() => Effect.sync(() => pending.restore(batch)))
      )
      if (ok === undefined) return pending.restore(batch) // the tier stays degraded; the next probe retries
    }
    // invalidations keep arriving as fast as they are replayed: still degraded, the next probe goes on
  })

  return {
    prefix: config.prefix,
    encode: (key, value, expiresAt, tokens) => {
      const exit = encodeValue(value)
      if (Exit.isFailure(exit)) return new CacheValueEncodingError({ key, reason: String(exit.cause) })
      const v = exit.value
      if (v === undefined || typeof v === "function" || typeof v === "symbol") {
        return new CacheValueEncodingError({ key, reason: `the value Schema encodes it to ${typeof v}, not JSON` })
      }
      const e = expiresAt === Infinity ? null : expiresAt
      const t = Math.min(tokens, Number.MAX_SAFE_INTEGER)
      try {
        return JSON.stringify(t > 0 ? { v, e, t } : { v, e })
      } catch (error) { // a bigint or a cycle that the value Schema (e.g. Schema.Any) let through
        return new CacheValueEncodingError({ key, reason: error instanceof Error ? error.message : String(error) })
      }
    },
    read: (key, now, count = true) =>
      Effect.suspend(() => {
        if (counters.l2Degraded) return Effect.succeed(undefined)
        return attemptTimed(timed<string | null>("GET", config.prefix + key)).pipe(
          Effect.flatMap((raw): Effect.Effect<L2Hit<A> | undefined> => {
            if (raw === undefined) return Effect.succeed(undefined) // the command failed: the tier degraded
            if (raw === null) {
              if (count) counters.l2Misses++
              return Effect.succeed(undefined)
            }
            const decoded = decodeEnvelope(raw)
            if (decoded === undefined) {
              counters.l2DecodeFailures++
              if (count) counters.l2Misses++
              return Effect.logDebug(`cache ${config.name}: undecodable L2 value for ${key}; treated as a miss`).pipe(
                Effect.andThen(attemptTimed(timed("UNLINK", config.prefix + key))),
                Effect.as(undefined)
              )
            }
            const expiresAt = decoded.e
            if (expiresAt <= now) {
              counters.l2EvictTtl++
              if (count) counters.l2Misses++
              return Effect.succeed(undefined)
            }
            if (count) counters.l2Hits++
            return Effect.succeed({ value: decoded.v, expiresAt, tokens: decoded.t })
          })
        )
      }),
    write: (key, encoded, expiresAt, now) =>
      Effect.suspend(() => {
        if (counters.l2Degraded) {
          remember(key, undefined)
          return Effect.void
        }
        const px = Math.max(1, Math.min(config.maxTtlMs, Math.ceil(expiresAt - now)))
        return attemptTimed(timed("SET", config.prefix + key, encoded, "PX", String(px))).pipe(
          Effect.map((ok) => {
            if (ok === undefined) remember(key, undefined)
            else counters.l2Writes++
          })
        )
      }),
    remove: (key) =>
      Effect.suspend(() => {
        if (counters.l2Degraded) {
          remember(key, undefined)
          return Effect.void
        }
        return attemptTimed(timed<number>("UNLINK", config.prefix + key)).pipe(
          Effect.map((n) => {
            if (n === undefined) remember(key, undefined)
            else if (n > 0) counters.l2EvictManual += n
          })
        )
      }),
    clearPrefix: (prefix) =>
      Effect.suspend(() => {
        if (counters.l2Degraded) {
          remember(undefined, prefix)
          return Effect.void
        }
        return attemptTimed(scanDelete(prefix).pipe(Effect.as(true as const))).pipe(
          Effect.map((ok) => {
            if (ok === undefined) remember(undefined, prefix)
          })
        )
      }),
    probe: Effect.suspend(() => (counters.l2Degraded ? recover : Effect.void)),
    degraded: () => (onDegraded ??= Deferred.makeUnsafe<void>())
  }
}

/** Replay rounds one probe runs before leaving the rest to the next probe (invalidations arriving meanwhile). */
const MAX_REPLAY_ROUNDS = 16

/** An envelope's token count: a number from 0 to 2^53 - 1 (what `put` accepts, capped as `encode` caps it). */
const isTokenCount = (t: unknown): t is number => typeof t === "number" && t >= 0 && t <= Number.MAX_SAFE_INTEGER

class L2Timeout extends Error {
  constructor(ms: number) {
    super(`no reply within ${ms} ms`)
    this.name = "TimeoutError"
  }
}

const describe = (reason: unknown): string => {
  const cause = typeof reason === "object" && reason !== null && "cause" in reason ? reason.cause : reason
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
}

const chunks = <X>(xs: ReadonlyArray<X>, size: number): Array<ReadonlyArray<X>> => {
  const out: Array<ReadonlyArray<X>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

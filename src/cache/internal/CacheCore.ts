/**
 * The cache implementation shared by the memory layer and the tiered (memory over Redis) layer.
 *
 * L1 is the synchronous `LruStore`; L2, when present, is a `RedisTier`. Reads go L1 → L2 (a hit is promoted into
 * L1 with its remaining TTL) → compute (`getOrCompute`, single-flight); writes, deletes and clears go through
 * both tiers (write-through). A clear empties L1 at once and L2 page by page; while it runs, an L2 value under its
 * prefix is neither returned nor promoted, so nothing it covers outlives it. A `put` given a `mark` stores nothing
 * when its key was deleted or cleared since (see `Invalidations.ts`). Time comes from Effect's `Clock` captured
 * when the cache is built, so `TestClock`
 * drives TTLs exactly. Expired entries are dropped when read and by the sweeper, a supervised child running on a
 * `Schedule` (see `CacheSupervision.ts`); the tiered cache also runs the Redis health probe as a child.
 *
 * OTP analogy: the cache is a process owning its state, with the sweeper as a `:timer`-driven child; unlike a
 * GenServer, reads do not go through a mailbox: the state is only touched synchronously inside Effects, which
 * the single-threaded JS runtime already serialises.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Deferred, Duration, Effect, Exit, Option } from "effect"
import type * as Scope from "effect/Scope"
import { inlineGet, inlinePut } from "../../internal/InlineEffect.ts"
import { sweepLoop } from "../../ratelimit/internal/Background.ts"
import type { Supervisor } from "../../runtime/index.ts"
import { CacheValueTooLarge, InvalidCacheOptions } from "../CacheError.ts"
import type { CacheKeyTooLarge, CachePutError } from "../CacheError.ts"
import { registerCacheMetrics } from "../CacheMetrics.ts"
import type { CacheConfig } from "../CacheOptions.ts"
import { decodeCallTtl, namespaceOf } from "../CacheOptions.ts"
import type { CacheMark, CacheShape, ClearOptions, ComputeOptions, PutOptions } from "../CacheShape.ts"
import { CacheCounters } from "../CacheStats.ts"
import type { RedisTier } from "../RedisTier.ts"
import type { SupervisedTask } from "./CacheSupervision.ts"
import { superviseTasks } from "./CacheSupervision.ts"
import { makeCacheEvents } from "./CacheTelemetry.ts"
import { checkKey, defaultSizeOf } from "./EntrySize.ts"
import { Invalidations } from "./Invalidations.ts"
import { LruStore, NO_SLOT } from "./LruStore.ts"
import { makeSingleFlight } from "./SingleFlight.ts"

/** A cache plus handles used by tests and the tiered layer. */
export interface CacheInternals<A> extends CacheShape<A> {
  /** L1 keys from most to least recently used. */
  readonly l1Keys: () => ReadonlyArray<string>
  /** The supervisor of the sweeper (and, tiered, the Redis probe); named `cache:<name>`. */
  readonly supervisor: Supervisor.SupervisorRef
}

/** What `measure` answers when the caller's `sizeOf` threw. */
class SizeOfThrew {
  readonly message: string
  constructor(error: unknown) {
    this.message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }
}

const none = Option.none<never>()
const noneExit = Exit.succeed(none)

/** Builds a cache in the current Scope (its sweeper and probe stop when the Scope closes). */
export const makeCacheCore = <A>(
  config: CacheConfig<A>,
  makeTier?: (counters: CacheCounters) => { readonly tier: RedisTier<A>; readonly probeIntervalMs: number }
): Effect.Effect<CacheInternals<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const now = (): number => clock.currentTimeMillisUnsafe()
    const scope = yield* Effect.scope
    const counters = new CacheCounters()
    const events = yield* makeCacheEvents(config.name)
    const store = new LruStore<A>(config.maxEntries, config.maxBytes, (_key, reason) => {
      if (reason === "ttl") counters.l1EvictTtl++
      else if (reason === "capacity") counters.l1EvictCapacity++
      else counters.l1EvictManual++
      events?.evicted("l1", reason)
    }, now)
    const tiered = makeTier?.(counters)
    const tier = tiered?.tier
    const flights = makeSingleFlight(scope)
    const sizeOf = config.sizeOf ?? defaultSizeOf
    const keyFastLimit = Math.floor(config.maxKeyBytes / 3)

    const ttlFor = (key: string, ttl: number | undefined): number => {
      if (ttl !== undefined) return ttl
      if (config.namespaceTtlMs.size > 0) {
        const ns = namespaceOf(key)
        const nsTtl = ns === undefined ? undefined : config.namespaceTtlMs.get(ns)
        if (nsTtl !== undefined) return nsTtl
      }
      return config.defaultTtlMs
    }

    // `sizeOf` is the caller's function: anything but a finite number >= 0 would silently disable `maxBytes`
    const validSize = (bytes: unknown): bytes is number => typeof bytes === "number" && bytes >= 0 && bytes !== Infinity
    /**
     * The caller's `sizeOf` of an entry in whole bytes (a fraction counts as the next byte: the byte total is a sum
     * of integers, exact, so float rounding never takes it past `maxBytes`), or the invalid answer as it came.
     */
    const measure = (value: A, key: string): unknown => {
      let bytes: unknown
      try {
        bytes = sizeOf(value, key)
      } catch (error) {
        return new SizeOfThrew(error) // the caller's function threw: a typed failure of the put, never a defect
      }
      return validSize(bytes) ? Math.ceil(bytes) : bytes
    }
    const badSize = (bytes: unknown) =>
      InvalidCacheOptions.at(
        "sizeOf",
        bytes instanceof SizeOfThrew
          ? `threw ${bytes.message}`
          : `expected a finite number >= 0 of bytes, got ${typeof bytes === "number" ? String(bytes) : typeof bytes}`
      )

    const promote = (key: string, value: A, expiresAt: number, tokens: number): void => {
      const bytes = measure(value, key)
      if (!validSize(bytes) || bytes > config.maxValueBytes || bytes > config.maxBytes) return
      store.set(key, value, expiresAt, bytes, tokens, undefined)
    }

    // Bumped by every write, delete and clear. An L2 read promotes its value only if no write happened while it
    // was in flight, so a read racing a `put` or `delete` can never install a stale value in L1.
    let writeEpoch = 0
    // deletes and clears, for `mark` / `put(…, { since })`, and the clears still scanning L2 (see `Invalidations.ts`)
    const invalidations = new Invalidations()

    const readL2 = (key: string): Effect.Effect<Option.Option<A>> => {
      if (tier === undefined) return noneExit
      // a clear still scanning L2 may not have reached this key yet: its L2 value is neither returned nor promoted
      if (invalidations.underClear(key)) return noneExit
      const epoch = writeEpoch
      return Effect.map(tier.read(key, now()), (hit) => {
        if (hit === undefined) {
          events?.miss("l2")
          return none
        }
        events?.hit("l2")
        counters.tokensSaved += hit.tokens
        if (epoch === writeEpoch) promote(key, hit.value, hit.expiresAt, hit.tokens)
        return Option.some(hit.value)
      })
    }

    // `get`: synchronous on an L1 hit (one `Option.some` allocated, see `LruStore.hitAt`); run through
    // `inlineGet`, so `yield* cache.get(k)` completes without a fiber round-trip.
    const fast = (key: string): Option.Option<A> | null => {
      if (typeof key !== "string" || key.length > keyFastLimit) return null // not a string: the slow path fails it typed
      const slot = store.get(key)
      if (slot !== NO_SLOT && store.failureAt(slot) === undefined) {
        counters.l1Hits++
        events?.hit("l1")
        const tokens = store.tokensAt(slot)
        if (tokens !== 0) counters.tokensSaved += tokens
        return store.hitAt(slot)
      }
      if (tier !== undefined) return null
      counters.l1Misses++
      events?.miss("l1")
      return none
    }
    // The slow path: key validation, then (tiered) the L1 miss goes to Redis.
    const slow = (key: string): Effect.Effect<Option.Option<A>, CacheKeyTooLarge | InvalidCacheOptions> => {
      const bad = checkKey(key, config.maxKeyBytes)
      if (bad !== undefined) return Effect.fail(bad)
      const slot = store.get(key)
      if (slot !== NO_SLOT && store.failureAt(slot) === undefined) {
        counters.l1Hits++
        events?.hit("l1")
        counters.tokensSaved += store.tokensAt(slot)
        return Effect.succeed(store.hitAt(slot))
      }
      counters.l1Misses++
      events?.miss("l1")
      return readL2(key)
    }
    const reader = { fast, slow }
    const get = (key: string): Effect.Effect<Option.Option<A>, CacheKeyTooLarge | InvalidCacheOptions> =>
      inlineGet(reader, key)

    const has = (key: string): Effect.Effect<boolean, CacheKeyTooLarge | InvalidCacheOptions> =>
      Effect.suspend((): Effect.Effect<boolean, CacheKeyTooLarge | InvalidCacheOptions> => {
        const bad = checkKey(key, config.maxKeyBytes)
        if (bad !== undefined) return Effect.fail(bad)
        const slot = store.peek(key)
        if (slot !== NO_SLOT) return Effect.succeed(store.failureAt(slot) === undefined)
        if (tier === undefined || invalidations.underClear(key)) return Effect.succeed(false)
        return Effect.map(tier.read(key, now(), false), (hit) => hit !== undefined)
      })

    /** Validates and writes a value to every tier (synchronous for L1; the L2 write is the returned Effect). */
    const write = (
      key: string,
      value: A,
      ttlMs: number | undefined,
      tokens: number,
      fromFlight = false,
      since?: CacheMark
    ): Effect.Effect<void, CachePutError> => {
      const bad = checkKey(key, config.maxKeyBytes)
      if (bad !== undefined) return Effect.fail(bad)
      const bytes = measure(value, key)
      if (!validSize(bytes)) return Effect.fail(badSize(bytes))
      if (bytes > config.maxValueBytes) {
        return Effect.fail(
          new CacheValueTooLarge({ key, bytes, limit: config.maxValueBytes, limitName: "maxValueBytes" })
        )
      }
      if (bytes > config.maxBytes) {
        return Effect.fail(new CacheValueTooLarge({ key, bytes, limit: config.maxBytes, limitName: "maxBytes" }))
      }
      // computed across a delete or clear of its key: stored nothing, as a getOrCompute flight would
      if (since !== undefined && invalidations.invalidatedSince(key, since)) return Exit.void
      writeEpoch++
      if (!fromFlight) flights.invalidateKey(key)
      const ttl = ttlFor(key, ttlMs)
      const t = ttl === Infinity && tier === undefined ? 0 : now()
      const expiresAt = t + ttl
      if (tier === undefined) {
        store.set(key, value, expiresAt, bytes, tokens, undefined)
        return Exit.void // `inlinePut` completes synchronously on exactly this value
      }
      const encoded = tier.encode(key, value, expiresAt, tokens)
      if (typeof encoded !== "string") return Effect.fail(encoded)
      // measured in UTF-8 unless even 3 bytes per UTF-16 unit fits (a unit is up to 3 bytes)
      if (encoded.length * 3 > config.maxValueBytes) {
        const encodedBytes = Buffer.byteLength(encoded, "utf8")
        if (encodedBytes > config.maxValueBytes) {
          return Effect.fail(
            new CacheValueTooLarge({
              key,
              bytes: encodedBytes,
              limit: config.maxValueBytes,
              limitName: "maxValueBytes"
            })
          )
        }
      }
      store.set(key, value, expiresAt, bytes, tokens, undefined)
      return tier.write(key, encoded, expiresAt, t)
    }

    const putOp = (key: string, value: A, options: PutOptions | undefined): Effect.Effect<void, CachePutError> => {
      if (options === undefined) return write(key, value, undefined, 0)
      if (typeof options !== "object" || options === null) { // untyped callers: a typed failure, never a throw
        return Effect.fail(InvalidCacheOptions.at("options", "expected an options object or undefined"))
      }
      const ttl = options.ttl === undefined ? undefined : decodeCallTtl(options.ttl, "ttl")
      if (ttl instanceof InvalidCacheOptions) return Effect.fail(ttl)
      const tokens = options.tokens ?? 0
      if (!(tokens >= 0 && Number.isFinite(tokens))) {
        return Effect.fail(InvalidCacheOptions.at("tokens", "expected a finite number >= 0"))
      }
      const since = options.since
      if (since !== undefined && !invalidations.isMark(since)) {
        return Effect.fail(InvalidCacheOptions.at("since", "expected a mark of this cache (from mark())"))
      }
      return write(key, value, ttl, tokens, false, since)
    }
    const put = (key: string, value: A, options?: PutOptions): Effect.Effect<void, CachePutError> =>
      inlinePut(putOp, key, value, options)

    const delete_ = (key: string): Effect.Effect<void, CacheKeyTooLarge | InvalidCacheOptions> =>
      Effect.suspend((): Effect.Effect<void, CacheKeyTooLarge | InvalidCacheOptions> => {
        const bad = checkKey(key, config.maxKeyBytes)
        if (bad !== undefined) return Effect.fail(bad)
        writeEpoch++
        invalidations.record(key, false)
        store.delete(key)
        flights.invalidate((k) => k === key)
        return tier === undefined ? Effect.void : tier.remove(key)
      })

    const clear = (options?: ClearOptions): Effect.Effect<void, InvalidCacheOptions> =>
      Effect.suspend((): Effect.Effect<void, InvalidCacheOptions> => {
        if (options?.namespace !== undefined && options.prefix !== undefined) {
          return Effect.fail(InvalidCacheOptions.at("namespace", "give namespace or prefix, not both"))
        }
        if (options?.namespace !== undefined && !/^[^:]+$/.test(options.namespace)) {
          return Effect.fail(InvalidCacheOptions.at("namespace", "expected a non-empty name without ':'"))
        }
        const prefix = options?.namespace !== undefined ? `${options.namespace}:` : options?.prefix ?? ""
        writeEpoch++
        invalidations.record(prefix, true)
        store.clearPrefix(prefix)
        flights.invalidate((k) => k.startsWith(prefix))
        if (tier === undefined) return Effect.void
        const release = invalidations.clearStarted(prefix)
        return Effect.ensuring(tier.clearPrefix(prefix), Effect.sync(release))
      })

    const getOrCompute = <E, R>(
      key: string,
      compute: Effect.Effect<A, E, R>,
      options?: ComputeOptions<A>
    ): Effect.Effect<A, E | CacheKeyTooLarge | InvalidCacheOptions, R> =>
      Effect.suspend((): Effect.Effect<A, E | CacheKeyTooLarge | InvalidCacheOptions, R> => {
        const bad = checkKey(key, config.maxKeyBytes)
        if (bad !== undefined) return Effect.fail(bad)
        if (options !== undefined && (typeof options !== "object" || options === null)) {
          return Effect.fail(InvalidCacheOptions.at("options", "expected an options object or undefined"))
        }
        const ttl = options?.ttl === undefined ? undefined : decodeCallTtl(options.ttl, "ttl")
        if (ttl instanceof InvalidCacheOptions) return Effect.fail(ttl)
        const failureTtl = options?.failureTtl === undefined
          ? config.failureTtlMs
          : decodeCallTtl(options.failureTtl, "failureTtl")
        if (failureTtl instanceof InvalidCacheOptions) return Effect.fail(failureTtl)
        const slot = store.get(key)
        if (slot !== NO_SLOT) {
          const failure = store.failureAt(slot)
          if (failure !== undefined) {
            counters.failureHits++
            // an entry's failure is the cause its lookup failed with, which fails with E
            return Effect.failCause(failure as Cause.Cause<E>)
          }
          counters.l1Hits++
          events?.hit("l1")
          counters.tokensSaved += store.tokensAt(slot)
          return Effect.succeed(store.valueAt(slot))
        }
        counters.l1Misses++
        events?.miss("l1")
        return flights.join(
          key,
          (flight) =>
            Effect.gen(function*() {
              if (tier !== undefined) {
                const hit = yield* readL2(key)
                if (Option.isSome(hit)) return hit.value
              }
              counters.computations++
              const exit = yield* Effect.exit(compute)
              if (flight.invalidated) return yield* exit
              if (Exit.isSuccess(exit)) {
                const value = exit.value
                const tokens = options?.tokens === undefined
                  ? 0
                  : typeof options.tokens === "number"
                  ? options.tokens
                  : options.tokens(value)
                yield* write(key, value, ttl, Number.isFinite(tokens) && tokens > 0 ? tokens : 0, true).pipe(
                  Effect.catch((error) =>
                    Effect.sync(() => {
                      counters.rejected++
                    }).pipe(Effect.andThen(Effect.logDebug(`cache ${config.name}: computed value not cached`, error)))
                  )
                )
              } else if (failureTtl !== undefined && !Cause.hasInterruptsOnly(exit.cause)) {
                // `value` and `hit` are unused for a failure entry (`get` treats it as a miss).
                store.set(key, undefined as A, now() + failureTtl, 0, 0, exit.cause)
              }
              return yield* exit
            }),
          () => {
            counters.coalesced++
          }
        )
      })

    // the sweep sleeps until the next entry expires (never once per interval of a clock jump: see `sweepLoop`)
    const sweeper: SupervisedTask = {
      id: "sweeper",
      run: sweepLoop(clock, config.sweepIntervalMs, store.wake, () => {
        const removed = store.sweep()
        config.onSweep?.(removed)
        return store.nextDue
      })
    }
    const tasks: Array<SupervisedTask> = [sweeper]
    if (tiered !== undefined) {
      // the probe runs only while the tier is degraded (it waits for a degradation otherwise)
      const tier = tiered.tier
      const probing = Effect.gen(function*() {
        while (true) {
          if (!counters.l2Degraded) yield* Deferred.await(tier.degraded())
          yield* tier.probe
          if (counters.l2Degraded) yield* clock.sleep(Duration.millis(tiered.probeIntervalMs))
        }
      })
      tasks.push({ id: "redis-probe", run: probing })
    }
    const supervisor = yield* superviseTasks(`cache:${config.name}`, tasks)
    yield* registerCacheMetrics(config.name, counters, () => ({ entries: store.size, bytes: store.bytes }))

    return {
      get,
      has,
      put,
      delete: delete_,
      clear,
      getOrCompute,
      mark: () => invalidations.mark(),
      stats: () => Effect.sync(() => counters.snapshot(store.size, store.bytes)),
      l1Keys: () => store.keys(),
      supervisor
    }
  })

/**
 * `ResourcePool`: a pool of resources (connections, clients, sandboxes) on effect's `Pool.makeWithTTL`.
 *
 * What effect's `Pool` already does, and this module reuses: acquiring items concurrently, sizing **between `min`
 * and `max` by load** (it grows to `max` while all items are in use and shrinks back to `min` when items stay idle
 * for `idleTimeToLive`, the `usage` TTL strategy), invalidation, releasing every item when its scope closes.
 *
 * What `ResourcePool` adds (rules, the same words as the README and the tests):
 * - **Health check on acquire**: an item whose `healthCheck` fails (or returns false) is invalidated and another is
 *   taken (at most `max + 1` tries, then `PoolUnhealthy`).
 * - **Health check on idle**: every `idleCheckInterval` the idle items are checked, all at once, and the unhealthy
 *   invalidated; a check that outlasts `healthCheckTimeout` (default `acquireTimeout`, else `idleCheckInterval`)
 *   counts as unhealthy, so one check that never answers neither keeps its item nor holds up the others' checks.
 * - **Recycling after N uses or an age**: an item used `maxUses` times, or older than `maxAge`, is invalidated when
 *   it is released (and an item found too old on acquire is never handed out).
 * - **Acquire timeout**: waiting longer than `acquireTimeout` for an item fails with `PoolTimeout`; the wait includes
 *   the health check on acquire, and an item whose health check outlasts `acquireTimeout` is invalidated.
 * - **At most `max` items**: an item is invalidated only after its lease is given back, so effect's `Pool` never
 *   acquires its replacement while it still exists (it would while the item is borrowed).
 * - **Metrics**: `troupe_pool_size`, `troupe_pool_idle`, `troupe_pool_in_use` (gauges), `troupe_pool_wait_seconds`
 *   (histogram), `troupe_pool_timeouts_total` (counter), all with the `pool` attribute.
 *
 * Options are decoded with Schema by the runtime's shared decoder (`InvalidOptions` naming the path). Timing reads
 * the Effect `Clock` (TestClock in tests).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit, Metric, Pool, Result, Schedule, Schema, Scope } from "effect"
import { DurationInput, NonNegativeInt, PositiveInt, validate } from "../runtime/internal/Options.ts"
import type { InvalidOptions } from "../runtime/RuntimeError.ts"

/** The Schema of the decodable part of `ResourcePool.make`'s options. */
export const ResourcePoolOptions = Schema.Struct({
  /** the pool's name (metrics attribute) */
  name: Schema.String,
  /** items kept even when idle (default 0) */
  min: Schema.optional(NonNegativeInt),
  /** items at most (default 10) */
  max: Schema.optional(PositiveInt),
  /** an idle item above `min` is released after this long (default 60 seconds) */
  idleTimeToLive: Schema.optional(DurationInput),
  /** recycle an item after this many uses (default: never) */
  maxUses: Schema.optional(PositiveInt),
  /** recycle an item older than this (default: never) */
  maxAge: Schema.optional(DurationInput),
  /** longest wait for an item (default: none) */
  acquireTimeout: Schema.optional(DurationInput),
  /** how often idle items are health-checked (default: never) */
  idleCheckInterval: Schema.optional(DurationInput),
  /** longest an idle health check may run before it counts as unhealthy (default `acquireTimeout`, else
   * `idleCheckInterval`) */
  healthCheckTimeout: Schema.optional(DurationInput)
})
/** The decodable options of `ResourcePool.make`. */
export type ResourcePoolOptions = typeof ResourcePoolOptions.Type

/** Waiting for an item took longer than `acquireTimeout`. */
export class PoolTimeout extends Schema.TaggedError<PoolTimeout>()("PoolTimeout", {
  pool: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `no ${this.pool} pool item within ${this.timeoutMillis} ms`
  }
}

/** Every item tried on acquire failed its health check. */
export class PoolUnhealthy extends Schema.TaggedError<PoolUnhealthy>()("PoolUnhealthy", {
  pool: Schema.String,
  tries: Schema.Int
}) {
  override get message(): string {
    return `no healthy ${this.pool} pool item after ${this.tries} tries`
  }
}

/** A pooled item with its bookkeeping. */
interface Slot<A> {
  readonly value: A
  readonly createdAt: number
  uses: number
  inUse: boolean
}

/** A running pool. */
export interface ResourcePool<A, E> {
  /** An item for the scope's lifetime. Fails with the acquire error `E`, `PoolTimeout` or `PoolUnhealthy`. */
  readonly get: Effect.Effect<A, E | PoolTimeout | PoolUnhealthy, Scope.Scope>
  /** `{ size, idle, inUse }` now */
  readonly stats: () => { readonly size: number; readonly idle: number; readonly inUse: number }
}

/**
 * Builds a pool in the current scope. `acquire` makes an item (its own finalizers release it); `healthCheck`,
 * when given, says whether an item is still usable. Fails with `InvalidOptions` naming the path.
 */
export const make = <A, E, R>(
  options: ResourcePoolOptions & {
    readonly acquire: Effect.Effect<A, E, R>
    readonly healthCheck?: (item: A) => Effect.Effect<boolean, unknown>
  }
): Effect.Effect<ResourcePool<A, E>, InvalidOptions, R | Scope.Scope> =>
  Effect.gen(function*() {
    const { acquire, healthCheck, ...rest } = options
    const decoded = validate(ResourcePoolOptions, rest, "resource pool options")
    if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
    const o = decoded.success
    const millis = (
      d: Duration.Input | undefined
    ) => (d === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(d)))
    const max = o.max ?? 10
    const min = Math.min(o.min ?? 0, max)
    const maxAge = millis(o.maxAge)
    const timeout = millis(o.acquireTimeout)
    const attributes = { pool: o.name }
    const sizeGauge = Metric.gauge("troupe_pool_size", { description: "items in the pool", attributes })
    const idleGauge = Metric.gauge("troupe_pool_idle", { description: "idle items in the pool", attributes })
    const inUseGauge = Metric.gauge("troupe_pool_in_use", { description: "items in use", attributes })
    const waitHistogram = Metric.histogram("troupe_pool_wait_seconds", {
      description: "time to get an item, seconds",
      boundaries: Metric.boundariesFromIterable([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]),
      attributes
    })
    const timeouts = Metric.counter("troupe_pool_timeouts_total", {
      description: "acquire timeouts",
      incremental: true,
      attributes
    })

    // bounded by `max` (+ items being released)
    const slots = new Set<Slot<A>>()
    const gauges = Effect.suspend(() => {
      let inUse = 0
      for (const s of slots) if (s.inUse) inUse++
      return Effect.all([
        Metric.update(sizeGauge, slots.size),
        Metric.update(idleGauge, slots.size - inUse),
        Metric.update(inUseGauge, inUse)
      ], { discard: true })
    })
    const pool = yield* Pool.makeWithTTL({
      acquire: Effect.gen(function*() {
        const value = yield* acquire
        const slot: Slot<A> = { value, createdAt: yield* Clock.currentTimeMillis, uses: 0, inUse: false }
        slots.add(slot)
        yield* Effect.addFinalizer(() => Effect.andThen(Effect.sync(() => slots.delete(slot)), gauges))
        yield* gauges
        return slot
      }),
      min,
      max,
      timeToLive: o.idleTimeToLive ?? 60_000,
      timeToLiveStrategy: "usage"
    })
    const healthy = (slot: Slot<A>) =>
      healthCheck === undefined ? Effect.succeed(true) : Effect.orElseSucceed(healthCheck(slot.value), () => false)
    const tooOld = (slot: Slot<A>, now: number) => maxAge !== undefined && now - slot.createdAt >= maxAge

    const tries = max + 1
    // each try leases in its own scope: a rejected item goes back (invalidated) at once, the handed-out one lives
    // until the caller's scope closes
    // (uninterruptible but for the wait in `Pool.get` and the health check, so a lease is never lost between the
    // get and the finalizer)
    const getOne: Effect.Effect<A, E | PoolUnhealthy, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const outer = yield* Effect.scope
        for (let i = 0; i < tries; i++) {
          const lease = yield* Scope.make()
          const exit = yield* Effect.exit(restore(Scope.provide(Pool.get(pool), lease)))
          if (Exit.isFailure(exit)) {
            yield* Scope.close(lease, exit)
            return yield* Effect.failCause(exit.cause)
          }
          const slot = exit.value
          const now = yield* Clock.currentTimeMillis
          // the health check is interruptible (an acquireTimeout cuts it short); a check that does not complete
          // (interrupted, or a defect) invalidates its item and gives the lease back, so nothing leaks
          // the lease closes before the invalidation: invalidating a borrowed item makes `Pool` acquire its
          // replacement at once, so for a moment `max + 1` items would exist
          const check = restore(healthy(slot)).pipe(
            Effect.onError(() => Effect.andThen(Scope.close(lease, Exit.void), Pool.invalidate(pool, slot)))
          )
          if (tooOld(slot, now) || !(yield* check)) {
            yield* Scope.close(lease, Exit.void)
            yield* Pool.invalidate(pool, slot)
            continue
          }
          slot.inUse = true
          slot.uses++
          yield* gauges
          yield* Scope.addFinalizer(
            outer,
            Effect.gen(function*() {
              slot.inUse = false
              const at = yield* Clock.currentTimeMillis
              const recycle = (o.maxUses !== undefined && slot.uses >= o.maxUses) || tooOld(slot, at)
              yield* Scope.close(lease, Exit.void)
              if (recycle) yield* Pool.invalidate(pool, slot)
              yield* gauges
            })
          )
          return slot.value
        }
        return yield* Effect.fail(new PoolUnhealthy({ pool: o.name, tries }))
      })
    )

    const get: ResourcePool<A, E>["get"] = Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const got = timeout === undefined ? getOne : getOne.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.andThen(
              Metric.update(timeouts, 1),
              Effect.fail(new PoolTimeout({ pool: o.name, timeoutMillis: timeout }))
            )
        })
      )
      const value = yield* got
      yield* Metric.update(waitHistogram, ((yield* Clock.currentTimeMillis) - start) / 1000)
      return value
    })

    if (o.idleCheckInterval !== undefined && healthCheck !== undefined) {
      const checkTimeout = o.healthCheckTimeout ?? o.acquireTimeout ?? o.idleCheckInterval
      // the idle items of the moment, all at once (at most `max`), each check bounded: a hung one is cut and counts
      // as unhealthy
      const sweep = Effect.suspend(() =>
        Effect.forEach(
          [...slots].filter((slot) => !slot.inUse),
          (slot) =>
            healthy(slot).pipe(
              Effect.timeoutOrElse({ duration: checkTimeout, orElse: () => Effect.succeed(false) }),
              Effect.flatMap((ok) => ok ? Effect.void : Pool.invalidate(pool, slot))
            ),
          { concurrency: "unbounded", discard: true }
        )
      )
      yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(o.idleCheckInterval)))
    }

    return {
      get,
      stats: () => {
        let inUse = 0
        for (const s of slots) if (s.inUse) inUse++
        return { size: slots.size, idle: slots.size - inUse, inUse }
      }
    }
  })

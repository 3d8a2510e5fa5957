/**
 * Single-flight coordination for `getOrCompute`: concurrent misses on one key share one computation.
 *
 * Mirrors Go's `singleflight` and Caffeine's `AsyncCache` loading semantics, built from Effect primitives
 * (`Deferred`, `Fiber`, `Scope`); Effect's own `Cache` coalesces lookups too, but it is a separate cache with
 * its own storage, so the coordination is hand-rolled here over the troupe store.
 *
 * The computation runs in its own fiber, forked into the cache's scope, not in the caller's fiber. Callers are
 * *waiters* on a `Deferred`. An interrupted waiter only leaves: the computation continues for the others, so an
 * interrupted caller never poisons the entry. When the last waiter leaves, the flight is removed and its fiber
 * interrupted, so the next caller starts a fresh computation. `invalidate` / `invalidateKey` (used by `put`,
 * `delete` and `clear`) detach matching flights: their waiters still get the result, but it is not stored and new
 * callers start afresh, so a delete racing a computation never resurrects an old value and a racing put wins.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Fiber } from "effect"
import type * as Scope from "effect/Scope"

/** One in-flight computation. */
export interface Flight {
  readonly key: string
  readonly deferred: Deferred.Deferred<unknown, unknown>
  waiters: number
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Set by `invalidate`: the result must not be stored. */
  invalidated: boolean
}

/** The single-flight table of one cache. */
export interface SingleFlight {
  /**
   * Joins the flight for `key`, starting `fill(flight)` in a new fiber when there is none. `onJoin` runs when
   * the caller joined an existing flight (for the `coalesced` statistic).
   */
  readonly join: <A, E, R>(
    key: string,
    fill: (flight: Flight) => Effect.Effect<A, E, R>,
    onJoin: () => void
  ) => Effect.Effect<A, E, R>
  /** Detaches every flight whose key satisfies `predicate` (see the module doc). */
  readonly invalidate: (predicate: (key: string) => boolean) => void
  /** Detaches the flight of `key`, if any (a `put` racing a computation wins over its result). */
  readonly invalidateKey: (key: string) => void
  /** Number of flights in progress. */
  readonly size: () => number
}

/** Makes a single-flight table whose computation fibers live in `scope`. */
export const makeSingleFlight = (scope: Scope.Scope): SingleFlight => {
  const flights = new Map<string, Flight>()

  const leave = (flight: Flight): Effect.Effect<void> =>
    Effect.suspend(() => {
      flight.waiters--
      if (flight.waiters > 0) return Effect.void
      if (flights.get(flight.key) === flight) flights.delete(flight.key)
      const fiber = flight.fiber
      // Nobody waits any more: stop the computation without blocking the leaving caller.
      return fiber === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(Fiber.interrupt(fiber), scope))
    })

  const join = <A, E, R>(
    key: string,
    fill: (flight: Flight) => Effect.Effect<A, E, R>,
    onJoin: () => void
  ): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const existing = flights.get(key)
        const flight: Flight = existing ?? {
          key,
          deferred: Deferred.makeUnsafe<unknown, unknown>(),
          waiters: 0,
          fiber: undefined,
          invalidated: false
        }
        flight.waiters++
        // the flight's deferred is completed by the leader's lookup, which yields A or fails with E
        const wait = restore(Deferred.await(flight.deferred) as Effect.Effect<A, E>).pipe(
          Effect.onInterrupt(() => leave(flight))
        )
        if (existing !== undefined) {
          onJoin()
          return wait
        }
        flights.set(key, flight)
        const run = fill(flight).pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (flights.get(key) === flight) flights.delete(key)
              return Deferred.done(flight.deferred, exit)
            })
          )
        )
        return Effect.forkIn(run, scope).pipe(
          Effect.flatMap((fiber) => {
            flight.fiber = fiber
            return wait
          })
        )
      })
    )

  const invalidate = (predicate: (key: string) => boolean): void => {
    for (const [key, flight] of flights) {
      if (predicate(key)) {
        flight.invalidated = true
        flights.delete(key)
      }
    }
  }

  const invalidateKey = (key: string): void => {
    if (flights.size === 0) return
    const flight = flights.get(key)
    if (flight !== undefined) {
      flight.invalidated = true
      flights.delete(key)
    }
  }

  return { join, invalidate, invalidateKey, size: () => flights.size }
}

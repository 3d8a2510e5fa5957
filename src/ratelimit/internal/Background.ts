/**
 * Supervision of the RateLimiter's long-lived fibers (the idle-key sweeper and the interval-refill ticker):
 * they run as `ChildSpec.task` workers under a one-for-one troupe `Supervisor` (OTP restart intensity: at
 * most `maxRestarts` restarts within `maxSeconds`), started in the layer's scope, so a crashing sweeper is
 * restarted and closing the layer shuts the tree down in order (lifecycle events go to `Lifecycle`).
 *
 * This file is the one place where the RateLimiter starts background fibers.
 */
import { type Clock, Deferred, Duration, Effect, type Scope } from "effect"
import { ChildSpec, Supervisor } from "../../runtime/index.ts"

/** A background fiber of the limiter (a sweeper), run as a supervised child. */
export interface BackgroundChild {
  readonly id: string
  readonly run: Effect.Effect<unknown, unknown>
}

/** How the limiter's background children are supervised. */
export interface SuperviseOptions {
  readonly name: string
  readonly children: ReadonlyArray<BackgroundChild>
  readonly maxRestarts?: number
  readonly maxSeconds?: number
}

/** Starts the children under a one-for-one supervisor owned by the current scope. */
export const supervise = (options: SuperviseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Supervisor.start({
    name: options.name,
    strategy: "oneForOne",
    maxRestarts: options.maxRestarts ?? 3,
    maxSeconds: options.maxSeconds ?? 5,
    children: options.children.map((child) => ChildSpec.task({ id: child.id, run: child.run }))
  }).pipe(Effect.asVoid, Effect.orDie)

/**
 * A sweep loop that never catches up: it sweeps, then sleeps until the next entry is due (at least `intervalMs`
 * after this sweep), or — when nothing in the store can expire — until `wake.poke(at)` reports a new expiry.
 * `Schedule.spaced` would instead wake once per interval of every jump of the clock: a `TestClock.setTime(1e12)`
 * made it sweep 10⁹ times in a row. Here a jump costs one sweep per distinct due time still in the store
 * (one, for a store whose entries are all due by then). `sweep(now)` returns the earliest time an entry left in
 * the store becomes due (`Infinity`: none).
 */
export class SweepWake {
  /** when the loop will next sweep (Infinity: it waits for a poke) */
  planned = Number.NEGATIVE_INFINITY
  /** the loop never sweeps before this (last sweep + interval) */
  floor = Number.NEGATIVE_INFINITY
  pokedAt = Number.POSITIVE_INFINITY
  signal: Deferred.Deferred<void> | undefined = undefined

  /** An entry becomes due at `at`: wakes the loop early if it planned to sweep later. Cheap on hot paths. */
  poke(at: number): void {
    // at most one wake-up per sweep: the loop sweeps no sooner than `floor` anyway
    const t = at > this.floor ? at : this.floor
    if (t >= this.planned) return
    this.planned = t
    if (t < this.pokedAt) this.pokedAt = t
    if (this.signal !== undefined) Deferred.doneUnsafe(this.signal, Effect.void)
  }
}

/** Runs `sweep` every interval; after a clock jump it runs once, not once per missed interval. */
export const sweepLoop = (
  clock: Clock.Clock,
  intervalMs: number,
  wake: SweepWake,
  sweep: (now: number) => number
): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      const last = clock.currentTimeMillisUnsafe()
      wake.pokedAt = Number.POSITIVE_INFINITY
      wake.floor = last + intervalMs
      const nextDue = sweep(last)
      let target = nextDue === Number.POSITIVE_INFINITY ? nextDue : Math.max(last + intervalMs, nextDue)
      while (true) {
        const signal = Deferred.makeUnsafe<void>()
        wake.signal = signal
        wake.planned = target
        if (target === Number.POSITIVE_INFINITY) yield* Deferred.await(signal)
        else {yield* Effect.raceFirst(
            clock.sleep(Duration.millis(Math.max(0, target - clock.currentTimeMillisUnsafe()))),
            Deferred.await(signal)
          )}
        wake.signal = undefined
        if (clock.currentTimeMillisUnsafe() >= target) break
        target = Math.max(last + intervalMs, wake.pokedAt)
        if (clock.currentTimeMillisUnsafe() >= target) break
      }
    }
  })

/**
 * Clocks for cross-process tests: a manual clock (time set by the test) and a skewed clock (the live clock plus
 * a fixed offset), each a full Effect `Clock` to provide to a layer as `Clock.Clock`.
 */
import { Clock, Effect } from "effect"

const liveClock = (): Clock.Clock => Effect.runSync(Clock.clockWith(Effect.succeed))

/** A clock whose `now` is `offsetMs` ahead of (or behind, when negative) the live clock; it sleeps in real time. */
export const skewedClock = (offsetMs: number): Clock.Clock => {
  const base = liveClock()
  const now = () => base.currentTimeMillisUnsafe() + offsetMs
  const nanos = () => BigInt(Math.round(now() * 1e6))
  return {
    currentTimeMillisUnsafe: now,
    currentTimeMillis: Effect.sync(now),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: base.monotonicTimeNanos,
    sleep: (duration) => base.sleep(duration)
  } as Clock.Clock // the fields of Effect 4.1's Clock interface
}

/** A clock that reads `time.now` (set by the test); sleeping is not supported (nothing in these tests sleeps). */
export const manualClock = (time: { now: number }): Clock.Clock => {
  const base = liveClock()
  const nanos = () => BigInt(Math.round(time.now * 1e6))
  return {
    currentTimeMillisUnsafe: () => time.now,
    currentTimeMillis: Effect.sync(() => time.now),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: base.monotonicTimeNanos,
    sleep: (duration) => base.sleep(duration)
  } as Clock.Clock // the fields of Effect 4.1's Clock interface
}

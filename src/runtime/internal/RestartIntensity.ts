/**
 * Restart intensity: at most `maxRestarts` restarts within any `maxSeconds` window.
 *
 * Mirrors OTP's `supervisor:add_restart/1`: each restart is recorded with the current time, records older than
 * the period are dropped (a record exactly `maxSeconds` old still counts, as `R >= Now - Period` does in OTP),
 * and the restart that makes the count exceed `maxRestarts` is refused: the supervisor gives up. OTP counts in
 * whole seconds; troupe counts in milliseconds of Effect's `Clock`, so windows are exact under `TestClock`.
 * A cascade (one_for_all, rest_for_one) is one restart.
 *
 * The flags are validated as OTP validates them: `maxRestarts` (intensity) a non-negative integer, `maxSeconds`
 * (period) a positive integer number of seconds. A period in milliseconds is an explicit option, `maxMillis`
 * (a positive integer; not together with `maxSeconds`). Defaults are Elixir's, 3 restarts in 5 seconds (OTP's own
 * default is 1 in 5).
 *
 * The Clock never goes backwards, so timestamps arrive in order: the window is a deque whose expired head is
 * dropped as time passes, which makes each restart O(1) amortized even with a large intensity.
 */
import { Result, Schema } from "effect"
import type { InvalidOptions } from "../RuntimeError.ts"
import * as Options from "./Options.ts"

/** Elixir's defaults (OTP: 1 restart in 5 s). */
export const DEFAULT_MAX_RESTARTS = 3
export const DEFAULT_MAX_SECONDS = 5

/** The intensity flags' schema fields, for a supervisor's options struct. */
export const IntensityFields = {
  maxRestarts: Schema.optional(Options.NonNegativeInt),
  maxSeconds: Schema.optional(Options.PositiveInt),
  maxMillis: Schema.optional(Options.PositiveInt)
}

export interface IntensityOptions {
  readonly maxRestarts?: number | undefined
  readonly maxSeconds?: number | undefined
  readonly maxMillis?: number | undefined
}

/** The intensity period in ms, after the fields passed `IntensityFields`; `maxSeconds` with `maxMillis` is invalid. */
export const periodMillis = (options: IntensityOptions, subject: string): Result.Result<number, InvalidOptions> => {
  if (options.maxMillis !== undefined) {
    if (options.maxSeconds !== undefined) {
      return Result.fail(
        Options.invalid(subject, "maxMillis", "give the intensity period as maxSeconds or as maxMillis, not both")
      )
    }
    return Result.succeed(options.maxMillis)
  }
  return Result.succeed((options.maxSeconds ?? DEFAULT_MAX_SECONDS) * 1000)
}

export class RestartWindow {
  private readonly times: Array<number> = []
  private head = 0

  /** Records a restart at `now`; returns whether it is allowed (the count within the window ≤ `maxRestarts`). */
  add(now: number, maxRestarts: number, periodMillis: number): boolean {
    const threshold = now - periodMillis
    const times = this.times
    // head < times.length, so the element exists
    while (this.head < times.length && (times[this.head] as number) < threshold) this.head++
    if (this.head > 1024 && this.head * 2 > times.length) {
      times.splice(0, this.head)
      this.head = 0
    }
    times.push(now)
    return times.length - this.head <= maxRestarts
  }

  /** Restarts currently inside the window (as of the last `add`). */
  get size(): number {
    return this.times.length - this.head
  }
}

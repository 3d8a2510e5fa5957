/**
 * Restart backoff delays, with Akka's `BackoffSupervisor` / `restartWithBackoff` semantics.
 *
 * The n-th consecutive restart (n from 0) waits `min(max, min × 2^n)`, multiplied by `1 + random × randomFactor`
 * (then capped again at `max × (1 + randomFactor)` as Akka does not cap after jitter; troupe keeps Akka's
 * formula). The attempt count resets to 0 when the child had been running for at least `resetAfter` when it
 * crashed. Pure: the random draw comes from Effect's `Random` (seedable in tests).
 */

export interface BackoffSettings {
  readonly minMillis: number
  readonly maxMillis: number
  readonly randomFactor: number
  readonly resetAfterMillis: number
}

/** The attempt number to use for this crash, given the previous one and how long the child ran. */
export const nextAttempt = (settings: BackoffSettings, previousAttempt: number, ranForMillis: number): number =>
  ranForMillis >= settings.resetAfterMillis ? 0 : previousAttempt

/** Akka's `calculateDelay(restartCount, min, max, randomFactor)`, with `random` in [0, 1). */
export const delayMillis = (settings: BackoffSettings, attempt: number, random: number): number => {
  const exponential = settings.minMillis * Math.pow(2, Math.min(attempt, 52))
  const capped = Math.min(settings.maxMillis, exponential)
  return Math.round(capped * (1 + random * settings.randomFactor))
}

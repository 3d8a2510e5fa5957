/**
 * Restart intensity: at most `maxRestarts` restarts within any `maxSeconds` window.
 *
 * Mirrors OTP's `supervisor:add_restart/1`: each restart is recorded with the current time, records older than
 * the period are dropped (a record exactly `maxSeconds` old still counts, as `R >= Now - Period` does in OTP),
 * and the restart that makes the count exceed `maxRestarts` is refused: the supervisor gives up. OTP counts in
 * whole seconds; troupe counts in milliseconds of Effect's `Clock`, so windows are exact under `TestClock`.
 * A cascade (one_for_all, rest_for_one) is one restart. Pure: the supervisor owns the array.
 */

/** Records a restart at `now`; returns the kept timestamps and whether the restart is allowed. */
export const addRestart = (
  restarts: ReadonlyArray<number>,
  now: number,
  maxRestarts: number,
  periodMillis: number
): { readonly restarts: ReadonlyArray<number>; readonly allowed: boolean } => {
  const threshold = now - periodMillis
  const kept = restarts.filter((at) => at >= threshold)
  kept.push(now)
  return { restarts: kept, allowed: kept.length <= maxRestarts }
}

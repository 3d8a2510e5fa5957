/**
 * Restart intensity: at most `maxRestarts` restarts within any `maxSeconds` window.
 *
 * Mirrors OTP's `supervisor:add_restart/1`: each restart is recorded with the current time, records older than
 * the period are dropped (a record exactly `maxSeconds` old still counts, as `R >= Now - Period` does in OTP),
 * and the restart that makes the count exceed `maxRestarts` is refused: the supervisor gives up. OTP counts in
 * whole seconds; troupe counts in milliseconds of Effect's `Clock`, so windows are exact under `TestClock`.
 * A cascade (one_for_all, rest_for_one) is one restart.
 *
 * The Clock never goes backwards, so timestamps arrive in order: the window is a deque whose expired head is
 * dropped as time passes, which makes each restart O(1) amortized even with a large intensity.
 */
export class RestartWindow {
  private readonly times: Array<number> = []
  private head = 0

  /** Records a restart at `now`; returns whether it is allowed (the count within the window ≤ `maxRestarts`). */
  add(now: number, maxRestarts: number, periodMillis: number): boolean {
    const threshold = now - periodMillis
    const times = this.times
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

/**
 * One real-time watchdog per connection, shared by every command on it (the Redis rate limiter's script
 * runner and the cache's Redis tier): a command registers an entry, a single lazily armed, unref'd timer
 * fails the entries older than the timeout. Hand-rolled because a per-call timer (`setTimeout` /
 * `Effect.timeout` / `AbortSignal.timeout`) costs several µs per call (measured in bench/ratelimit and
 * bench/cache).
 */
/**
 * A real-time watchdog over in-flight commands (hand-rolled; a per-call `Effect.timeout` or node-redis's
 * per-command `AbortSignal.timeout` both cost several µs per call, measured). Each call costs one small
 * entry in an insertion-ordered `Set`; a single lazily armed, unref'd timer runs only while commands are in
 * flight and fails every command older than `timeoutMs`. A timeout is therefore detected between `timeoutMs`
 * and `1.25 × timeoutMs` after the command was sent.
 */
export class Watchdog {
  readonly timeoutMs: number
  readonly entries = new Set<WatchdogEntry>()
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  closed = false

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  enter(entry: WatchdogEntry): void {
    this.entries.add(entry)
    if (this.timer === undefined && !this.closed) this.arm()
  }

  arm(): void {
    this.timer = setTimeout(() => this.sweep(), Math.max(5, Math.ceil(this.timeoutMs / 4)))
    this.timer.unref?.()
  }

  sweep(): void {
    this.timer = undefined
    const deadline = Date.now() - this.timeoutMs
    for (const entry of this.entries) {
      if (entry.sentAt > deadline) break // insertion order = send order: the rest are younger
      this.entries.delete(entry)
      entry.expire()
    }
    if (this.entries.size > 0 && !this.closed) this.arm()
  }

  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

export interface WatchdogEntry {
  readonly sentAt: number
  readonly expire: () => void
}

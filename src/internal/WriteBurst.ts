/**
 * A write gate for one Redis connection that splits a burst of commands into two socket writes, so that Redis
 * starts on the first part while Node is still producing the rest. Used by the Redis script runner (the rate
 * limiter's and the budget store's connection).
 *
 * Why: node-redis writes every command queued during one macrotask in a single write (one `setImmediate`).
 * When 64 callers are resumed by one read of replies, their 64 small `EVALSHA` commands leave in one write and
 * fit in one 16 KB read on the server, so Node and Redis take turns and each sits idle half the time (measured:
 * Node at 0.57 of a core, Redis at 0.40, at 64 concurrent checks). Sending the first 16 at once and the rest one
 * turn later lets the two overlap: in paired probes (troupe and rate-limiter-flexible alternating, one tier),
 * 64 fibers went from 0.95–1.00× the peer's checks/s to 1.27–1.40×, and 1,000 fibers from 1.02–1.14× to
 * 1.15–1.18× (CPU per check 7.8–8.8 µs → 7.0–7.1 µs: fewer, fuller reads of replies). A fixed
 * cap per turn (16 every turn) lost at 1,000 fibers (0.73×), where Node is the busy side and every extra write
 * costs; so only the first part of a burst is split off. node-redis has no option for this (its write
 * scheduling is internal), which is why it is hand-rolled.
 *
 * The rules:
 * - Within one turn of the event loop, the first `limit` commands are written to the client at once; later ones
 *   wait in a FIFO backlog, and the whole backlog is written at the start of the next turn, after the client's
 *   own write of the first part. A lone command (a sequential caller) arms no `setImmediate`: its count
 *   resets in a microtask, so it costs one microtask per command (a per-command `setImmediate` put
 *   `ratelimit.check.redis.1-tier` at 0.98–1.03× the peer, the microtask at 0.97; resetting every burst in a
 *   microtask instead lost a fifth of the gain at 64 fibers, 1.34–1.44× against 1.58–1.72×, paired probes).
 * - Order is kept: once a backlog exists, a new command joins it, so no command overtakes an earlier one.
 * - No cancellation: a command whose caller is interrupted while it waits is still written at the next turn,
 *   as it would have been had it gone to the client at once (node-redis never takes back a queued command
 *   either). Cancelling cost an interruption finalizer per waiting call (Effect's `callback` pushes a frame
 *   for each): 9.2–10.7 µs of CPU per check at 1,000 fibers with it, 8.0–8.5 without.
 * - A single caller (one command per turn) is never delayed.
 * - Bound: the backlog holds only commands submitted since the last turn, one per waiting caller; it is
 *   emptied every turn.
 */

export class WriteBurst {
  readonly limit: number
  /** commands written in the current turn */
  private sent = 0
  /** a `setImmediate` for the next turn is pending */
  private armed = false
  /** commands waiting for the next turn, in submission order */
  private backlog: Array<() => void> = []

  constructor(limit: number) {
    this.limit = limit
  }

  /** Writes now, or queues `write` for the next turn (see the rules). */
  submit(write: () => void): void {
    if (this.backlog.length === 0 && this.sent < this.limit) {
      const first = this.sent++ === 0
      write()
      // armed after the write, so this turn's client write goes before the backlog; a lone command (a
      // sequential caller) resets the count in a microtask instead of arming a `setImmediate`
      if (!first) this.arm()
      else if (!this.armed) queueMicrotask(this.reset)
      return
    }
    this.backlog.push(write)
    this.arm()
  }

  /** a burst of one command is over: the count starts again, unless a turn is armed (it resets it) */
  private readonly reset = (): void => {
    if (!this.armed) this.sent = 0
  }

  private arm(): void {
    if (this.armed) return
    this.armed = true
    setImmediate(this.turn)
  }

  private readonly turn = (): void => {
    this.armed = false
    this.sent = 0
    if (this.backlog.length === 0) return
    this.flush()
    this.arm() // the flushed commands count for this turn; the next turn resets the count
  }

  private flush(): void {
    const backlog = this.backlog
    this.backlog = []
    this.sent += backlog.length
    for (const write of backlog) write()
  }
}

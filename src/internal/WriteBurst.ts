/**
 * A write gate for one Redis connection that splits a burst of commands into two socket writes, so that Redis
 * starts on the first part while Node is still producing the rest. Used by the Redis script runner (the rate
 * limiter's and the budget store's connection).
 *
 * Why: node-redis writes every command queued during one macrotask in a single write (one `setImmediate`).
 * When 64 callers are resumed by one read of replies, their 64 small `EVALSHA` commands leave in one write and
 * fit in one 16 KB read on the server, so Node and Redis take turns and each sits idle half the time (measured:
 * Node at 0.57 of a core, Redis at 0.40, at 64 concurrent checks). Sending the first 16 at once and the rest one
 * turn later lets the two overlap: `ratelimit.throughput.redis.1-tier.c64` went from 0.97–0.99× the peer to
 * 1.38–1.62× in paired probes, and the 1,000-fiber row did not lose (1.04–1.16× against 1.05–1.09×). A fixed
 * cap per turn (16 every turn) lost at 1,000 fibers (0.73×), where Node is the busy side and every extra write
 * costs; so only the first part of a burst is split off. node-redis has no option for this (its write
 * scheduling is internal), which is why it is hand-rolled.
 *
 * The rules:
 * - Within one turn of the event loop, the first `limit` commands are written to the client at once; later ones
 *   wait in a FIFO backlog, and the whole backlog is written at the start of the next turn, after the client's
 *   own write of the first part.
 * - Order is kept: once a backlog exists, a new command joins it, so no command overtakes an earlier one.
 * - A command cancelled while it waits (its caller interrupted) is never written.
 * - A single caller (one command per turn) is never delayed.
 * - Bound: the backlog holds only commands submitted since the last turn, one per waiting caller; it is
 *   emptied every turn.
 */

/** A command waiting in the backlog; `cancel` drops it if it has not been written yet. */
export interface WriteTicket {
  readonly cancel: () => void
}

const written: WriteTicket = { cancel: () => undefined }

export class WriteBurst {
  readonly limit: number
  /** commands written in the current turn */
  private sent = 0
  /** a `setImmediate` for the next turn is pending */
  private armed = false
  /** commands waiting for the next turn, in submission order; `undefined` marks a cancelled one */
  private backlog: Array<(() => void) | undefined> = []

  constructor(limit: number) {
    this.limit = limit
  }

  /** Writes now, or queues `write` for the next turn (see the rules); the ticket cancels a queued write. */
  submit(write: () => void): WriteTicket {
    if (this.backlog.length === 0 && this.sent < this.limit) {
      this.sent++
      write()
      this.arm() // armed after the write, so this turn's client write goes before the backlog
      return written
    }
    const backlog = this.backlog
    const index = backlog.push(write) - 1
    this.arm()
    return {
      cancel: () => {
        if (backlog[index] === write) backlog[index] = undefined
      }
    }
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
    if (this.sent > 0) this.arm()
  }

  private flush(): void {
    const backlog = this.backlog
    this.backlog = []
    for (const write of backlog) {
      if (write === undefined) continue
      this.sent++
      write()
    }
  }
}

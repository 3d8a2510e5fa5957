/**
 * The invalidations a degraded Redis tier remembers (writes, deletes and clears it could not send), replayed when
 * Redis answers again (see `RedisTier.ts`).
 *
 * Bounded: past `max` keys and prefixes, the set collapses to *overflow* (the whole tier prefix is cleared on
 * replay). `take` hands the current set to a replay and starts a fresh one, so what is remembered while the
 * replay runs is the next batch, never wiped with the batch being replayed; `restore` merges back a batch whose
 * replay did not complete.
 *
 * @since 0.1.0
 */

/** A batch of pending invalidations taken for a replay. */
export interface PendingBatch {
  readonly keys: ReadonlySet<string>
  readonly prefixes: ReadonlySet<string>
  readonly overflow: boolean
}

/** The pending invalidations of one Redis tier. */
export class PendingInvalidations {
  private keys = new Set<string>()
  private prefixes = new Set<string>()
  private overflow = false
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  /** Remembers a key (a write or a delete) and/or a prefix (a clear). */
  remember(key: string | undefined, prefix: string | undefined): void {
    if (this.overflow) return
    if (key !== undefined) this.keys.add(key)
    if (prefix !== undefined) this.prefixes.add(prefix)
    if (this.keys.size + this.prefixes.size > this.max) this.collapse()
  }

  /** The pending batch (`undefined` when there is none), swapped for an empty set. */
  take(): PendingBatch | undefined {
    if (!this.overflow && this.keys.size === 0 && this.prefixes.size === 0) return undefined
    const batch = { keys: this.keys, prefixes: this.prefixes, overflow: this.overflow }
    this.keys = new Set()
    this.prefixes = new Set()
    this.overflow = false
    return batch
  }

  /** Puts back a batch whose replay did not complete, merged with what was remembered meanwhile (bounded). */
  restore(batch: PendingBatch): void {
    if (batch.overflow) return this.collapse()
    for (const prefix of batch.prefixes) this.remember(undefined, prefix)
    for (const key of batch.keys) this.remember(key, undefined)
  }

  private collapse(): void {
    this.overflow = true
    this.keys.clear()
    this.prefixes.clear()
  }
}

/**
 * `LruMap`: a `Map` with a capacity that evicts the least recently used entry — the bound of the pipeline's
 * per-model tables (resolved targets, rate-limit keys), which any caller naming `provider:<anything>` grows, and of
 * the recommendations' prompt and model-pair tables.
 *
 * A `get` hit moves the entry to the most recent end (delete + set: `Map` keeps insertion order), a `set` past the
 * capacity drops the oldest. Hand-rolled: effect has no synchronous LRU map (its `Cache` is effectful and per-key
 * fibered), and the cache's `LruStore` carries TTLs and byte accounting this does not need.
 *
 * @since 0.1.0
 */

/** A size-bounded map evicting the least recently used entry. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>()
  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity))
  }

  get size(): number {
    return this.map.size
  }

  /** The value of `key` (marked most recently used), or `undefined`. */
  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value === undefined) return undefined
    if (this.map.size > 1) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  /** Stores `value` under `key` as the most recently used, evicting the least recently used past the capacity. */
  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
  }

  /** The values, least recently used first. */
  values(): IterableIterator<V> {
    return this.map.values()
  }

  delete(key: K): boolean {
    return this.map.delete(key)
  }

  clear(): void {
    this.map.clear()
  }
}

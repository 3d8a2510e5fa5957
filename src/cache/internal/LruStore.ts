/**
 * The L1 store: a synchronous, hand-rolled LRU over a `Map` plus an intrusive doubly-linked list.
 *
 * Hand-rolled because Effect has no synchronous bounded LRU (Effect's `Cache` is a lookup cache whose every
 * operation is an Effect, and it keys a `MutableHashMap` by structural equality). A lookup here is one
 * `Map.get` and, on a hit, a handful of pointer writes to move the entry to the head, which keeps the in-fiber
 * `get` within a small factor of `lru-cache` (see `bench/cache.bench.ts`). It mirrors `lru-cache`'s behaviour:
 * `maxEntries` and `maxBytes` bounds, per-entry absolute expiry, and eviction from the least recently used end.
 *
 * The store is not an Effect API: it is owned by one cache instance, which reads the clock, counts statistics
 * through the `onEvict` callback, and exposes Effects. Expired entries are removed when they are read (so they
 * are never returned) and by `sweep`, which the cache's supervised sweeper calls on a Schedule.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import { SweepWake } from "../../ratelimit/internal/Background.ts"

/** Why an entry left the store. */
export type EvictionReason = "ttl" | "capacity" | "manual"

/** The rarely set part of an entry: tokens a hit saves, a cached failure. */
interface EntryExtra {
  readonly tokens: number
  readonly failure: Cause.Cause<unknown> | undefined
}

/**
 * One entry. Kept small (`cache.bytes-per-entry`): seven fields, the rarely set `tokens` and `failure` in one
 * optional `extra` object, and no stored `Option` — `hit` builds `Option.some(value)` when a hit asks for it (one
 * small allocation per hit instead of one object per entry). Fields are mutable so that overwriting a key updates
 * its entry in place.
 */
export class LruEntry<A> {
  readonly key: string
  value: A
  /** Absolute expiry time in Clock milliseconds; `Infinity` = never. */
  expiresAt: number
  bytes: number
  extra: EntryExtra | undefined
  prev: LruEntry<A> | undefined
  next: LruEntry<A> | undefined

  constructor(
    key: string,
    value: A,
    expiresAt: number,
    bytes: number,
    tokens: number,
    failure: Cause.Cause<unknown> | undefined
  ) {
    this.key = key
    this.value = value
    this.expiresAt = expiresAt
    this.bytes = bytes
    this.extra = extraOf(tokens, failure)
    this.prev = undefined
    this.next = undefined
  }

  /** What `get` returns for this entry: `Option.some(value)`. */
  get hit(): Option.Option<A> {
    return Option.some(this.value)
  }
  /** Tokens a hit saves (LLM responses); 0 when unknown. */
  get tokens(): number {
    return this.extra === undefined ? 0 : this.extra.tokens
  }
  /** A cached failure of `getOrCompute` (then `value` is unused). */
  get failure(): Cause.Cause<unknown> | undefined {
    return this.extra?.failure
  }
}

const extraOf = (tokens: number, failure: Cause.Cause<unknown> | undefined): EntryExtra | undefined =>
  tokens === 0 && failure === undefined ? undefined : { tokens, failure }

/** A bounded LRU map from string keys to `LruEntry`s. `now` is read only when an expiry must be checked. */
export class LruStore<A> {
  private readonly map = new Map<string, LruEntry<A>>()
  /** Most recently used. */
  private head: LruEntry<A> | undefined = undefined
  /** Least recently used. */
  private tail: LruEntry<A> | undefined = undefined
  private totalBytes = 0
  readonly maxEntries: number
  readonly maxBytes: number
  private readonly onEvict: (entry: LruEntry<A>, reason: EvictionReason) => void
  private readonly now: () => number
  /** wakes the sweep loop when an entry expires before its planned sweep (see `Background.sweepLoop`) */
  readonly wake = new SweepWake()
  /** after a `sweep`: the earliest expiry among the entries kept (Infinity: none) */
  nextDue = Infinity

  constructor(
    maxEntries: number,
    maxBytes: number,
    onEvict: (entry: LruEntry<A>, reason: EvictionReason) => void,
    now: () => number
  ) {
    this.maxEntries = maxEntries
    this.maxBytes = maxBytes
    this.onEvict = onEvict
    this.now = now
  }

  get size(): number {
    return this.map.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  private expired(entry: LruEntry<A>): boolean {
    return entry.expiresAt !== Infinity && entry.expiresAt <= this.now()
  }

  /**
   * Returns the live entry for `key` and marks it most recently used. An expired entry is removed (reason
   * `ttl`) and `undefined` is returned, so an expired entry is never observed even before a sweep.
   */
  get(key: string): LruEntry<A> | undefined {
    const entry = this.map.get(key)
    if (entry === undefined) return undefined
    if (this.expired(entry)) {
      this.remove(entry, "ttl")
      return undefined
    }
    if (entry !== this.head) {
      this.unlink(entry)
      this.linkHead(entry)
    }
    return entry
  }

  /** Like `get` without touching the recency order. */
  peek(key: string): LruEntry<A> | undefined {
    const entry = this.map.get(key)
    if (entry === undefined) return undefined
    if (this.expired(entry)) {
      this.remove(entry, "ttl")
      return undefined
    }
    return entry
  }

  /**
   * Writes `key` as most recently used (updating its entry in place when present), then evicts from the LRU end
   * while over a bound. Overwriting is not an eviction.
   */
  set(
    key: string,
    value: A,
    expiresAt: number,
    bytes: number,
    tokens: number,
    failure: Cause.Cause<unknown> | undefined
  ): void {
    if (expiresAt < this.wake.planned) this.wake.poke(expiresAt)
    let entry = this.map.get(key)
    if (entry !== undefined) {
      this.totalBytes += bytes - entry.bytes
      entry.value = value
      entry.expiresAt = expiresAt
      entry.bytes = bytes
      entry.extra = extraOf(tokens, failure)
      if (entry !== this.head) {
        this.unlink(entry)
        this.linkHead(entry)
      }
    } else {
      entry = new LruEntry(key, value, expiresAt, bytes, tokens, failure)
      this.map.set(key, entry)
      this.linkHead(entry)
      this.totalBytes += bytes
    }
    while ((this.map.size > this.maxEntries || this.totalBytes > this.maxBytes) && this.tail !== undefined) {
      const victim = this.tail
      if (victim === entry) break
      this.remove(victim, this.expired(victim) ? "ttl" : "capacity")
    }
  }

  /** Removes `key` (reason `manual`, or `ttl` if it had expired); returns whether a live entry was removed. */
  delete(key: string): boolean {
    const entry = this.map.get(key)
    if (entry === undefined) return false
    const live = !this.expired(entry)
    this.remove(entry, live ? "manual" : "ttl")
    return live
  }

  /** Removes every entry whose key starts with `prefix` (all entries for `""`), reason `manual` (or `ttl`). */
  clearPrefix(prefix: string): number {
    let removed = 0
    for (const entry of this.map.values()) {
      if (prefix === "" || entry.key.startsWith(prefix)) {
        this.remove(entry, this.expired(entry) ? "ttl" : "manual")
        removed++
      }
    }
    return removed
  }

  /** Removes every expired entry (reason `ttl`); returns how many. */
  sweep(): number {
    const now = this.now()
    let removed = 0
    let next = Infinity
    for (const entry of this.map.values()) {
      if (entry.expiresAt <= now) {
        this.remove(entry, "ttl")
        removed++
      } else if (entry.expiresAt < next) next = entry.expiresAt
    }
    this.nextDue = next
    return removed
  }
  /** Keys from most to least recently used (for tests and debugging). */
  keys(): Array<string> {
    const keys: Array<string> = []
    for (let e = this.head; e !== undefined; e = e.next) keys.push(e.key)
    return keys
  }

  private remove(entry: LruEntry<A>, reason: EvictionReason): void {
    this.map.delete(entry.key)
    this.unlink(entry)
    this.totalBytes -= entry.bytes
    this.onEvict(entry, reason)
  }

  private linkHead(entry: LruEntry<A>): void {
    entry.prev = undefined
    entry.next = this.head
    if (this.head !== undefined) this.head.prev = entry
    this.head = entry
    if (this.tail === undefined) this.tail = entry
  }

  private unlink(entry: LruEntry<A>): void {
    if (entry.prev !== undefined) entry.prev.next = entry.next
    else if (this.head === entry) this.head = entry.next
    if (entry.next !== undefined) entry.next.prev = entry.prev
    else if (this.tail === entry) this.tail = entry.prev
    entry.prev = undefined
    entry.next = undefined
  }
}

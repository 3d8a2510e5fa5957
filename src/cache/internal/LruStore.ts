/**
 * The L1 store: a synchronous, hand-rolled LRU in a struct-of-arrays layout.
 *
 * Rules:
 * - An entry lives in a *slot*: an index into parallel arrays (`keys`, `values`, `next`/`prev` links, `sizes`,
 *   and, only once used, `expiry` and `extras`). A `Map` goes from key to slot. There is no per-entry object.
 * - The recency order is a circular doubly-linked list through `next`/`prev`, with slot 0 as the sentinel:
 *   `next[0]` is the most recently used slot, `prev[0]` the least. Freed slots are chained through `next` and
 *   reused before the arrays grow (a free-slot stack that costs no extra memory).
 * - The arrays grow lazily, doubling up to the bound (`maxEntries` + 2 slots: the sentinel, and one entry over
 *   the bound while `set` evicts), so a cache configured for 1,000,000 entries starts with a few dozen slots.
 *   The links are `Uint16Array`s when the bound fits in 16 bits (the default 10,000 entries), else `Uint32Array`s.
 * - `expiry` (absolute Clock milliseconds, a `Float64Array`) exists only after the first entry with a finite
 *   expiry; until then every entry is immortal and `sweep` has nothing to scan. `extras` (tokens a hit saves, a
 *   cached failure) is a plain array created at the first entry that has one.
 * - A slot number returned by `get`/`peek` is valid until the next call that writes to the store; read it at
 *   once with `valueAt`, `tokensAt`, `failureAt`, `hitAt`.
 * - Behaviour is `lru-cache`'s: `maxEntries` and `maxBytes` bounds, per-entry absolute expiry, eviction from the
 *   least recently used end (an expired victim is reported as `ttl`), overwriting updates in place and is not an
 *   eviction. Expired entries are removed when read (so never returned) and by `sweep`, which the cache's
 *   supervised sweeper calls on a Schedule.
 *
 * Why struct-of-arrays: the previous store kept one object per entry (seven fields plus a boxed double for the
 * expiry), which measured 197 bytes per entry against `lru-cache`'s 116 (`cache.bytes-per-entry`, 100k
 * string entries, ratio 1.71). With the node object gone an entry costs its `Map` slot, two array slots, two
 * links and an 8-byte size: 120 bytes against `lru-cache`'s 117 in the same run (ratio 1.03; 133 bytes at the
 * default 10,000-entry bound, was 211), the key and value strings included. Fewer objects also means a cheaper
 * `put` (no allocation for a new key) and less for the GC to trace (`bench/cache.bench.ts`, README cache rows).
 *
 * Hand-rolled because Effect has no synchronous bounded LRU (Effect's `Cache` is a lookup cache whose every
 * operation is an Effect, and it keys a `MutableHashMap` by structural equality). The store is not an Effect API:
 * it is owned by one cache instance, which reads the clock, counts statistics through the `onEvict` callback,
 * and exposes Effects. `test/cache/internal/LruStore.test.ts` checks it against a reference model.
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

/** `get`/`peek` result when there is no live entry. */
export const NO_SLOT = -1

/** Slots allocated by the first write; the arrays double from here up to the bound. */
const INITIAL_SLOTS = 32

type Links = Uint16Array | Uint32Array

/** A bounded LRU map from string keys to slots. `now` is read only when an expiry must be checked. */
export class LruStore<A> {
  private readonly map = new Map<string, number>()
  /** `keys[slot]`; `undefined` for the sentinel and free slots. */
  private readonly keyList: Array<string | undefined> = [undefined]
  /** `values[slot]`; `undefined` for the sentinel and free slots. */
  private readonly valueList: Array<A | undefined> = [undefined]
  private next: Links
  private prev: Links
  private sizes: Float64Array
  /** Absolute expiry per slot (Clock ms, `Infinity` = never); `undefined` until an entry has a finite one. */
  private expiry: Float64Array | undefined = undefined
  /** Tokens and failure per slot; `undefined` until an entry has one. */
  private extras: Array<EntryExtra | undefined> | undefined = undefined
  /** Slots the arrays hold. */
  private capacity: number
  /** Slots ever handed out (slot 0, the sentinel, included); the next fresh slot. */
  private used = 1
  /** First free slot (chained through `next`); 0 = none. */
  private freeHead = 0
  private totalBytes = 0
  /** The most slots the store can need: the sentinel, `maxEntries` entries and one being inserted. */
  private readonly slotLimit: number
  readonly maxEntries: number
  readonly maxBytes: number
  private readonly onEvict: (key: string, reason: EvictionReason) => void
  private readonly now: () => number
  /** wakes the sweep loop when an entry expires before its planned sweep (see `Background.sweepLoop`) */
  readonly wake = new SweepWake()
  /** after a `sweep`: the earliest expiry among the entries kept (Infinity: none) */
  nextDue = Infinity

  constructor(
    maxEntries: number,
    maxBytes: number,
    onEvict: (key: string, reason: EvictionReason) => void,
    now: () => number
  ) {
    this.maxEntries = maxEntries
    this.maxBytes = maxBytes
    this.onEvict = onEvict
    this.now = now
    this.slotLimit = maxEntries + 2
    this.capacity = Math.min(INITIAL_SLOTS, this.slotLimit)
    this.next = this.makeLinks(this.capacity)
    this.prev = this.makeLinks(this.capacity)
    this.sizes = new Float64Array(this.capacity)
  }

  get size(): number {
    return this.map.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  /**
   * Returns the slot of the live entry for `key` and marks it most recently used, or `NO_SLOT`. An expired entry
   * is removed (reason `ttl`) and `NO_SLOT` returned, so an expired entry is never observed even before a sweep.
   */
  get(key: string): number {
    const slot = this.map.get(key)
    if (slot === undefined) return NO_SLOT
    const expiry = this.expiry
    if (expiry !== undefined && expiry[slot]! <= this.now()) {
      this.remove(slot, "ttl")
      return NO_SLOT
    }
    const next = this.next
    if (next[0] !== slot) {
      const prev = this.prev
      // unlink
      const p = prev[slot]!
      const n = next[slot]!
      next[p] = n
      prev[n] = p
      // link at the head
      const head = next[0]!
      next[slot] = head
      prev[slot] = 0
      prev[head] = slot
      next[0] = slot
    }
    return slot
  }

  /** Like `get` without touching the recency order. */
  peek(key: string): number {
    const slot = this.map.get(key)
    if (slot === undefined) return NO_SLOT
    if (this.expiredAt(slot)) {
      this.remove(slot, "ttl")
      return NO_SLOT
    }
    return slot
  }

  /** The value in `slot` (a slot from `get`/`peek`). */
  valueAt(slot: number): A {
    // a live slot always holds a value of type A (only the sentinel and free slots hold `undefined`)
    return this.valueList[slot] as A
  }

  /** What `get` returns for the entry in `slot`: `Option.some(value)`. */
  hitAt(slot: number): Option.Option<A> {
    // as in `valueAt`
    return Option.some(this.valueList[slot] as A)
  }

  /** Tokens a hit on `slot` saves (LLM responses); 0 when unknown. */
  tokensAt(slot: number): number {
    return this.extras?.[slot]?.tokens ?? 0
  }

  /** The cached failure of `getOrCompute` in `slot` (then its value is unused), if any. */
  failureAt(slot: number): Cause.Cause<unknown> | undefined {
    return this.extras?.[slot]?.failure
  }

  /** Absolute expiry of `slot` in Clock milliseconds; `Infinity` = never. */
  expiresAt(slot: number): number {
    return this.expiry === undefined ? Infinity : this.expiry[slot]!
  }

  /**
   * Writes `key` as most recently used (updating its slot in place when present), then evicts from the LRU end
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
    if (expiresAt !== Infinity) {
      if (expiresAt < this.wake.planned) this.wake.poke(expiresAt)
      if (this.expiry === undefined) this.expiry = new Float64Array(this.capacity).fill(Infinity)
    }
    let slot = this.map.get(key)
    const next = this.next
    const prev = this.prev
    if (slot !== undefined) {
      this.totalBytes += bytes - this.sizes[slot]!
      this.valueList[slot] = value
      if (next[0] !== slot) {
        const p = prev[slot]!
        const n = next[slot]!
        next[p] = n
        prev[n] = p
        this.linkHead(slot)
      }
    } else {
      slot = this.allocate(key, value)
      this.map.set(key, slot)
      this.linkHead(slot)
      this.totalBytes += bytes
    }
    this.sizes[slot] = bytes
    if (this.expiry !== undefined) this.expiry[slot] = expiresAt
    if (tokens !== 0 || failure !== undefined) (this.extras ??= [])[slot] = { tokens, failure }
    else if (this.extras !== undefined) this.extras[slot] = undefined
    if (this.map.size > this.maxEntries || this.totalBytes > this.maxBytes) this.evictFor(slot)
  }

  /** Removes `key` (reason `manual`, or `ttl` if it had expired); returns whether a live entry was removed. */
  delete(key: string): boolean {
    const slot = this.map.get(key)
    if (slot === undefined) return false
    const live = !this.expiredAt(slot)
    this.remove(slot, live ? "manual" : "ttl")
    return live
  }

  /** Removes every entry whose key starts with `prefix` (all entries for `""`), reason `manual` (or `ttl`). */
  clearPrefix(prefix: string): number {
    let removed = 0
    const keyList = this.keyList
    for (let slot = 1; slot < this.used; slot++) {
      const key = keyList[slot]
      if (key !== undefined && (prefix === "" || key.startsWith(prefix))) {
        this.remove(slot, this.expiredAt(slot) ? "ttl" : "manual")
        removed++
      }
    }
    return removed
  }

  /** Removes every expired entry (reason `ttl`); returns how many. */
  sweep(): number {
    const expiry = this.expiry
    let removed = 0
    let nextDue = Infinity
    if (expiry !== undefined) {
      const now = this.now()
      const keyList = this.keyList
      for (let slot = 1; slot < this.used; slot++) {
        if (keyList[slot] === undefined) continue
        const at = expiry[slot]!
        if (at <= now) {
          this.remove(slot, "ttl")
          removed++
        } else if (at < nextDue) nextDue = at
      }
    }
    this.nextDue = nextDue
    return removed
  }

  /** Keys from most to least recently used (for tests and debugging). */
  keys(): Array<string> {
    const keys: Array<string> = []
    for (let slot = this.next[0]!; slot !== 0; slot = this.next[slot]!) keys.push(this.keyList[slot] as string)
    return keys
  }

  private expiredAt(slot: number): boolean {
    const expiry = this.expiry
    return expiry !== undefined && expiry[slot] !== Infinity && expiry[slot]! <= this.now()
  }

  /** Evicts from the LRU end, never `keep` (the entry just written), while over a bound. */
  private evictFor(keep: number): void {
    while (this.map.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const victim = this.prev[0]!
      if (victim === keep || victim === 0) break
      this.remove(victim, this.expiredAt(victim) ? "ttl" : "capacity")
    }
  }

  private remove(slot: number, reason: EvictionReason): void {
    // a slot in the map always holds its key
    const key = this.keyList[slot] as string
    this.map.delete(key)
    const next = this.next
    const prev = this.prev
    const p = prev[slot]!
    const n = next[slot]!
    next[p] = n
    prev[n] = p
    // an empty store holds 0 bytes exactly: no rounding left over from fractional sizes (a caller's `sizeOf`)
    this.totalBytes = this.map.size === 0 ? 0 : this.totalBytes - this.sizes[slot]!
    this.keyList[slot] = undefined
    this.valueList[slot] = undefined
    if (this.extras !== undefined) this.extras[slot] = undefined
    next[slot] = this.freeHead
    this.freeHead = slot
    this.onEvict(key, reason)
  }

  private linkHead(slot: number): void {
    const next = this.next
    const head = next[0]!
    next[slot] = head
    this.prev[slot] = 0
    this.prev[head] = slot
    next[0] = slot
  }

  /** A slot for a new entry holding `key` and `value`: a freed one, else a fresh one (growing the arrays). */
  private allocate(key: string, value: A): number {
    const free = this.freeHead
    if (free !== 0) {
      this.freeHead = this.next[free]!
      this.keyList[free] = key
      this.valueList[free] = value
      return free
    }
    if (this.used === this.capacity) this.grow()
    const slot = this.used++
    // `slot` is the arrays' length: these writes append, keeping the arrays packed
    this.keyList.push(key)
    this.valueList.push(value)
    return slot
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.slotLimit)
    this.next = this.copyLinks(this.next, capacity)
    this.prev = this.copyLinks(this.prev, capacity)
    const sizes = new Float64Array(capacity)
    sizes.set(this.sizes)
    this.sizes = sizes
    if (this.expiry !== undefined) {
      const expiry = new Float64Array(capacity).fill(Infinity)
      expiry.set(this.expiry)
      this.expiry = expiry
    }
    this.capacity = capacity
  }

  private makeLinks(length: number): Links {
    return this.slotLimit <= 0x10000 ? new Uint16Array(length) : new Uint32Array(length)
  }

  private copyLinks(links: Links, length: number): Links {
    const copy = this.makeLinks(length)
    copy.set(links)
    return copy
  }
}

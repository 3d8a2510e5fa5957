/**
 * The validation cache of `Keys` (opt-in, `Keys.make({ cache })`): accepted key records by the HMAC of the presented
 * key, for `ttl` ms, least recently used dropped past `maxEntries`. Rules:
 * - only a key whose secret matched is cached, under the HMAC of the whole key: an unknown or forged key always
 *   misses, so a hit reveals nothing an attacker could not already compute (validation of a wrong key still does
 *   the store read and the constant-time compare);
 * - `revoke` and `rotate` in this process forget the key's entry at once; a revocation made by another process
 *   applies within `ttl`;
 * - expiry and revocation times are still checked against the clock on every hit;
 * - a store read that started before a `forget` is not cached (`epoch`): a validation racing a revocation in this
 *   process cannot put the record from before it back.
 * @internal
 */
import type { KeyRecord } from "../KeyRecord.ts"

interface Entry {
  readonly record: KeyRecord
  readonly cachedAt: number
}

export class KeyCache {
  private readonly byHash = new Map<string, Entry>()
  private readonly hashOfId = new Map<string, string>()
  /** bumped by every `forget`: a read started at an older epoch is not cached */
  epoch = 0
  readonly ttlMillis: number
  readonly maxEntries: number
  constructor(ttlMillis: number, maxEntries: number) {
    this.ttlMillis = ttlMillis
    this.maxEntries = maxEntries
  }

  /** The cached record of the key whose HMAC is `hash`, when cached less than `ttl` ago. */
  get(hash: string, now: number): KeyRecord | undefined {
    const entry = this.byHash.get(hash)
    if (entry === undefined) return undefined
    if (now - entry.cachedAt >= this.ttlMillis || now < entry.cachedAt) {
      this.drop(hash, entry.record.id)
      return undefined
    }
    // most recently used last
    this.byHash.delete(hash)
    this.byHash.set(hash, entry)
    return entry.record
  }

  /** Caches `record`, unless a `forget` ran since `readAt` (the epoch when its store read started). */
  set(hash: string, record: KeyRecord, now: number, readAt: number = this.epoch): void {
    if (readAt !== this.epoch) return
    this.dropId(record.id)
    if (this.byHash.size >= this.maxEntries) {
      const oldest = this.byHash.entries().next()
      if (oldest.done !== true) this.drop(oldest.value[0], oldest.value[1].record.id)
    }
    this.byHash.set(hash, { record, cachedAt: now })
    this.hashOfId.set(record.id, hash)
  }

  /** Forgets the key with public id `id` (revoked or rotated here). */
  forget(id: string): void {
    this.epoch++
    this.dropId(id)
  }

  private dropId(id: string): void {
    const hash = this.hashOfId.get(id)
    if (hash !== undefined) this.drop(hash, id)
  }

  get size(): number {
    return this.byHash.size
  }

  private drop(hash: string, id: string): void {
    this.byHash.delete(hash)
    if (this.hashOfId.get(id) === hash) this.hashOfId.delete(id)
  }
}

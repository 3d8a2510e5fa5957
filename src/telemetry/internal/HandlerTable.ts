/**
 * The handler table behind `attach` / `detach` / `emit`: a synchronous, mutable index owned by one `TelemetryHub`.
 *
 * Mirrors `:telemetry`'s ETS handler table (`:telemetry_handler_table`), which is likewise read without locks on
 * every `execute/3` and rewritten on `attach`/`detach`. Hand-rolled: Effect has no event-bus primitive with
 * prefix routing (`PubSub` would add a queue hop and a fiber per subscriber, which `:telemetry` deliberately avoids).
 *
 * Hot-path choices:
 * - `attach`/`detach` rebuild a prefix → handlers index and drop the resolved caches; they are rare.
 * - `resolve(name)` is what `emit` pays: one `WeakMap` lookup keyed by the name array's identity (catalogue
 *   constants are frozen arrays, so repeated emits of the same constant hit it), falling back to one string-keyed
 *   `Map` lookup, and only on a first sighting a walk over the name's prefixes. With no handler the result is a
 *   shared empty array, so `emit` allocates nothing else.
 * - A plain mutable structure rather than a `Ref`: JavaScript runs one fiber step at a time, every method here is
 *   synchronous and never yields, so no other fiber can observe a half-updated table; a `Ref` would only add an
 *   allocation and an indirection per emit.
 *
 * @since 0.1.0
 */
import type { EventName, Handler, HandlerInfo } from "../TelemetryEvent.ts"
import { eventKey } from "../TelemetryEvent.ts"

/** An attached handler. `active` turns false on detach so an in-flight dispatch skips it. */
export interface HandlerEntry {
  readonly id: string
  readonly prefixes: ReadonlyArray<EventName>
  readonly handler: Handler
  readonly order: number
  active: boolean
}

const none: ReadonlyArray<HandlerEntry> = Object.freeze([])

/** Whether `name` begins with every segment of `prefix`, in order. */
const startsWithSegments = (name: EventName, prefix: EventName): boolean =>
  prefix.length <= name.length && prefix.every((segment, i) => name[i] === segment)
const maxResolvedNames = 10_000

export class HandlerTable {
  private readonly entries = new Map<string, HandlerEntry>()
  private byPrefix = new Map<string, Array<HandlerEntry>>()
  private resolvedByKey = new Map<string, ReadonlyArray<HandlerEntry>>()
  private resolvedByIdentity = new WeakMap<EventName, ReadonlyArray<HandlerEntry>>()
  private nextOrder = 0

  has(id: string): boolean {
    return this.entries.has(id)
  }

  /** Adds a handler; the caller has checked that `id` is free. */
  attach(id: string, prefixes: ReadonlyArray<EventName>, handler: Handler): void {
    this.entries.set(id, { id, prefixes, handler, order: this.nextOrder++, active: true })
    this.rebuild()
  }

  /** Removes a handler; returns whether it was attached. */
  detach(id: string): boolean {
    const entry = this.entries.get(id)
    if (entry === undefined) return false
    entry.active = false
    this.entries.delete(id)
    this.rebuild()
    return true
  }

  /** Removes `entry` only if it is still the one attached under its id (a failing handler may have been replaced). */
  detachEntry(entry: HandlerEntry): boolean {
    return this.entries.get(entry.id) === entry ? this.detach(entry.id) : false
  }

  /**
   * The attached handlers, or (as `:telemetry.list_handlers/1`) those attached to a name that starts with `prefix`,
   * compared segment by segment: `troupe.a` lists a handler on `troupe.a.x` but not one on `troupe.ab`.
   */
  list(prefix?: EventName): ReadonlyArray<HandlerInfo> {
    const all = [...this.entries.values()].map(({ id, prefixes }) => ({ id, prefixes }))
    if (prefix === undefined) return all
    return all.filter((h) => h.prefixes.some((p) => startsWithSegments(p, prefix)))
  }

  /** The handlers for an emitted name, in attach order, each at most once. */
  resolve(name: EventName): ReadonlyArray<HandlerEntry> {
    const cached = this.resolvedByIdentity.get(name)
    if (cached !== undefined) return cached
    const key = eventKey(name)
    let resolved = this.resolvedByKey.get(key)
    if (resolved === undefined) {
      resolved = this.compute(name)
      if (this.resolvedByKey.size >= maxResolvedNames) this.resolvedByKey.clear()
      this.resolvedByKey.set(key, resolved)
    }
    this.resolvedByIdentity.set(name, resolved)
    return resolved
  }

  private compute(name: EventName): ReadonlyArray<HandlerEntry> {
    if (this.byPrefix.size === 0) return none
    let found: Array<HandlerEntry> | undefined
    for (let length = 1; length <= name.length; length++) {
      const matches = this.byPrefix.get(eventKey(name.slice(0, length)))
      if (matches === undefined) continue
      found ??= []
      for (const entry of matches) if (!found.includes(entry)) found.push(entry)
    }
    if (found === undefined) return none
    found.sort((a, b) => a.order - b.order)
    return Object.freeze(found)
  }

  private rebuild(): void {
    const byPrefix = new Map<string, Array<HandlerEntry>>()
    for (const entry of this.entries.values()) {
      for (const prefix of entry.prefixes) {
        const key = eventKey(prefix)
        const list = byPrefix.get(key)
        if (list === undefined) byPrefix.set(key, [entry])
        else if (!list.includes(entry)) list.push(entry)
      }
    }
    this.byPrefix = byPrefix
    this.resolvedByKey = new Map()
    this.resolvedByIdentity = new WeakMap()
  }
}

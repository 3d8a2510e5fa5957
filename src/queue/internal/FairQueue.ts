/**
 * The waiting line of a `RequestQueue`: strict priority between classes, weighted fair queuing across tenants
 * inside a class (start-time fair queuing with virtual finish tags). Pure and synchronous; the Effect side lives in
 * `RequestQueue.ts`.
 *
 * Rules:
 * - **Strict priority**: a waiting `critical` entry is always served before any `high`, and so on down to `low`.
 * - **Weighted fair queuing**: inside a class, an entry of tenant `t` gets the tag
 *   `F = max(V, last[t]) + 1 / weight(t)` where `V` is the tag of the class's last served entry; the smallest tag is
 *   served first (ties by arrival). So while tenants `i` and `j` both wait, their services since both started
 *   waiting, divided by their weights, differ by at most `1/w_i + 1/w_j` (the WFQ bound the property test checks).
 * - **Removal at once**: `remove` takes an entry out of the counts immediately (the heap slot is skipped lazily and
 *   compacted when dead slots outnumber live ones).
 */

/** An entry of the line. */
export interface Entry<A> {
  readonly value: A
  readonly priority: number
  readonly tenant: string
  readonly deadline: number
  tag: number
  seq: number
  live: boolean
}

interface Heap<A> {
  items: Array<Entry<A>>
  dead: number
  virtual: number
}

const less = <A>(a: Entry<A>, b: Entry<A>): boolean => a.tag < b.tag || (a.tag === b.tag && a.seq < b.seq)

const siftUp = <A>(items: Array<Entry<A>>, index: number): void => {
  const item = items[index]!
  while (index > 0) {
    const parent = (index - 1) >> 1
    const p = items[parent]!
    if (!less(item, p)) break
    items[index] = p
    index = parent
  }
  items[index] = item
}

const siftDown = <A>(items: Array<Entry<A>>, index: number): void => {
  const n = items.length
  const item = items[index]!
  for (;;) {
    const l = 2 * index + 1
    if (l >= n) break
    const r = l + 1
    const c = r < n && less(items[r]!, items[l]!) ? r : l
    if (!less(items[c]!, item)) break
    items[index] = items[c]!
    index = c
  }
  items[index] = item
}

const popRaw = <A>(heap: Heap<A>): Entry<A> | undefined => {
  const items = heap.items
  const top = items[0]
  if (top === undefined) return undefined
  const last = items.pop()!
  if (items.length > 0) {
    items[0] = last
    siftDown(items, 0)
  }
  return top
}

/** Strict-priority, weighted-fair line of entries (priority 0 is served first). */
export class FairQueue<A> {
  private readonly heaps: Array<Heap<A>>
  private readonly last = new Map<string, number>()
  private seq = 0
  /** live entries */
  size = 0

  private readonly weightOf: (tenant: string) => number

  constructor(levels: number, weightOf: (tenant: string) => number) {
    this.weightOf = weightOf
    this.heaps = Array.from({ length: levels }, () => ({ items: [], dead: 0, virtual: 0 }))
  }

  /** Adds an entry and returns it (to `remove` later). */
  push(value: A, priority: number, tenant: string, deadline: number): Entry<A> {
    const heap = this.heaps[priority]!
    const key = `${priority}\u0000${tenant}`
    const start = Math.max(heap.virtual, this.last.get(key) ?? 0)
    const tag = start + 1 / this.weightOf(tenant)
    this.last.set(key, tag)
    const entry: Entry<A> = { value, priority, tenant, deadline, tag, seq: this.seq++, live: true }
    heap.items.push(entry)
    siftUp(heap.items, heap.items.length - 1)
    this.size++
    return entry
  }

  /** Takes the next entry: the highest class, then the smallest tag. */
  pop(): Entry<A> | undefined {
    for (const heap of this.heaps) {
      for (;;) {
        const e = popRaw(heap)
        if (e === undefined) break
        if (!e.live) {
          heap.dead--
          continue
        }
        e.live = false
        heap.virtual = e.tag
        this.size--
        if (heap.items.length === 0) this.forget(e.priority)
        return e
      }
    }
    return undefined
  }

  /** Removes a waiting entry at once; false when it already left. */
  remove(entry: Entry<A>): boolean {
    if (!entry.live) return false
    entry.live = false
    this.size--
    const heap = this.heaps[entry.priority]!
    heap.dead++
    if (heap.dead > 64 && heap.dead > heap.items.length / 2) this.compact(heap)
    return true
  }

  /** The live entry that would be served last in the lowest non-empty class below `priority`, if any. */
  lowestBelow(priority: number): Entry<A> | undefined {
    for (let p = this.heaps.length - 1; p > priority; p--) {
      let worst: Entry<A> | undefined
      for (const e of this.heaps[p]!.items) if (e.live && (worst === undefined || less(worst, e))) worst = e
      if (worst !== undefined) return worst
    }
    return undefined
  }

  /** Live entries whose deadline is at or before `now`. */
  expired(now: number): Array<Entry<A>> {
    const out: Array<Entry<A>> = []
    for (const heap of this.heaps) for (const e of heap.items) if (e.live && e.deadline <= now) out.push(e)
    return out
  }

  private compact(heap: Heap<A>): void {
    heap.items = heap.items.filter((e) => e.live)
    heap.dead = 0
    for (let i = (heap.items.length >> 1) - 1; i >= 0; i--) siftDown(heap.items, i)
  }

  // an empty class forgets its tenants' tags (bounds the table by the waiting tenants)
  private forget(priority: number): void {
    const heap = this.heaps[priority]!
    if (heap.dead > 0) return
    const prefix = `${priority}\u0000`
    for (const key of this.last.keys()) if (key.startsWith(prefix)) this.last.delete(key)
  }
}

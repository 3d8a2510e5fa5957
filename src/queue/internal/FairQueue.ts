/**
 * The waiting line of a `RequestQueue`: strict priority between classes, weighted fair queuing across tenants
 * inside a class (start-time fair queuing with virtual finish tags). Pure and synchronous; the Effect side lives in
 * `RequestQueue.ts`.
 *
 * Rules:
 * - **Strict priority**: a waiting `critical` entry is always served before any `high`, and so on down to `low`.
 * - **Weighted fair queuing**: inside a class, each tenant's waiting entries form a line in arrival order, and the
 *   first of each tenant's line carries the tag `F = max(V, last[t]) + 1 / weight(t)`, where `V` is the tag of the
 *   class's last served entry and `last[t]` the tag of the tenant's last served one; the smallest tag is served
 *   first (ties by arrival). So while tenants `i` and `j` both wait, their services since both started waiting,
 *   divided by their weights, differ by at most `1/w_i + 1/w_j` (the WFQ bound the property test checks, with
 *   removals).
 * - **Removal at once**: `remove` takes an entry out of the counts immediately, and a removed entry no longer counts
 *   against its tenant: when it was first in its tenant's line, the tenant's next entry takes its place (its tag);
 *   a tenant with no waiting entries left is forgotten (its next arrival starts from `V`). Removed slots are skipped
 *   lazily and compacted when they outnumber the live ones.
 */

/** An entry of the line. */
export interface Entry<A> {
  readonly value: A
  readonly priority: number
  readonly tenant: string
  readonly deadline: number
  /** the virtual finish tag, given when the entry becomes the first of its tenant's line */
  tag: number
  seq: number
  live: boolean
}

/** A tenant's waiting entries in one class, in arrival order from `at` on; `entries[at]` is live and in the heap. */
interface Flow<A> {
  entries: Array<Entry<A>>
  at: number
  /** live entries */
  live: number
  /** removed entries after `at`, not yet skipped */
  dead: number
  readonly weight: number
}

interface Heap<A> {
  /** the first entry of each tenant's line (and removed ones, skipped lazily) */
  items: Array<Entry<A>>
  dead: number
  virtual: number
  /** the tenants with waiting entries */
  readonly flows: Map<string, Flow<A>>
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
  private seq = 0
  /** live entries */
  size = 0

  private readonly weightOf: (tenant: string) => number

  constructor(levels: number, weightOf: (tenant: string) => number) {
    this.weightOf = weightOf
    this.heaps = Array.from({ length: levels }, () => ({ items: [], dead: 0, virtual: 0, flows: new Map() }))
  }

  /** Adds an entry and returns it (to `remove` later). */
  push(value: A, priority: number, tenant: string, deadline: number): Entry<A> {
    const heap = this.heaps[priority]!
    const entry: Entry<A> = { value, priority, tenant, deadline, tag: 0, seq: this.seq++, live: true }
    this.size++
    const flow = heap.flows.get(tenant)
    if (flow !== undefined) {
      flow.entries.push(entry)
      flow.live++
      return entry
    }
    // a tenant without waiting entries: its last served tag is at most V, so it starts from V
    const weight = this.weightOf(tenant)
    heap.flows.set(tenant, { entries: [entry], at: 0, live: 1, dead: 0, weight })
    entry.tag = heap.virtual + 1 / weight
    this.enqueue(heap, entry)
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
        const flow = heap.flows.get(e.tenant)!
        this.next(heap, flow, e, e.tag + 1 / flow.weight)
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
    const flow = heap.flows.get(entry.tenant)!
    if (flow.entries[flow.at] === entry) {
      // first in its tenant's line: its slot in the heap is skipped lazily, the tenant's next entry takes its tag
      heap.dead++
      if (heap.dead > 64 && heap.dead > heap.items.length / 2) compact(heap)
      this.next(heap, flow, entry, entry.tag)
    } else {
      flow.live--
      flow.dead++
      if (flow.dead > 64 && flow.dead > flow.live) {
        flow.entries = flow.entries.slice(flow.at).filter((e) => e.live)
        flow.at = 0
        flow.dead = 0
      }
    }
    return true
  }

  /** The live entry that would be served last in the lowest non-empty class below `priority`, if any. */
  lowestBelow(priority: number): Entry<A> | undefined {
    for (let p = this.heaps.length - 1; p > priority; p--) {
      let worst: Entry<A> | undefined
      let worstTag = 0
      for (const flow of this.heaps[p]!.flows.values()) {
        let i = flow.entries.length - 1
        while (!flow.entries[i]!.live) i--
        const last = flow.entries[i]!
        // served after the `live - 1` entries before it, each `1 / weight` later than the first
        const tag = flow.entries[flow.at]!.tag + (flow.live - 1) / flow.weight
        if (worst === undefined || worstTag < tag || (worstTag === tag && worst.seq < last.seq)) {
          worst = last
          worstTag = tag
        }
      }
      if (worst !== undefined) return worst
    }
    return undefined
  }

  /** Live entries whose deadline is at or before `now`. */
  expired(now: number): Array<Entry<A>> {
    const out: Array<Entry<A>> = []
    for (const heap of this.heaps) {
      for (const flow of heap.flows.values()) {
        for (let i = flow.at; i < flow.entries.length; i++) {
          const e = flow.entries[i]!
          if (e.live && e.deadline <= now) out.push(e)
        }
      }
    }
    return out
  }

  private enqueue(heap: Heap<A>, entry: Entry<A>): void {
    heap.items.push(entry)
    siftUp(heap.items, heap.items.length - 1)
  }

  // `first` (the first of `flow`) left the line: the tenant's next live entry, if any, enters the heap with `tag`;
  // a tenant with none left is forgotten (bounds the table by the waiting tenants)
  private next(heap: Heap<A>, flow: Flow<A>, first: Entry<A>, tag: number): void {
    flow.live--
    if (flow.live === 0) {
      heap.flows.delete(first.tenant)
      return
    }
    flow.at++
    while (!flow.entries[flow.at]!.live) {
      flow.at++
      flow.dead--
    }
    if (flow.at > 64 && flow.at > flow.entries.length / 2) {
      flow.entries = flow.entries.slice(flow.at)
      flow.at = 0
    }
    const e = flow.entries[flow.at]!
    e.tag = tag
    this.enqueue(heap, e)
  }
}

const compact = <A>(heap: Heap<A>): void => {
  heap.items = heap.items.filter((e) => e.live)
  heap.dead = 0
  for (let i = (heap.items.length >> 1) - 1; i >= 0; i--) siftDown(heap.items, i)
}

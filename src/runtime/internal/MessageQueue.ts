/**
 * A FIFO ring buffer: the storage behind actor mailboxes and waiting-sender lists.
 *
 * Hand-rolled (Effect's `Queue` wakes waiters through the scheduler of the fiber that created it, which costs a
 * scheduler hop per message; the mailbox needs a plain synchronous buffer and does its own waking). Capacity
 * grows by doubling and never shrinks except through `compact`, which `hibernate` uses to drop memory.
 */
export class MessageQueue<A> {
  private items: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(initialCapacity = 8) {
    this.items = new Array(initialCapacity)
  }

  get length(): number {
    return this.size
  }

  push(item: A): void {
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) % this.items.length] = item
    this.size++
  }

  /** The oldest item, removed; `undefined` when empty. */
  shift(): A | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.size--
    return item
  }

  /** Removes the oldest item that `match`es, keeping every other item in its order; `undefined` when none does. */
  removeFirst(match: (item: A) => boolean): A | undefined {
    const items = this.items
    const slots = items.length
    for (let i = 0; i < this.size; i++) {
      const index = (this.head + i) % slots
      const item = items[index]
      // slots below `size` hold items (only slots past it are empty)
      if (!match(item as A)) continue
      for (let j = i; j < this.size - 1; j++) {
        items[(this.head + j) % slots] = items[(this.head + j + 1) % slots]
      }
      items[(this.head + this.size - 1) % slots] = undefined
      this.size--
      return item
    }
    return undefined
  }

  /** Removes every item for which `keep` is false, preserving order; returns the removed items. */
  removeWhere(drop: (item: A) => boolean): Array<A> {
    const removed: Array<A> = []
    const kept: Array<A> = []
    for (let item = this.shift(); item !== undefined; item = this.shift()) {
      if (drop(item)) removed.push(item)
      else kept.push(item)
    }
    for (const item of kept) this.push(item)
    return removed
  }

  /** Removes and returns every item, oldest first. */
  drain(): Array<A> {
    const out: Array<A> = []
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item)
    return out
  }

  /** Shrinks the backing array to fit (at least 1 slot). */
  compact(): void {
    const items = this.drain()
    this.items = new Array(Math.max(1, items.length))
    for (const item of items) this.push(item)
  }

  private grow(): void {
    const next = new Array<A | undefined>(Math.max(8, this.items.length * 2))
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) % this.items.length]
    this.items = next
    this.head = 0
  }
}

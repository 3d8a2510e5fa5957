/**
 * Property tests (fast-check) of the L1 store and of the memory cache: for random operation sequences and
 * random clock advances, the struct-of-arrays store gives exactly the observable results of a trivially correct
 * reference model (a `Map` plus an array ordered by recency), never holds more than `maxEntries` or `maxBytes`,
 * and never returns an expired entry.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Option, Scope } from "effect"
import fc from "fast-check"
import { makeMemory } from "../../../src/cache/Cache.ts"
import type { EvictionReason } from "../../../src/cache/internal/LruStore.ts"
import { LruStore, NO_SLOT } from "../../../src/cache/internal/LruStore.ts"

type Op =
  | {
    readonly _tag: "set"
    readonly key: string
    readonly size: number
    readonly ttl: number | undefined
    readonly tokens: number
    readonly fail: boolean
  }
  | { readonly _tag: "get"; readonly key: string }
  | { readonly _tag: "peek"; readonly key: string }
  | { readonly _tag: "delete"; readonly key: string }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "sweep" }
  | { readonly _tag: "clearPrefix"; readonly prefix: string }

const opArb = (keyArb: fc.Arbitrary<string>): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      arbitrary: fc.record({
        _tag: fc.constant("set" as const),
        key: keyArb,
        size: fc.integer({ min: 0, max: 6 }),
        ttl: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined, freq: 2 }),
        tokens: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 })),
        fail: fc.boolean()
      }),
      weight: 4
    },
    { arbitrary: fc.record({ _tag: fc.constant("get" as const), key: keyArb }), weight: 3 },
    { arbitrary: fc.record({ _tag: fc.constant("peek" as const), key: keyArb }), weight: 1 },
    { arbitrary: fc.record({ _tag: fc.constant("delete" as const), key: keyArb }), weight: 1 },
    { arbitrary: fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }), weight: 2 },
    { arbitrary: fc.constant({ _tag: "sweep" as const }), weight: 1 },
    {
      arbitrary: fc.record({ _tag: fc.constant("clearPrefix" as const), prefix: fc.constantFrom("", "a", "k1", "zz") }),
      weight: 1
    }
  )

const smallKeys = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "k1", "k12")

interface ModelEntry {
  readonly key: string
  readonly value: number
  readonly expiresAt: number
  readonly bytes: number
  readonly tokens: number
  readonly failure: Cause.Cause<unknown> | undefined
}

/**
 * The reference: a Map of entries plus an array of keys, most recently used first; expiry is lazy exactly as
 * documented (an expired entry stays until it is read, swept, deleted or evicted from the LRU end).
 */
class Model {
  readonly entries = new Map<string, ModelEntry>()
  order: Array<string> = []
  readonly events: Array<string> = []
  now = 0
  readonly maxEntries: number
  readonly maxBytes: number
  constructor(maxEntries: number, maxBytes: number) {
    this.maxEntries = maxEntries
    this.maxBytes = maxBytes
  }

  get bytes(): number {
    let n = 0
    for (const e of this.entries.values()) n += e.bytes
    return n
  }
  private expired(e: ModelEntry): boolean {
    return e.expiresAt <= this.now
  }
  private touch(key: string): void {
    this.order = [key, ...this.order.filter((k) => k !== key)]
  }
  private remove(key: string, reason: EvictionReason): void {
    this.entries.delete(key)
    this.order = this.order.filter((k) => k !== key)
    this.events.push(`${key}:${reason}`)
  }
  get(key: string, touch: boolean): ModelEntry | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    if (this.expired(e)) {
      this.remove(key, "ttl")
      return undefined
    }
    if (touch) this.touch(key)
    return e
  }
  set(entry: ModelEntry): void {
    this.entries.set(entry.key, entry)
    this.touch(entry.key)
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const victim = this.order[this.order.length - 1] as string
      if (victim === entry.key) break
      this.remove(victim, this.expired(this.entries.get(victim) as ModelEntry) ? "ttl" : "capacity")
    }
  }
  delete(key: string): boolean {
    const e = this.entries.get(key)
    if (e === undefined) return false
    const live = !this.expired(e)
    this.remove(key, live ? "manual" : "ttl")
    return live
  }
  clearPrefix(prefix: string): number {
    const doomed = [...this.entries.values()].filter((e) => e.key.startsWith(prefix))
    for (const e of doomed) this.remove(e.key, this.expired(e) ? "ttl" : "manual")
    return doomed.length
  }
  sweep(): { readonly removed: number; readonly nextDue: number } {
    const doomed = [...this.entries.values()].filter((e) => this.expired(e))
    for (const e of doomed) this.remove(e.key, "ttl")
    const nextDue = Math.min(Infinity, ...[...this.entries.values()].map((e) => e.expiresAt))
    return { removed: doomed.length, nextDue }
  }
}

const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()

/** Runs `ops` against the store and the model, asserting identical observable results after every step. */
const agree = (maxEntries: number, maxBytes: number, ops: ReadonlyArray<Op>): void => {
  const model = new Model(maxEntries, maxBytes)
  const events: Array<string> = []
  const store = new LruStore<number>(
    maxEntries,
    maxBytes,
    (key, reason) => events.push(`${key}:${reason}`),
    () => model.now
  )
  const failures = new Map<string, Cause.Cause<unknown>>()
  const observe = (slot: number) =>
    slot === NO_SLOT ? undefined : {
      value: store.valueAt(slot),
      hit: Option.getOrUndefined(store.hitAt(slot)),
      expiresAt: store.expiresAt(slot),
      tokens: store.tokensAt(slot),
      failure: store.failureAt(slot)
    }
  const expect = (e: ModelEntry | undefined) =>
    e === undefined ? undefined : {
      value: e.value,
      hit: e.value,
      expiresAt: e.expiresAt,
      tokens: e.tokens,
      failure: e.failure
    }
  let counter = 0
  for (const op of ops) {
    const eventsBefore = events.length
    let unordered = false
    switch (op._tag) {
      case "advance":
        model.now += op.ms
        break
      case "set": {
        const expiresAt = op.ttl === undefined ? Infinity : model.now + op.ttl
        const failure = op.fail ? (failures.get(op.key) ?? Cause.fail(op.key)) : undefined
        if (failure !== undefined) failures.set(op.key, failure)
        const entry = { key: op.key, value: counter++, expiresAt, bytes: op.size, tokens: op.tokens, failure }
        store.set(op.key, entry.value, expiresAt, op.size, op.tokens, failure)
        model.set(entry)
        break
      }
      case "get":
        assert.deepStrictEqual(observe(store.get(op.key)), expect(model.get(op.key, true)), `get ${op.key}`)
        break
      case "peek":
        assert.deepStrictEqual(observe(store.peek(op.key)), expect(model.get(op.key, false)), `peek ${op.key}`)
        break
      case "delete":
        assert.strictEqual(store.delete(op.key), model.delete(op.key), `delete ${op.key}`)
        break
      case "sweep": {
        const expected = model.sweep()
        assert.strictEqual(store.sweep(), expected.removed, "sweep")
        assert.strictEqual(store.nextDue, expected.nextDue, "nextDue")
        unordered = true
        break
      }
      case "clearPrefix":
        assert.strictEqual(store.clearPrefix(op.prefix), model.clearPrefix(op.prefix), `clearPrefix ${op.prefix}`)
        unordered = true
        break
    }
    // evictions: the same keys and reasons, in the same order (a sweep or clear removes in no defined order)
    const got = events.slice(eventsBefore)
    const want = model.events.slice(eventsBefore)
    if (unordered) assert.deepStrictEqual(sorted(got), sorted(want), `${op._tag} evictions`)
    else assert.deepStrictEqual(got, want, `${op._tag} evictions`)
    assert.strictEqual(store.size, model.entries.size, "size")
    assert.strictEqual(store.bytes, model.bytes, "bytes")
    assert.deepStrictEqual(store.keys(), model.order, "recency order")
    assert.isAtMost(store.size, maxEntries)
    assertSlots(store)
  }
}

/** The slot bookkeeping (private; read through a cast): every slot handed out is live, free, or the sentinel. */
const assertSlots = (store: LruStore<number>): void => {
  const self = store as unknown as {
    readonly next: Uint16Array | Uint32Array
    readonly used: number
    readonly capacity: number
    readonly freeHead: number
  }
  let free = 0
  for (let slot = self.freeHead; slot !== 0; slot = self.next[slot] as number) free++
  assert.strictEqual(1 + store.size + free, self.used, "slots leaked")
  assert.isAtMost(self.used, self.capacity)
  assert.isAtMost(self.capacity, store.maxEntries + 2)
}

describe("LruStore properties", () => {
  it("small bounds: identical to the reference model (gets, evictions, order, bytes, sweeps)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 6, max: 20 }),
        fc.array(opArb(smallKeys), { maxLength: 80 }),
        agree
      ),
      { numRuns: 400 }
    )
  })

  it("bounds past the first allocation (growth, free-slot reuse, 16- and 32-bit links): identical to the model", () => {
    const keyArb = fc.integer({ min: 0, max: 140 }).map((i) => `k${i}`)
    fc.assert(
      fc.property(
        fc.constantFrom(40, 100, 70_000, 1_000_000),
        fc.oneof(fc.constant(Infinity), fc.integer({ min: 100, max: 400 })),
        fc.array(opArb(keyArb), { minLength: 50, maxLength: 400 }),
        agree
      ),
      { numRuns: 100 }
    )
  })

  it("a bound of 1,000,000 entries starts small and grows by doubling", () => {
    const store = new LruStore<number>(1_000_000, Infinity, () => {}, () => 0)
    // the arrays are private; their lengths are what the bound must not preallocate
    const lengths = () => {
      const self = store as unknown as { readonly next: Uint32Array; readonly sizes: Float64Array }
      return [self.next.length, self.sizes.length]
    }
    assert.deepStrictEqual(lengths(), [32, 32])
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, i, Infinity, 1, 0, undefined)
    assert.deepStrictEqual(lengths(), [1024, 1024])
    assert.strictEqual(store.size, 1000)
    assert.strictEqual(store.valueAt(store.get("k0")), 0)
  })
})

describe("memory cache properties", () => {
  it("never more than maxEntries, never an expired value, through the public API", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(opArb(smallKeys), { maxLength: 60 }), (maxEntries, ops) => {
        let now = 0
        const clock: Clock.Clock = {
          currentTimeMillisUnsafe: () => now,
          currentTimeMillis: Effect.sync(() => now),
          currentTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
          currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
          monotonicTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
          monotonicTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
          sleep: () => Effect.never
        }
        const written = new Map<string, { readonly value: string; readonly expiresAt: number }>()
        const scope = Effect.runSync(Scope.make())
        const cache = Effect.runSync(
          makeMemory<string>({ maxEntries }).pipe(Scope.provide(scope), Effect.provideService(Clock.Clock, clock))
        )
        for (const op of ops) {
          if (op._tag === "advance") now += op.ms
          else if (op._tag === "set") {
            const value = `${op.key}@${now}`
            Effect.runSync(cache.put(op.key, value, op.ttl === undefined ? undefined : { ttl: op.ttl }))
            written.set(op.key, { value, expiresAt: op.ttl === undefined ? Infinity : now + op.ttl })
          } else if (op._tag === "get") {
            const got = Effect.runSync(cache.get(op.key))
            if (Option.isSome(got)) {
              const last = written.get(op.key)
              assert.strictEqual(got.value, last?.value, "only the last written value is returned")
              assert.isTrue((last?.expiresAt ?? 0) > now, "never an expired value")
            }
          } else if (op._tag === "delete") Effect.runSync(cache.delete(op.key))
          else if (op._tag === "clearPrefix") Effect.runSync(cache.clear({ prefix: op.prefix }))
          assert.isAtMost(Effect.runSync(cache.stats()).entries, maxEntries)
        }
        Effect.runSync(Scope.close(scope, Exit.void))
      }),
      { numRuns: 200 }
    )
  })
})

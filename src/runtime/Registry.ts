/**
 * Process registries: name → process lookup, and pub/sub over keys.
 *
 * Mirrors Elixir's `Registry`:
 * - `keys: "unique"` — one process per key; registering a taken key fails with `AlreadyStarted` (holding the
 *   current owner's pid). `keys: "duplicate"` — any number of processes per key (pub/sub groups).
 * - Each entry carries a value. Entries are removed automatically when their process exits.
 * - `lookup(key)` returns `[process, value]` entries; `dispatch(key, f)` runs `f` over the entries of a key.
 * - `via(registry, key)` is a name: `Actor.start(b, args, { name: Registry.via(reg, "x") })` registers the actor
 *   before its `init` runs (a taken name → `AlreadyStarted`), and `Actor.call/cast/send(Registry.via(...))`
 *   address it by name. A name needs a unique registry: a start named by `via` on a duplicate registry fails with
 *   `InvalidOptions` at `name`.
 * - Under duplicate keys one process may register the same key several times: each registration is one more
 *   entry, `lookup` lists them in registration order, `keysOf` lists the key once per entry, and `unregister`
 *   removes all of that process's entries under the key (Elixir's rules).
 *
 * Hand-rolled on plain `Map`s (no `Ref`): lookups are synchronous and cost one `Map.get`, which is what a
 * registry on every call path needs. The registry is a value; `Registry.layer` offers one as a service.
 */
import { Context, Effect, Layer } from "effect"
import type * as Actor from "./Actor.ts"
import type * as Behaviour from "./Behaviour.ts"
import * as Options from "./internal/Options.ts"
import type { Process } from "./Process.ts"
import { AlreadyStarted } from "./RuntimeError.ts"

/**
 * Elixir Registry's key modes: `unique` (one process per key; registering a taken key fails with `AlreadyStarted`)
 * or `duplicate` (many processes per key, e.g. for pub/sub).
 */
export type KeyMode = "unique" | "duplicate"

/** One registration: the process and the value registered with it. */
export interface Entry<V> {
  readonly process: Process
  readonly value: V
}

/**
 * A local process registry (Elixir's `Registry`): names or keys to processes, each entry removed when its process
 * exits. Made with `Registry.make`; `Registry.via` gives a name that registers a process at start.
 */
export class ProcessRegistry<K = string, V = unknown> {
  readonly mode: KeyMode
  readonly name: string
  private readonly unique = new Map<K, Entry<V>>()
  /** per key, its entries in registration order (a Set keeps insertion order and deletes one entry at once) */
  private readonly duplicate = new Map<K, Set<Entry<V>>>()
  /** each process's entries per key, and the exit subscription that cleans them up */
  private readonly held = new Map<Process, { entries: Map<K, Array<Entry<V>>>; off: () => void }>()

  constructor(mode: KeyMode, name: string) {
    this.mode = mode
    this.name = name
  }

  /**
   * Registers `process` under `key`; for unique keys a live owner (the same process included) makes this fail
   * with its pid. Under duplicate keys every registration is a new entry, the same process's included.
   */
  registerUnsafe(
    key: K,
    process: Process,
    value: V
  ): { readonly ok: true } | { readonly ok: false; readonly owner: Process } {
    if (process.exitReason !== undefined) return { ok: true } // a dead process would be removed at once
    const entry: Entry<V> = { process, value }
    if (this.mode === "unique") {
      const current = this.unique.get(key)
      if (current !== undefined && current.process.exitReason === undefined) {
        return { ok: false, owner: current.process }
      }
      this.unique.set(key, entry)
    } else {
      let group = this.duplicate.get(key)
      if (group === undefined) this.duplicate.set(key, group = new Set())
      group.add(entry)
    }
    let holding = this.held.get(process)
    if (holding === undefined) {
      holding = { entries: new Map(), off: process.onExit(() => this.removeProcess(process)) }
      this.held.set(process, holding)
    }
    const entries = holding.entries.get(key)
    if (entries === undefined) holding.entries.set(key, [entry])
    else entries.push(entry)
    return { ok: true }
  }

  private removeEntries(key: K, entries: ReadonlyArray<Entry<V>>): void {
    if (this.mode === "unique") {
      const current = this.unique.get(key)
      if (current !== undefined && entries.includes(current)) this.unique.delete(key)
      return
    }
    const group = this.duplicate.get(key)
    if (group === undefined) return
    for (const entry of entries) group.delete(entry)
    if (group.size === 0) this.duplicate.delete(key)
  }

  /** Removes every entry of `process` under `key` (Elixir's `unregister/2`). */
  unregisterUnsafe(key: K, process: Process): void {
    const holding = this.held.get(process)
    const entries = holding?.entries.get(key)
    if (holding === undefined || entries === undefined) return
    this.removeEntries(key, entries)
    holding.entries.delete(key)
    if (holding.entries.size === 0) {
      holding.off()
      this.held.delete(process)
    }
  }

  private removeProcess(process: Process): void {
    const holding = this.held.get(process)
    if (holding === undefined) return
    this.held.delete(process)
    for (const [key, entries] of holding.entries) this.removeEntries(key, entries)
  }

  /** The live process registered under a unique key. */
  whereisUnsafe(key: K): Process | undefined {
    const entry = this.unique.get(key)
    return entry !== undefined && entry.process.exitReason === undefined ? entry.process : undefined
  }

  /** Every live entry under `key`, in registration order. */
  lookupUnsafe(key: K): ReadonlyArray<Entry<V>> {
    if (this.mode === "unique") {
      const entry = this.unique.get(key)
      return entry !== undefined && entry.process.exitReason === undefined ? [entry] : []
    }
    const group = this.duplicate.get(key)
    if (group === undefined) return []
    const out: Array<Entry<V>> = []
    for (const entry of group) if (entry.process.exitReason === undefined) out.push(entry)
    return out
  }

  /** The keys `process` is registered under, a key once per entry (in the order the keys were first registered). */
  keysOfUnsafe(process: Process): ReadonlyArray<K> {
    const out: Array<K> = []
    for (const [key, entries] of this.held.get(process)?.entries ?? []) for (const _ of entries) out.push(key)
    return out
  }

  /** Number of registered entries. */
  get size(): number {
    if (this.mode === "unique") return this.unique.size
    let n = 0
    for (const group of this.duplicate.values()) n += group.size
    return n
  }
}

/** Creates a registry. */
export const make = <K = string, V = unknown>(
  options: { readonly keys: KeyMode; readonly name?: string }
): Effect.Effect<ProcessRegistry<K, V>> =>
  Effect.sync(() => new ProcessRegistry<K, V>(options.keys, options.name ?? `registry(${options.keys})`))

/**
 * Registers `process` under `key` with `value`. Fails with `AlreadyStarted` (holding the owner's pid) when a unique
 * key is held by a live process, the same one included; under duplicate keys it never fails, and a process may
 * register the same key several times (each registration is one more entry, as in Elixir).
 */
export const register = <K, V>(
  registry: ProcessRegistry<K, V>,
  key: K,
  process: Process,
  value: V
): Effect.Effect<void, AlreadyStarted> =>
  Effect.suspend(() => {
    const result = registry.registerUnsafe(key, process, value)
    return result.ok
      ? Effect.void
      : Effect.fail(new AlreadyStarted({ name: `${registry.name}:${String(key)}`, pid: result.owner.pid }))
  })

/** Removes every entry `process` holds under `key` (Elixir's `unregister/2`); nothing when it holds none. */
export const unregister = <K, V>(registry: ProcessRegistry<K, V>, key: K, process: Process): Effect.Effect<void> =>
  Effect.sync(() => registry.unregisterUnsafe(key, process))

/** The live entries under `key`, in registration order. */
export const lookup = <K, V>(registry: ProcessRegistry<K, V>, key: K): Effect.Effect<ReadonlyArray<Entry<V>>> =>
  Effect.sync(() => registry.lookupUnsafe(key))

/** The live process under a unique key, if any. */
export const whereis = <K, V>(registry: ProcessRegistry<K, V>, key: K): Effect.Effect<Process | undefined> =>
  Effect.sync(() => registry.whereisUnsafe(key))

/**
 * Runs `f` with the live entries under `key` (pub/sub over duplicate keys); does nothing when there are none.
 *
 * @example
 * ```ts
 * yield* Registry.dispatch(topics, "orders", (entries) =>
 *   Effect.forEach(entries, (e) => Actor.cast(e.process as OrderListener, event), { discard: true }))
 * ```
 */
export const dispatch = <K, V, E, R>(
  registry: ProcessRegistry<K, V>,
  key: K,
  f: (entries: ReadonlyArray<Entry<V>>) => Effect.Effect<unknown, E, R>
): Effect.Effect<void, E, R> =>
  Effect.suspend(() => {
    const entries = registry.lookupUnsafe(key)
    return entries.length === 0 ? Effect.void : Effect.asVoid(f(entries))
  })

/** The keys `process` holds in `registry`, a key once per entry (twice when registered twice under it). */
export const keysOf = <K, V>(registry: ProcessRegistry<K, V>, process: Process): Effect.Effect<ReadonlyArray<K>> =>
  Effect.sync(() => registry.keysOfUnsafe(process))

/**
 * A name in a unique registry, for `Actor.start({ name })` and for addressing: `Actor.call(via(reg, k), msg)`.
 * A name needs a unique registry (as Elixir's `:via`): with a duplicate registry, `Actor.start` under it fails
 * with `InvalidOptions` at `name` ("via needs a unique registry"), and addressing by it finds no process (`NoProc`).
 */
export const via = <P extends Behaviour.Protocol = Behaviour.Protocol, K = string, V = unknown>(
  registry: ProcessRegistry<K, V>,
  key: K,
  value?: V
): Actor.NameRegistration<P> => {
  const registration: Actor.NameRegistration<P> = {
    _tag: "NameRegistration",
    display: `${registry.name}:${String(key)}`,
    // V is the registry's value type; the caller's value was checked against it by this function's signature
    register: (process) => register(registry, key, process, value as V),
    resolve: () => registry.whereisUnsafe(key)
  }
  if (registry.mode === "unique") return registration
  const refused = `Registry.via needs a unique registry; ${registry.name} has duplicate keys`
  return Object.assign(registration, { [Options.RegistrationRefused]: refused })
}

/** A registry offered as a service. */
export class Registry extends Context.Service<Registry, ProcessRegistry<string, unknown>>()("troupe/Registry") {
  /** `make` of this module, as a static member. */
  static get make() {
    return make
  }
  /** `register` of this module, as a static member. */
  static get register() {
    return register
  }
  /** `unregister` of this module, as a static member. */
  static get unregister() {
    return unregister
  }
  /** `lookup` of this module, as a static member. */
  static get lookup() {
    return lookup
  }
  /** `whereis` of this module, as a static member. */
  static get whereis() {
    return whereis
  }
  /** `dispatch` of this module, as a static member. */
  static get dispatch() {
    return dispatch
  }
  /** `keysOf` of this module, as a static member. */
  static get keysOf() {
    return keysOf
  }
  /** `via` of this module, as a static member. */
  static get via() {
    return via
  }
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
}

/** Provides a `Registry` service with the given key mode. */
export const layer = (options: { readonly keys: KeyMode; readonly name?: string }): Layer.Layer<Registry> =>
  Layer.effect(Registry, make<string, unknown>(options))

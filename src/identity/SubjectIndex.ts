/**
 * Which stored things belong to a subject: the minimal index `Privacy.erase` needs to find a subject's
 * conversations and cache entries, which are keyed by ids that do not name their owner.
 *
 * Rules:
 * - a subject is a principal of a tenant; a reference is a conversation id (`memory`, an id of
 *   `ConversationMemory`) or a cache key (`cache`, a key of the `Cache` service);
 * - whoever stores something on a subject's behalf links it (`link(tenant, subject, "memory", conversationId)`):
 *   the conversation ids of `ConversationMemory` are chosen by the caller (the agent id for `LlmAgents`) and the
 *   response-cache keys are SHA-256 hashes partitioned by tenant, not by user, so neither can be traced back to a
 *   principal after the fact. Linking is idempotent. Two linkers do it for you: **the response cache links each
 *   entry it stores or serves for a call made for a subject** (`options.tenant` and `options.subject`, which the
 *   gateway sets for an issued key's principal; `ResponseCacheStep`), and **the gateway's agent routes link the
 *   caller's principal to the agent's conversation** (`AgentRoutes`);
 * - `refs(tenant, subject, kind)` lists the references (in link order), `forget(tenant, subject)` drops them all and
 *   answers how many there were;
 * - `layerMemory` is bounded (`maxRefs`, default 100,000 in all). At capacity a new link fails `StoreFull`; a
 *   `memory` link is never evicted (an evicted link would be a conversation `Privacy.erase` could no longer find).
 *   **A cache link may be given up together with its entry**: `evictOldestCache` drops the oldest `cache` link of
 *   any subject and answers its key, which the caller deletes from the cache before linking anew (the response cache
 *   does this), so every entry stored for a subject stays linked and the index never fills with links to entries
 *   that expired long ago. It is in-process: a deployment with several replicas needs each replica's index, or its
 *   own shared implementation of `SubjectIndexShape`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { StoreFull } from "./IdentityError.ts"

/** What a reference points at: a conversation of `ConversationMemory`, or a key of the `Cache`. */
export type SubjectRefKind = "memory" | "cache"

/** The subject → references index. */
export interface SubjectIndexShape {
  /** Links `ref` to the subject (idempotent). Fails `StoreFull` when the index is at capacity. */
  readonly link: (tenant: string, subject: string, kind: SubjectRefKind, ref: string) => Effect.Effect<void, StoreFull>
  /** The subject's references of `kind`, in link order. */
  readonly refs: (tenant: string, subject: string, kind: SubjectRefKind) => Effect.Effect<ReadonlyArray<string>>
  /** Drops every reference of the subject; answers how many there were. */
  readonly forget: (tenant: string, subject: string) => Effect.Effect<number>
  /**
   * Drops the oldest `cache` link of any subject and answers its cache key (the caller deletes that entry), or
   * `None` when no cache link is held.
   */
  readonly evictOldestCache: Effect.Effect<Option.Option<string>>
}

/** The subject index service. */
export class SubjectIndex extends Context.Service<SubjectIndex, SubjectIndexShape>()("troupe/identity/SubjectIndex") {
  /** `makeMemory` of this module, as a static member. */
  static get makeMemory() {
    return makeMemory
  }
  /** `layerMemory` of this module, as a static member. */
  static get layerMemory() {
    return layerMemory
  }
}

interface Refs {
  readonly memory: Set<string>
  readonly cache: Set<string>
}

/** A bounded in-process index. */
export const makeMemory = (maxRefs: number): SubjectIndexShape => {
  const bySubject = new Map<string, Refs>()
  // every cache link in link order (oldest first): `<subject name>\u0000<key>` → [subject name, key]
  const cacheOrder = new Map<string, readonly [string, string]>()
  let size = 0
  const name = (tenant: string, subject: string) => `${tenant}\n${subject}`
  return {
    link: (tenant, subject, kind, ref) =>
      Effect.suspend((): Effect.Effect<void, StoreFull> => {
        const owner = name(tenant, subject)
        const entry = bySubject.get(owner) ?? { memory: new Set<string>(), cache: new Set<string>() }
        if (entry[kind].has(ref)) return Effect.void
        if (size >= maxRefs) return Effect.fail(new StoreFull({ store: "subject-index", capacity: maxRefs }))
        entry[kind].add(ref)
        bySubject.set(owner, entry)
        if (kind === "cache") cacheOrder.set(`${owner}\u0000${ref}`, [owner, ref])
        size++
        return Effect.void
      }),
    refs: (tenant, subject, kind) => Effect.sync(() => [...(bySubject.get(name(tenant, subject))?.[kind] ?? [])]),
    forget: (tenant, subject) =>
      Effect.sync(() => {
        const owner = name(tenant, subject)
        const entry = bySubject.get(owner)
        if (entry === undefined) return 0
        bySubject.delete(owner)
        for (const ref of entry.cache) cacheOrder.delete(`${owner}\u0000${ref}`)
        const count = entry.memory.size + entry.cache.size
        size -= count
        return count
      }),
    evictOldestCache: Effect.sync(() => {
      const oldest = cacheOrder.entries().next()
      if (oldest.done === true) return Option.none()
      const [id, [owner, ref]] = oldest.value
      cacheOrder.delete(id)
      const entry = bySubject.get(owner)
      if (entry !== undefined && entry.cache.delete(ref)) {
        size--
        if (entry.cache.size === 0 && entry.memory.size === 0) bySubject.delete(owner)
      }
      return Option.some(ref)
    })
  }
}

/** The in-process index. */
export const layerMemory = (options: { readonly maxRefs?: number } = {}): Layer.Layer<SubjectIndex> =>
  Layer.sync(SubjectIndex, () => makeMemory(options.maxRefs ?? 100_000))

/**
 * Links a cache key to the subject, giving up the oldest cache link (and deleting its entry with `deleteEntry`)
 * when the index is full. Fails `StoreFull` only when the index is full of `memory` links.
 */
export const linkCacheKey = <E>(
  index: SubjectIndexShape,
  tenant: string,
  subject: string,
  key: string,
  deleteEntry: (key: string) => Effect.Effect<unknown, E>
): Effect.Effect<void, StoreFull | E> =>
  Effect.catchTag(
    index.link(tenant, subject, "cache", key),
    "StoreFull",
    (full) =>
      Effect.flatMap(index.evictOldestCache, (evicted) =>
        Option.isNone(evicted)
          ? Effect.fail(full)
          : Effect.andThen(deleteEntry(evicted.value), index.link(tenant, subject, "cache", key)))
  )

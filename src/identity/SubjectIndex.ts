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
 *   principal after the fact. Linking is idempotent; nothing is linked automatically;
 * - `refs(tenant, subject, kind)` lists the references (in link order), `forget(tenant, subject)` drops them all and
 *   answers how many there were;
 * - `layerMemory` is bounded (`maxRefs`, default 100,000 in all): at capacity a new link fails `StoreFull`, never
 *   evicts (an evicted link would be data `Privacy.erase` could no longer find). It is in-process: a deployment
 *   with several replicas needs each replica's index, or its own shared implementation of `SubjectIndexShape`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
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

/** A bounded in-process index. */
export const makeMemory = (maxRefs: number): SubjectIndexShape => {
  const bySubject = new Map<string, { memory: Set<string>; cache: Set<string> }>()
  let size = 0
  const name = (tenant: string, subject: string) => `${tenant}\n${subject}`
  return {
    link: (tenant, subject, kind, ref) =>
      Effect.suspend((): Effect.Effect<void, StoreFull> => {
        const entry = bySubject.get(name(tenant, subject)) ?? { memory: new Set<string>(), cache: new Set<string>() }
        if (entry[kind].has(ref)) return Effect.void
        if (size >= maxRefs) return Effect.fail(new StoreFull({ store: "subject-index", capacity: maxRefs }))
        entry[kind].add(ref)
        bySubject.set(name(tenant, subject), entry)
        size++
        return Effect.void
      }),
    refs: (tenant, subject, kind) => Effect.sync(() => [...(bySubject.get(name(tenant, subject))?.[kind] ?? [])]),
    forget: (tenant, subject) =>
      Effect.sync(() => {
        const entry = bySubject.get(name(tenant, subject))
        if (entry === undefined) return 0
        bySubject.delete(name(tenant, subject))
        const count = entry.memory.size + entry.cache.size
        size -= count
        return count
      })
  }
}

/** The in-process index. */
export const layerMemory = (options: { readonly maxRefs?: number } = {}): Layer.Layer<SubjectIndex> =>
  Layer.sync(SubjectIndex, () => makeMemory(options.maxRefs ?? 100_000))

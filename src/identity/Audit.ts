/**
 * The audit log: `Audit.record` appends a tamper-evident entry; `Audit.verify` checks the chain; `Audit.query`
 * reads one tenant's entries.
 *
 * Rules:
 * - `record({ tenant, actor, action, resource, status, ip, userAgent, metadata })` decodes its input with Schema
 *   (`InvalidIdentityInput` naming the path), replaces credential-looking strings in `metadata` by `[redacted]`,
 *   and appends the entry at the next position of the chain with `hash = SHA-256(prevHash + "\n" + canonical entry)`
 *   (AuditEntry.ts). Appends are serialised in this process (one writer per chain); the entry is durable in the
 *   store when `record` returns (it waits for the store's acknowledgement, no write-behind);
 * - the log is append-only: the store has no update or delete, and an append at any position but the next one fails;
 * - `verify({ from, to })` re-reads entries `from ≤ seq < to` (default: the whole chain) in pages and recomputes
 *   every link; it names the first bad entry (`Broken` with its index, the position it should have, the seq it
 *   carries and the reason: `sequence` for a deleted, inserted or reordered entry, `previous-hash` for a broken
 *   link, `hash` for an edited entry, `truncated` when the chain ends before the head this process last wrote,
 *   `beyond-head` for an entry appended past it — the head is known only to the process that wrote it).
 *   Without signed checkpoints, someone who can rewrite the whole store can recompute every hash: the chain detects
 *   edits, not a full rewrite (checkpoints are not implemented yet);
 * - `query(filter)` returns only `filter.tenant`'s entries (tenants isolate audit queries).
 *
 * Reuses node:crypto's SHA-256 and Effect's `Semaphore`; the chain is hand-rolled (internal/AuditChain.ts).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema, Semaphore } from "effect"
import { AuditInput, type AuditRecord, GENESIS_HASH } from "./AuditEntry.ts"
import { type AuditFilter, AuditStore } from "./AuditStore.ts"
import type { IdentityStoreError, InvalidIdentityInput, StoreFull } from "./IdentityError.ts"
import { type ChainCheck, hashEntry, verifyChain } from "./internal/AuditChain.ts"
import { toInvalidInput } from "./Keys.ts"

export type { BrokenReason, ChainCheck } from "./internal/AuditChain.ts"
export { canonicalJson, verifyChain } from "./internal/AuditChain.ts"

/** The audit log: append-only records chained by SHA-256, `verify` and tenant-scoped `query`. */
export interface AuditShape {
  /** Fails `InvalidIdentityInput`, `StoreFull` (memory at capacity) or `IdentityStoreError`. */
  readonly record: (input: AuditInput) => Effect.Effect<AuditRecord, InvalidIdentityInput | StoreFull | IdentityStoreError>
  /** Fails `IdentityStoreError` only; a tampered chain is a `Broken` result, not an error. */
  readonly verify: (range?: { readonly from?: number; readonly to?: number }) => Effect.Effect<ChainCheck, IdentityStoreError>
  readonly query: (filter: AuditFilter) => Effect.Effect<ReadonlyArray<AuditRecord>, IdentityStoreError>
}

/** The audit log service. */
export class Audit extends Context.Service<Audit, AuditShape>()("troupe/identity/Audit") {}

const CREDENTIAL = /tr_live_|sk-[A-Za-z0-9_-]{8,}|bearer\s+\S+/i
const PAGE = 1000

const redact = (metadata: Record<string, string | number | boolean | null>) =>
  Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, typeof v === "string" && CREDENTIAL.test(v) ? "[redacted]" : v]))

/** Builds the audit log over the `AuditStore` in the context (its chain head read once). */
export const make: Effect.Effect<AuditShape, IdentityStoreError, AuditStore> = Effect.gen(function*() {
  const store = yield* AuditStore
  const lock = yield* Semaphore.make(1)
  const decode = Schema.decodeUnknownEffect(AuditInput)
  // the head this process knows: loaded from the store on first use, dropped after a failed append
  let head: Option.Option<{ readonly seq: number; readonly hash: string }> | undefined

  const loadHead = Effect.suspend(() =>
    head !== undefined
      ? Effect.succeed(head)
      : Effect.map(store.last, (last) => {
        head = Option.map(last, (r) => ({ seq: r.seq, hash: r.hash }))
        return head
      })
  )

  const record: AuditShape["record"] = Effect.fn("Audit.record")(function*(raw) {
    const input = yield* decode(raw, { errors: "all" }).pipe(Effect.mapError(toInvalidInput("record")))
    return yield* lock.withPermit(Effect.gen(function*() {
      const current = yield* loadHead
      const seq = Option.isSome(current) ? current.value.seq + 1 : 0
      const prevHash = Option.isSome(current) ? current.value.hash : GENESIS_HASH
      const at = yield* Clock.currentTimeMillis
      const body: Omit<AuditRecord, "hash"> = {
        seq,
        at,
        tenant: input.tenant,
        actor: input.actor,
        action: input.action,
        resource: input.resource,
        status: input.status,
        ...(input.ip !== undefined ? { ip: input.ip } : {}),
        ...(input.userAgent !== undefined ? { userAgent: input.userAgent } : {}),
        ...(input.metadata !== undefined ? { metadata: redact(input.metadata) } : {}),
        prevHash
      }
      const entry: AuditRecord = { ...body, hash: hashEntry(prevHash, body) }
      yield* store.append(entry).pipe(Effect.tapError(() => Effect.sync(() => (head = undefined))))
      head = Option.some({ seq, hash: entry.hash })
      return entry
    }))
  })

  const verify: AuditShape["verify"] = (range = {}) =>
    Effect.gen(function*() {
      const last = yield* store.last
      const from = Math.max(0, range.from ?? 0)
      const to = Math.min(range.to ?? Number.MAX_SAFE_INTEGER, Option.isSome(last) ? last.value.seq + 1 : 0)
      // the head this process wrote (when known) detects a cut tail; so does a store whose last entry is missing
      const known = head !== undefined && Option.isSome(head) && range.to === undefined ? head.value : undefined
      let anchor = GENESIS_HASH
      if (from > 0) {
        const before = yield* store.range(from - 1, from)
        anchor = before[0]?.hash ?? GENESIS_HASH
      }
      if (to <= from) {
        return known !== undefined && known.seq >= from
          ? ({ _tag: "Broken", index: 0, expectedSeq: from, seq: -1, reason: "truncated" } as const)
          : ({ _tag: "Intact", checked: 0, lastHash: anchor } as const)
      }
      let checked = 0
      for (let start = from; start < to; start += PAGE) {
        const end = Math.min(to, start + PAGE)
        const page = yield* store.range(start, end)
        const result = verifyChain(page, start, anchor, end === to ? known : undefined)
        if (result._tag === "Broken") return { ...result, index: result.index + checked }
        if (page.length < end - start) {
          return { _tag: "Broken", index: checked + page.length, expectedSeq: start + page.length, seq: -1, reason: "sequence" } as const
        }
        checked += page.length
        anchor = result.lastHash
      }
      return { _tag: "Intact", checked, lastHash: anchor } as const
    })

  return { record, verify, query: (filter) => store.query(filter) }
})

/** `Audit` over the `AuditStore` in context. */
export const layer: Layer.Layer<Audit, IdentityStoreError, AuditStore> = Layer.effect(Audit, make)

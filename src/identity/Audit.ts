/**
 * The audit log: `Audit.record` appends a tamper-evident entry; `Audit.verify` checks the chain; `Audit.query`
 * reads one tenant's entries.
 *
 * Rules:
 * - `record({ tenant, actor, action, resource, status, ip, userAgent, metadata })` decodes its input with Schema
 *   (`InvalidIdentityInput` naming the path), replaces credential-looking strings in `metadata` by `[redacted]`
 *   and passes every other metadata string through the guard's redaction (secrets → `[REDACTED:<TYPE>]`, PII such
 *   as e-mail addresses → `[PII:<TYPE>]`), so secrets and personal data never enter the log unredacted,
 *   and appends the entry at the next position of the chain with `hash = SHA-256(prevHash + "\n" + canonical entry)`
 *   (AuditEntry.ts);
 * - **written in batches, never lost when acknowledged**: entries queue (at most `maxPending`, default 10,000; past
 *   it `StoreFull`) and are appended in batches of up to `maxBatch` (default 500) with one store operation each
 *   (group commit, internal/AuditWriter.ts). `record` is acknowledged — returns — only once its entry is durable in
 *   the store; `submit` queues the entry and returns at once (what the gateway uses where its route policy does not
 *   wait for durability): a crash can lose a submitted entry not yet written, never an acknowledged one. A failed
 *   batch fails its `record` callers and keeps its submitted entries queued for the next flush;
 * - **an appended entry is never written again**: once a batch is in the store, nothing that fails afterwards (its
 *   checkpoint, a broken connection after the commit) queues its entries again or fails its `record` callers — their
 *   entries are durable, so they are acknowledged. A checkpoint whose write fails after its entry was appended is
 *   owed: the failure is logged and counted (`troupe_audit_after_append_failures_total`), the writer tries it again
 *   when its queue is empty, before its next batch and on every `flush`, and until then no further entry is
 *   appended (those `record` callers fail `IdentityStoreError`, submitted entries stay queued) — the log never runs
 *   past a position that lacks its checkpoint by more than one batch, and `verify` names that position
 *   `checkpoint-missing` until it is written;
 * - **several writers share one chain**: processes on one store (PostgreSQL) extend one linear chain — an append
 *   that finds its position taken reloads the head and re-chains its batch. A writer that has seen another one no
 *   longer reports `beyond-head` (entries past its own head are then expected; checkpoints protect the tail);
 * - the log is append-only: the store has no update or delete, and an append at any position but the next one fails;
 * - `verify({ from, to })` re-reads entries `from ≤ seq < to` (default: the whole chain) in pages and recomputes
 *   every link; it names the first bad entry (`Broken` with its index, the position it should have, the seq it
 *   carries and the reason: `sequence` for a deleted, inserted or reordered entry, `previous-hash` for a broken
 *   link, `hash` for an edited entry, `truncated` when the chain ends before the head this process last wrote,
 *   `beyond-head` for an entry appended past it — the head is known only to the process that wrote it).
 *   Without signed checkpoints, someone who can rewrite the whole store can recompute every hash: the chain alone
 *   detects edits, not a full rewrite;
 * - periodic signed checkpoints (`layerSigned({ every })`, default every 100 entries): after the entry at position
 *   `seq` with `(seq + 1) % every === 0`, `record` stores HMAC-SHA-256(key, seq, hash, at) with a key derived (HKDF)
 *   from the `KeyProvider`'s current master key. HMAC, not Ed25519: the verifier is the service holding the key, so
 *   a symmetric MAC protects as well with no key pair to manage. `verify` then also names the first entry whose
 *   position carries a checkpoint that does not match (`checkpoint`: the chain was rewritten at or before it), a
 *   checkpoint whose MAC does not verify (`checkpoint-signature`), a missing checkpoint (`checkpoint-missing`) and
 *   a tail cut below the last checkpoint (`truncated`, known to any process). A rewrite after the last checkpoint
 *   stays undetectable by another process: the window is `every` entries;
 * - `query(filter)` returns only `filter.tenant`'s entries (tenants isolate audit queries);
 * - **personal fields sealed per subject** (crypto-shredding, issue 13 §4): an entry is attributed to a subject
 *   only by its explicit `subject` (a principal id of the entry's tenant; `GatewayKeyAuth` sets it to the
 *   principal of a validated key). The subject id itself is never stored. With a `SubjectKeys` store (and a
 *   `KeyProvider` to wrap its keys) in the layer's context, such an entry's `ip`, `userAgent`, `metadata` and its
 *   `actor` when the actor names the subject (`alice`, `user:alice`; a `key:<id>` actor is a random pseudonym and
 *   stays in clear, so queries by key still work) are stored as one AES-256-GCM envelope (`sealed`) under the
 *   subject's data key, the actor as `[sealed]`. The chain hashes that stored form, so destroying the data key
 *   (`Privacy.erase`) leaves every hash, checkpoint and `verify` intact while the fields become unreadable:
 *   `query` then reads each of them as `[erased]` (`metadata` as `{ erased: "[erased]" }`), and entries of other
 *   subjects read as before. `record` returns the stored (sealed) form; `query` the readable one (so a query result
 *   of a sealed entry does not re-hash to its `hash`: check the chain with `verify`, which reads the stored form).
 *   Without `SubjectKeys` the `subject` is ignored and fields are stored as given; with `SubjectKeys` but no
 *   `KeyProvider`, recording an entry with a subject fails `IdentityStoreError` rather than store it in clear;
 * - **telemetry for each entry**: with a `TelemetryHub` in the layer's context, every appended entry emits
 *   `troupe.audit.recorded` (measurements `count`, `seq`; metadata `tenant`, `action`, `status` only — the actor,
 *   resource and metadata stay in the log).
 *
 * Reuses node:crypto's SHA-256 and Effect's `Deferred`; the chain and the group-commit writer are hand-rolled
 * (internal/AuditChain.ts, internal/AuditWriter.ts): effect has no append-only chained log.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { detectPii } from "../guard/PiiDetector.ts"
import { maskSecrets } from "../guard/SecretDetector.ts"
import { replaceSpans } from "../guard/Verdict.ts"
import { Events, TelemetryHub } from "../telemetry/index.ts"
import { AuditInput, type AuditRecord, GENESIS_HASH } from "./AuditEntry.ts"
import { type AuditFilter, AuditStore } from "./AuditStore.ts"
import { IdentityStoreError, type InvalidIdentityInput, type StoreFull } from "./IdentityError.ts"
import { canonicalJson, type ChainCheck, verifyChain } from "./internal/AuditChain.ts"
import { checkpointValid, signCheckpoint } from "./internal/AuditCheckpoint.ts"
import { openRecord, sealBody, sealedKeyId } from "./internal/AuditSeal.ts"
import type { AuditBody } from "./internal/AuditWriter.ts"
import { makeAuditWriter } from "./internal/AuditWriter.ts"
import { KeyProvider, type KeyProviderShape, type MasterKey, type SecretError } from "./KeyProvider.ts"
import { toInvalidInput } from "./Keys.ts"
import { dataKeyFor, openWithId, SubjectKeys } from "./SubjectKeys.ts"

export type { BrokenReason, ChainCheck } from "./internal/AuditChain.ts"
export { canonicalJson, verifyChain } from "./internal/AuditChain.ts"
export type { AuditCheckpoint } from "./internal/AuditCheckpoint.ts"

/** The audit log: append-only records chained by SHA-256, `verify` and tenant-scoped `query`. */
export interface AuditShape {
  /**
   * Fails `InvalidIdentityInput`, `StoreFull` (memory at capacity, or the subject-key store's) or
   * `IdentityStoreError` (also: no master key to sign a checkpoint or to wrap a subject's data key).
   */
  readonly record: (
    input: AuditInput
  ) => Effect.Effect<AuditRecord, InvalidIdentityInput | StoreFull | IdentityStoreError>
  /**
   * Queues an entry for the next batch and returns at once, without waiting for durability (see the module doc).
   * Fails `InvalidIdentityInput` when the input does not decode, `StoreFull` when `maxPending` entries are queued
   * (or the subject-key store is full), `IdentityStoreError` when an entry with a `subject` cannot get its data key.
   */
  readonly submit: (input: AuditInput) => Effect.Effect<void, InvalidIdentityInput | StoreFull | IdentityStoreError>
  /** Writes what is queued now (a batch); never fails (a failed batch keeps its submitted entries queued). */
  readonly flush: Effect.Effect<void>
  /**
   * Fails `IdentityStoreError` only; a tampered chain is a `Broken` result, not an error. Without checkpoints
   * the chain is checked alone; with them the earlier of the chain's and the checkpoints' first bad entry is named.
   */
  readonly verify: (
    range?: { readonly from?: number; readonly to?: number }
  ) => Effect.Effect<ChainCheck, IdentityStoreError>
  /**
   * `filter.tenant`'s entries matching the filter, oldest first, sealed fields opened (`[erased]` once their subject
   * was erased). Fails with `IdentityStoreError` when the `AuditStore`'s query fails (PostgreSQL unreachable, a
   * stored row that does not decode) or the subject-key store fails while opening sealed fields.
   */
  readonly query: (filter: AuditFilter) => Effect.Effect<ReadonlyArray<AuditRecord>, IdentityStoreError>
}

/** The audit log service. */
export class Audit extends Context.Service<Audit, AuditShape>()("troupe/identity/Audit") {
  /** `make` of this module, as a static member. */
  static get make() {
    return make
  }
  /** `makeSigned` of this module, as a static member. */
  static get makeSigned() {
    return makeSigned
  }
  /** `layerSigned` of this module, as a static member. */
  static get layerSigned() {
    return layerSigned
  }
  /** `verifyChain` of this module, as a static member. */
  static get verifyChain() {
    return verifyChain
  }
  /** `canonicalJson` of this module, as a static member. */
  static get canonicalJson() {
    return canonicalJson
  }
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
  /** `makeWith` of this module, as a static member. */
  static get makeWith() {
    return makeWith
  }
  /** `layerWith` of this module, as a static member. */
  static get layerWith() {
    return layerWith
  }
}

const CREDENTIAL = /tr_live_|sk-[A-Za-z0-9_-]{8,}|bearer\s+\S+/i
const PAGE = 1000

// a credential-looking value is dropped whole; any other string passes the guard's secret masking
// (`[REDACTED:<TYPE>]`) and PII detection (each entity replaced by `[PII:<TYPE>]`)
const redactText = (v: string): string =>
  CREDENTIAL.test(v)
    ? "[redacted]"
    : replaceSpans(maskSecrets(v), detectPii(maskSecrets(v)), (f) => `[PII:${f.type ?? "PII"}]`)

const redact = (metadata: Record<string, string | number | boolean | null>) =>
  Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, typeof v === "string" ? redactText(v) : v]))

/** How the writer batches (see the module doc); each value is floored and at least 1. */
export interface AuditBatching {
  /** The most entries appended in one store operation (default 500). */
  readonly maxBatch?: number
  /** The most entries waiting to be written (default 10,000); past it `record` and `submit` fail `StoreFull`. */
  readonly maxPending?: number
}

const batchingOf = (o: AuditBatching) => ({
  maxBatch: Math.max(1, Math.floor(o.maxBatch ?? 500)),
  maxPending: Math.max(1, Math.floor(o.maxPending ?? 10_000))
})

/**
 * Builds the audit log over the `AuditStore` in the context, without checkpoints. The head is read on the first
 * `record`, not here: building never fails with the declared `IdentityStoreError`; a store failure surfaces as the
 * `IdentityStoreError` of that `record` (or of `verify` / `query`).
 */
export const make: Effect.Effect<AuditShape, IdentityStoreError, AuditStore> = Effect.suspend(() =>
  build(undefined, batchingOf({}))
)

/** `make` with the writer's batching set (see `AuditBatching`); as for `make`, building never fails with the declared `IdentityStoreError`. */
export const makeWith = (options: AuditBatching): Effect.Effect<AuditShape, IdentityStoreError, AuditStore> =>
  Effect.suspend(() => build(undefined, batchingOf(options)))

/**
 * Builds the audit log with signed checkpoints every `every` entries (default 100) under the `KeyProvider`. As for
 * `make`, building never fails with the declared `IdentityStoreError` (the store is first read by `record`); a
 * missing master key surfaces later: the entry that must sign a checkpoint is appended and acknowledged, its
 * checkpoint is owed, and the `record` calls after it fail `IdentityStoreError` (operation `checkpoint`) until the
 * key is there and the checkpoint written (see "an appended entry is never written again" in the module doc).
 */
export const makeSigned = (
  options: AuditBatching & { readonly every?: number } = {}
): Effect.Effect<AuditShape, IdentityStoreError, AuditStore | KeyProvider> =>
  Effect.flatMap(
    KeyProvider.useSync((provider) => provider),
    (provider) => build({ provider, every: Math.max(1, Math.floor(options.every ?? 100)) }, batchingOf(options))
  )

interface Signer {
  readonly provider: KeyProviderShape
  readonly every: number
}

type Broken = Extract<ChainCheck, { _tag: "Broken" }>

const build = (
  signer: Signer | undefined,
  batching: { readonly maxBatch: number; readonly maxPending: number }
): Effect.Effect<AuditShape, IdentityStoreError, AuditStore> =>
  Effect.gen(function*() {
    const store = yield* AuditStore
    // optional, read once when the layer is built: each appended entry becomes a `troupe.audit.recorded` event
    const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))
    const decode = Schema.decodeUnknownEffect(AuditInput)
    // optional, read once: with a subject-key store, an entry's personal fields are sealed under its subject's key
    const subjectKeys = Option.getOrUndefined(yield* Effect.serviceOption(SubjectKeys))
    const provider = signer?.provider ?? Option.getOrUndefined(yield* Effect.serviceOption(KeyProvider))
    const emit = (entry: AuditRecord) => {
      if (hub === undefined) return
      hub.emitUnsafe(Events.auditRecorded, { count: 1, seq: entry.seq }, {
        tenant: entry.tenant,
        action: entry.action,
        status: entry.status
      })
    }
    // the signed checkpoint at `entry`; a retry finding one stored with the entry's hash (a write that failed after it
    // committed) counts it as written, so running it again never fails on its own earlier success
    const checkpoint = (s: Signer, entry: AuditRecord) =>
      Effect.gen(function*() {
        const key = yield* s.provider.current.pipe(Effect.mapError(secretToStore))
        yield* store.appendCheckpoint(signCheckpoint(key, entry.seq, entry.hash, entry.at)).pipe(
          Effect.catch((error) =>
            store.checkpoints(entry.seq, entry.seq + 1).pipe(
              Effect.catch(() => Effect.succeed([])),
              Effect.flatMap((found) => (found.some((c) => c.hash === entry.hash) ? Effect.void : Effect.fail(error)))
            )
          )
        )
      })
    // after each appended entry: its checkpoint when due, then its event — in this order, so that the writer running
    // it again after a failed checkpoint emits each event once
    const afterAppend = (entry: AuditRecord): Effect.Effect<void, StoreFull | IdentityStoreError> => {
      if (signer === undefined || (entry.seq + 1) % signer.every !== 0) return Effect.sync(() => emit(entry))
      return Effect.map(checkpoint(signer, entry), () => emit(entry))
    }
    const writer = makeAuditWriter({
      store,
      maxBatch: batching.maxBatch,
      maxPending: batching.maxPending,
      afterAppend
    })

    /** The entry's body (no position yet): the decoded input, redacted, stamped with the current time. */
    const bodyOf = (raw: AuditInput) =>
      Effect.gen(function*() {
        const input = yield* decode(raw, { errors: "all" }).pipe(Effect.mapError(toInvalidInput("record")))
        const at = yield* Clock.currentTimeMillis
        const body: AuditBody = {
          at,
          tenant: input.tenant,
          actor: input.actor,
          action: input.action,
          resource: input.resource,
          status: input.status,
          ...(input.ip !== undefined ? { ip: input.ip } : {}),
          ...(input.userAgent !== undefined ? { userAgent: input.userAgent } : {}),
          ...(input.metadata !== undefined ? { metadata: redact(input.metadata) } : {})
        }
        if (input.subject === undefined || subjectKeys === undefined) return body
        if (provider === undefined) {
          return yield* new IdentityStoreError({
            operation: "record",
            message: "no KeyProvider to wrap the subject's data key"
          })
        }
        const key = yield* dataKeyFor(subjectKeys, provider, input.tenant, input.subject)
        return sealBody(key, body, input.subject)
      })

    const record: AuditShape["record"] = Effect.fn("Audit.record")(function*(raw) {
      return yield* writer.record(yield* bodyOf(raw))
    })
    const submit: AuditShape["submit"] = (raw) => Effect.flatMap(bodyOf(raw), writer.submit)

    const chainVerify = (range: { readonly from?: number; readonly to?: number }) =>
      Effect.gen(function*() {
        const last = yield* store.last
        const from = Math.max(0, range.from ?? 0)
        const to = Math.min(range.to ?? Number.MAX_SAFE_INTEGER, Option.isSome(last) ? last.value.seq + 1 : 0)
        // the head this process wrote (when known) detects a cut tail; so does a store whose last entry is missing.
        // With another writer on the chain, entries past it are expected: it then only detects a cut tail.
        const head = writer.knownHead()
        const written = head !== undefined && Option.isSome(head) && range.to === undefined ? head.value : undefined
        const known = written !== undefined && writer.shared() && to - 1 >= written.seq ? undefined : written
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
            return {
              _tag: "Broken",
              index: checked + page.length,
              expectedSeq: start + page.length,
              seq: -1,
              reason: "sequence"
            } as const
          }
          checked += page.length
          anchor = result.lastHash
        }
        return { _tag: "Intact", checked, lastHash: anchor } as const
      })

    // the first checkpoint problem in [from, to): a mismatch, a bad MAC, a missing one, or one past the stored end
    const checkpointVerify = (s: Signer, range: { readonly from?: number; readonly to?: number }) =>
      Effect.gen(function*() {
        const last = yield* store.last
        const end = Option.isSome(last) ? last.value.seq + 1 : 0
        const from = Math.max(0, range.from ?? 0)
        const to = Math.min(range.to ?? Number.MAX_SAFE_INTEGER, end)
        const found = yield* store.checkpoints(from, range.to ?? Number.MAX_SAFE_INTEGER)
        const bySeq = new Map(found.map((c) => [c.seq, c]))
        const broken = (seq: number, carried: number, reason: Broken["reason"]): Broken => ({
          _tag: "Broken",
          index: seq - from,
          expectedSeq: seq,
          seq: carried,
          reason
        })
        for (const c of found) {
          const key = yield* Effect.option(s.provider.get(c.keyId))
          if (Option.isNone(key) || !checkpointValid(key.value, c)) {
            return Option.some(broken(c.seq, c.seq, "checkpoint-signature"))
          }
          if (c.seq >= to) return Option.some(broken(to, -1, "truncated"))
          const [entry] = yield* store.range(c.seq, c.seq + 1)
          if (entry === undefined || entry.hash !== c.hash) {
            return Option.some(broken(c.seq, entry?.seq ?? -1, "checkpoint"))
          }
        }
        for (let p = Math.ceil((from + 1) / s.every) * s.every - 1; p < to; p += s.every) {
          if (!bySeq.has(p)) return Option.some(broken(p, p, "checkpoint-missing"))
        }
        return Option.none<Broken>()
      })

    const verify: AuditShape["verify"] = (range = {}) =>
      Effect.gen(function*() {
        const chain = yield* chainVerify(range)
        if (signer === undefined) return chain
        const checkpoint = yield* checkpointVerify(signer, range)
        if (Option.isNone(checkpoint)) return chain
        return chain._tag === "Broken" && chain.expectedSeq <= checkpoint.value.expectedSeq ? chain : checkpoint.value
      })

    // the readable form of stored entries: sealed fields opened, or `[erased]` once their subject's key is gone
    const readable = (records: ReadonlyArray<AuditRecord>) =>
      Effect.gen(function*() {
        if (subjectKeys === undefined || provider === undefined) return records
        const found = new Map<string, Option.Option<MasterKey>>()
        return yield* Effect.forEach(records, (r) =>
          Effect.gen(function*() {
            const id = sealedKeyId(r)
            if (id === undefined) return r
            let key = found.get(id)
            if (key === undefined) {
              key = yield* openWithId(subjectKeys, provider, id)
              found.set(id, key)
            }
            return yield* openRecord(r, key)
          }))
      })

    return {
      record,
      submit,
      flush: writer.flush,
      verify,
      query: (filter) => Effect.flatMap(store.query(filter), readable)
    }
  })

const secretToStore = (e: SecretError) => new IdentityStoreError({ operation: "checkpoint", message: e.message })

/**
 * `Audit` with signed checkpoints every `every` entries, keyed by the `KeyProvider` in context. Its declared
 * `IdentityStoreError` never happens when the layer is built (see `makeSigned`): store and key failures surface
 * from `record`, `verify` and `query`.
 */
export const layerSigned = (
  options: AuditBatching & { readonly every?: number } = {}
): Layer.Layer<Audit, IdentityStoreError, AuditStore | KeyProvider> => Layer.effect(Audit, makeSigned(options))

/**
 * `Audit` over the `AuditStore` in context. Its declared `IdentityStoreError` never happens when the layer is built
 * (see `make`): store failures surface from `record`, `verify` and `query`.
 */
export const layer: Layer.Layer<Audit, IdentityStoreError, AuditStore> = Layer.effect(Audit, make)

/**
 * `Audit` over the `AuditStore` in context, with the writer's batching set (see `AuditBatching`). Its declared
 * `IdentityStoreError` never happens when the layer is built (see `make`).
 */
export const layerWith = (options: AuditBatching): Layer.Layer<Audit, IdentityStoreError, AuditStore> =>
  Layer.effect(Audit, makeWith(options))

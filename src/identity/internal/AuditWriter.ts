/**
 * The audit log's writer: group commit over an `AuditStore`. Rules:
 *
 * - **Entries are written in batches**: each entry waits in a bounded queue (`maxPending`, default 10,000). One
 *   writer fiber at a time — started (detached) by the first entry queued while none runs — takes everything queued
 *   (at most `maxBatch`, default 500), appends it with one `appendAll`, and goes on with what queued meanwhile until
 *   the queue is empty: one store round trip per burst of concurrent entries (group commit). Callers only wait for
 *   their own entry, so an interrupted caller never stops the writer nor loses an entry already queued.
 * - **Acknowledged means durable**: a waiter's `Deferred` completes only after its batch's `appendAll` returned
 *   `"appended"`; a store failure fails the waiters of that batch, and the entries of callers that did not wait
 *   (`submit`) go back to the front of the queue for the next flush — a crash loses only such entries, never an
 *   acknowledged one.
 * - **An appended entry is never written again**: once a batch is in the store its entries are durable, whatever
 *   fails afterwards. The head moves past them, their waiters succeed (their entries are durable: failing them
 *   would tell a caller to retry an entry that is already in the chain) and no submitted entry of the batch is
 *   queued again. An `appendAll` that fails is read back before it counts as failed: when the store holds the
 *   batch's records (it committed, then the connection broke), the batch was appended. Only when that read fails
 *   too is the outcome unknown, and the batch is then handled as failed.
 * - **A failed checkpoint is owed, and blocks the next append**: `afterAppend` (the entry's signed checkpoint and
 *   telemetry) runs once per appended entry, in chain order, before its waiter is told. When it fails, that entry
 *   and the batch's later ones stay owed: the failure is logged (warning) and counted
 *   (`troupe_audit_after_append_failures_total`), the waiters still succeed, and the owed work runs again: once
 *   more when the writer finds the queue empty, before the next batch is appended, and on every `flush`. Until it
 *   succeeds no further entry is appended: a batch behind it fails as on a store failure (its waiters fail, its
 *   submitted entries stay queued). A tamper-evident log so never runs more than one batch past a checkpoint
 *   position without its checkpoint; until the owed checkpoint is written (for good if the process dies first: the
 *   owed work lives in memory) `verify` names it `checkpoint-missing`.
 * - **Several writers share one chain**: an `appendAll` answered `"conflict"` (another process appended first;
 *   the store then wrote nothing) reloads the head from the store and re-chains the batch on top of it, up to 100
 *   times, so processes on one store extend a single linear chain.
 *
 * @internal
 */
import { Deferred, Effect, Metric, Option } from "effect"
import { type AuditRecord, GENESIS_HASH } from "../AuditEntry.ts"
import type { AuditStoreShape } from "../AuditStore.ts"
import { IdentityStoreError, StoreFull } from "../IdentityError.ts"
import { hashEntry } from "./AuditChain.ts"

/** An entry before it has a position: everything but `seq`, `prevHash` and `hash`. */
export type AuditBody = Omit<AuditRecord, "seq" | "prevHash" | "hash">

type WriteError = StoreFull | IdentityStoreError

interface Pending {
  readonly body: AuditBody
  /** absent for a submitted entry: nobody waits, a failed write puts it back in the queue */
  readonly done: Deferred.Deferred<AuditRecord, WriteError> | undefined
}

/** The most times a batch is re-chained after conflicting appends before its waiters fail. */
const MAX_CONFLICTS = 100

/** Counts the failed runs of `afterAppend` (each stays owed and is retried); exported for tests. */
export const afterAppendFailures = Metric.counter("troupe_audit_after_append_failures_total", {
  description: "failed runs of the work owed after an audit append (signed checkpoint, telemetry); it is retried",
  incremental: true
})

export interface AuditWriterOptions {
  readonly store: AuditStoreShape
  readonly maxBatch: number
  readonly maxPending: number
  /**
   * The work owed for one appended entry (its checkpoint, telemetry), run in chain order before its waiter is told.
   * After a failure it runs again for the same entry, so it must be safe to repeat what a failed run already did.
   */
  readonly afterAppend: (record: AuditRecord) => Effect.Effect<void, WriteError>
}

export const makeAuditWriter = (options: AuditWriterOptions) => {
  const { maxBatch, maxPending, store } = options
  const pending: Array<Pending> = []
  /** Appended entries (chain order) whose `afterAppend` has not succeeded yet; only the writer fiber touches it. */
  const owed: Array<AuditRecord> = []
  // the head this process knows: loaded from the store on first use, dropped after a failed or conflicting append
  let head: Option.Option<{ readonly seq: number; readonly hash: string }> | undefined
  /** Set once an append conflicted: another writer shares the chain. */
  let shared = false

  const loadHead = Effect.suspend(() =>
    head !== undefined
      ? Effect.succeed(head)
      : Effect.map(store.last, (last) => {
        head = Option.map(last, (r) => ({ seq: r.seq, hash: r.hash }))
        return head
      })
  )

  const chain = (
    batch: ReadonlyArray<Pending>,
    from: Option.Option<{ readonly seq: number; readonly hash: string }>
  ) => {
    let seq = Option.isSome(from) ? from.value.seq + 1 : 0
    let prevHash = Option.isSome(from) ? from.value.hash : GENESIS_HASH
    return batch.map((p): AuditRecord => {
      const body = { ...p.body, seq: seq++, prevHash }
      const record: AuditRecord = { ...body, hash: hashEntry(prevHash, body) }
      prevHash = record.hash
      return record
    })
  }

  /** Whether the store holds `records` at their positions: a failed `appendAll` may have committed first. */
  const landed = (records: ReadonlyArray<AuditRecord>): Effect.Effect<boolean> =>
    store.range(records[0]!.seq, records[0]!.seq + records.length).pipe(
      Effect.map((rows) => rows.length === records.length && rows.every((r, i) => r.hash === records[i]!.hash)),
      Effect.catch(() => Effect.succeed(false))
    )

  /** `appendAll`, with a failed one read back: a store error after the commit is an append, not a failure. */
  const append = (records: ReadonlyArray<AuditRecord>) =>
    store.appendAll(records).pipe(
      Effect.catchTag("IdentityStoreError", (error) =>
        Effect.flatMap(landed(records), (written) =>
          written ? Effect.succeed("appended" as const) : Effect.fail(error)))
    )

  /** Runs the owed work in chain order; a failure leaves the failed entry and the later ones owed. */
  const settle: Effect.Effect<void, WriteError> = Effect.suspend(() => {
    let done = 0
    return Effect.gen(function*() {
      for (const record of owed) {
        yield* options.afterAppend(record)
        done++
      }
    }).pipe(
      Effect.ensuring(Effect.sync(() => void owed.splice(0, done))),
      Effect.tapError((error) =>
        Effect.andThen(
          Metric.update(afterAppendFailures, 1),
          Effect.logWarning(
            `audit: the work after appending entry ${owed[0]?.seq ?? -1} failed; it stays owed and is retried`,
            error
          )
        )
      )
    )
  })

  const fail = (batch: ReadonlyArray<Pending>, error: WriteError) =>
    Effect.suspend(() => {
      head = undefined
      // submitted entries are kept for the next flush, in their order, ahead of anything queued since
      pending.unshift(...batch.filter((p) => p.done === undefined))
      return Effect.forEach(batch, (p) => (p.done === undefined ? Effect.void : Deferred.fail(p.done, error)), {
        discard: true
      })
    })

  /** Appends `batch`; `true` when it was written, `false` when it was not (its waiters were told). */
  const write = (batch: ReadonlyArray<Pending>): Effect.Effect<boolean> =>
    Effect.gen(function*() {
      // the work owed by an earlier batch first: no entry is appended past a missing checkpoint
      yield* settle
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const from = yield* loadHead
        const records = chain(batch, from)
        const outcome = yield* append(records)
        if (outcome === "conflict") {
          head = undefined
          shared = true
          continue
        }
        const last = records[records.length - 1]!
        head = Option.some({ seq: last.seq, hash: last.hash })
        owed.push(...records)
        return records
      }
      return yield* new IdentityStoreError({
        operation: "append",
        message: `${MAX_CONFLICTS} conflicting appends in a row: too many concurrent writers`
      })
    }).pipe(
      Effect.matchEffect({
        onFailure: (error: WriteError) => Effect.as(fail(batch, error), false),
        // appended: durable whatever the owed work does (a failure stays owed, logged and counted by `settle`)
        onSuccess: (records) =>
          Effect.andThen(
            Effect.ignore(settle),
            Effect.as(
              Effect.forEach(
                batch,
                (p, i) => (p.done === undefined ? Effect.void : Deferred.succeed(p.done, records[i]!)),
                { discard: true }
              ),
              true
            )
          )
      })
    )

  let writing = false
  /** `flush` callers waiting for the writer to stop. */
  const idle: Array<Deferred.Deferred<void>> = []
  const stop: Effect.Effect<void> = Effect.suspend(() => {
    writing = false
    const told = Effect.forEach(idle.splice(0), (d) => Deferred.succeed(d, undefined), { discard: true })
    // a caller waiting for an entry queued while a failed batch was being reported gets a writer of its own
    return pending.some((p) => p.done !== undefined) ? Effect.andThen(told, kick) : told
  })
  /** The writer: batch after batch until the queue is empty, or until a batch fails (the rest waits for the next). */
  const loop: Effect.Effect<void> = Effect.suspend(function step(): Effect.Effect<void> {
    if (pending.length > 0) return Effect.flatMap(write(pending.splice(0, maxBatch)), (ok) => (ok ? step() : stop))
    // nothing queued, but work owed: one more try now (a failure stays owed for the next write or flush)
    if (owed.length > 0) return Effect.andThen(Effect.ignore(settle), () => (pending.length > 0 ? step() : stop))
    return stop
  })
  const kick: Effect.Effect<void> = Effect.suspend(() => {
    if (writing) return Effect.void
    writing = true
    return Effect.asVoid(Effect.forkDetach(loop))
  })
  /** Waits until the writer stops, starting it when none runs. */
  const run: Effect.Effect<void> = Effect.flatMap(Deferred.make<void>(), (done) => {
    idle.push(done)
    return Effect.andThen(kick, Deferred.await(done))
  })
  const left = () => pending.length > 0 || owed.length > 0
  /**
   * Writes what is queued now and the work owed, and waits until the writer stops; never fails. A run in progress
   * may have failed before the caller called (its failure is what the caller saw): once it stops, what it left is
   * tried once more.
   */
  const flush: Effect.Effect<void> = Effect.suspend(() => {
    if (!writing) return left() ? run : Effect.void
    return Effect.andThen(run, () => (left() ? run : Effect.void))
  })

  const full = () => new StoreFull({ store: "audit-queue", capacity: maxPending })

  return {
    /** Queues `body` and waits until it is durable; fails `StoreFull` when the queue is full. */
    record: (body: AuditBody): Effect.Effect<AuditRecord, WriteError> =>
      Effect.suspend(() => {
        if (pending.length >= maxPending) return Effect.fail(full())
        return Effect.flatMap(Deferred.make<AuditRecord, WriteError>(), (done) => {
          pending.push({ body, done })
          return Effect.andThen(kick, Deferred.await(done))
        })
      }),
    /** Queues `body` (the writer is started when none runs); fails `StoreFull` when the queue is full. */
    submit: (body: AuditBody): Effect.Effect<void, StoreFull> =>
      Effect.suspend(() => {
        if (pending.length >= maxPending) return Effect.fail(full())
        pending.push({ body, done: undefined })
        return kick
      }),
    /** Writes everything queued now, and the work owed after earlier appends (e.g. before shutting down). */
    flush,
    /** The head this process last wrote, when known. */
    knownHead: (): Option.Option<{ readonly seq: number; readonly hash: string }> | undefined => head,
    /** Whether another writer was seen appending to the same chain. */
    shared: (): boolean => shared,
    /** Entries waiting to be written. */
    pendingCount: (): number => pending.length,
    /** Appended entries whose `afterAppend` work (a checkpoint) has not succeeded yet. */
    owedCount: (): number => owed.length
  }
}

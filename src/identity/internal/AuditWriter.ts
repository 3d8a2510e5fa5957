/**
 * The audit log's writer: group commit over an `AuditStore`. Rules:
 *
 * - **Entries are written in batches**: each entry waits in a bounded queue (`maxPending`, default 10,000). One
 *   writer fiber at a time — started (detached) by the first entry queued while none runs — takes everything queued
 *   (at most `maxBatch`, default 500), appends it with one `appendAll`, and goes on with what queued meanwhile until
 *   the queue is empty: one store round trip per burst of concurrent entries (group commit). Callers only wait for
 *   their own entry, so an interrupted caller never stops the writer nor loses an entry already queued.
 * - **Acknowledged means durable**: a waiter's `Deferred` completes only after its batch's `appendAll` (and the
 *   checkpoints the batch crosses) returned; a store failure fails the waiters of that batch, and the entries of
 *   callers that did not wait (`submit`) go back to the front of the queue for the next flush — a crash loses only
 *   such entries, never an acknowledged one.
 * - **Several writers share one chain**: an `appendAll` answered `"conflict"` (another process appended first)
 *   reloads the head from the store and re-chains the batch on top of it, up to 100 times, so processes on one
 *   store extend a single linear chain.
 *
 * @internal
 */
import { Deferred, Effect, Option } from "effect"
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

export interface AuditWriterOptions {
  readonly store: AuditStoreShape
  readonly maxBatch: number
  readonly maxPending: number
  /** Runs after a batch is appended, before its waiters are told (telemetry, checkpoints); its failure fails them. */
  readonly afterAppend: (records: ReadonlyArray<AuditRecord>) => Effect.Effect<void, WriteError>
}

export const makeAuditWriter = (options: AuditWriterOptions) => {
  const { maxBatch, maxPending, store } = options
  const pending: Array<Pending> = []
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

  const fail = (batch: ReadonlyArray<Pending>, error: WriteError) =>
    Effect.suspend(() => {
      head = undefined
      // submitted entries are kept for the next flush, in their order, ahead of anything queued since
      pending.unshift(...batch.filter((p) => p.done === undefined))
      return Effect.forEach(batch, (p) => (p.done === undefined ? Effect.void : Deferred.fail(p.done, error)), {
        discard: true
      })
    })

  /** Appends `batch`; `true` when it was written, `false` when it failed (its waiters were told). */
  const write = (batch: ReadonlyArray<Pending>): Effect.Effect<boolean> =>
    Effect.gen(function*() {
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const from = yield* loadHead
        const records = chain(batch, from)
        const outcome = yield* store.appendAll(records)
        if (outcome === "conflict") {
          head = undefined
          shared = true
          continue
        }
        const last = records[records.length - 1]!
        head = Option.some({ seq: last.seq, hash: last.hash })
        yield* options.afterAppend(records)
        yield* Effect.forEach(
          batch,
          (p, i) => (p.done === undefined ? Effect.void : Deferred.succeed(p.done, records[i]!)),
          {
            discard: true
          }
        )
        return true
      }
      return yield* new IdentityStoreError({
        operation: "append",
        message: `${MAX_CONFLICTS} conflicting appends in a row: too many concurrent writers`
      })
    }).pipe(Effect.catch((error: WriteError) => Effect.as(fail(batch, error), false)))

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
    if (pending.length === 0) return stop
    return Effect.flatMap(write(pending.splice(0, maxBatch)), (ok) => (ok ? step() : stop))
  })
  const kick: Effect.Effect<void> = Effect.suspend(() => {
    if (writing) return Effect.void
    writing = true
    return Effect.asVoid(Effect.forkDetach(loop))
  })
  /** Writes what is queued now and waits until the writer stops; never fails. */
  const flush: Effect.Effect<void> = Effect.suspend(() => {
    if (!writing && pending.length === 0) return Effect.void
    return Effect.flatMap(Deferred.make<void>(), (done) => {
      idle.push(done)
      return Effect.andThen(kick, Deferred.await(done))
    })
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
    /** Writes everything queued now (e.g. before shutting down). */
    flush,
    /** The head this process last wrote, when known. */
    knownHead: (): Option.Option<{ readonly seq: number; readonly hash: string }> | undefined => head,
    /** Whether another writer was seen appending to the same chain. */
    shared: (): boolean => shared,
    /** Entries waiting to be written. */
    pendingCount: (): number => pending.length
  }
}

/**
 * The audit log's writer: group commit over an `AuditStore`. Rules:
 *
 * - **Entries are written in batches**: each entry waits in a bounded queue (`maxPending`, default 10,000) and the
 *   writer holding the lock takes everything queued (at most `maxBatch`, default 500) and appends it with one
 *   `appendAll` — one store round trip for a whole burst of concurrent entries. No background fiber: whoever waits
 *   for the lock next writes what queued meanwhile (a durable `record` waits for its own batch; a `submit` starts a
 *   detached flush).
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
import { Deferred, Effect, Option, type Semaphore } from "effect"
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
  readonly lock: Semaphore.Semaphore
  readonly maxBatch: number
  readonly maxPending: number
  /** Runs after a batch is appended, before its waiters are told (telemetry, checkpoints); its failure fails them. */
  readonly afterAppend: (records: ReadonlyArray<AuditRecord>) => Effect.Effect<void, WriteError>
}

export const makeAuditWriter = (options: AuditWriterOptions) => {
  const { lock, maxBatch, maxPending, store } = options
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

  const write = (batch: ReadonlyArray<Pending>): Effect.Effect<void> =>
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
        return
      }
      return yield* new IdentityStoreError({
        operation: "append",
        message: `${MAX_CONFLICTS} conflicting appends in a row: too many concurrent writers`
      })
    }).pipe(Effect.catch((error: WriteError) => fail(batch, error)))

  /**
   * Writes one batch of what is queued (under the lock). Every queued entry comes with one flush (its `record`
   * runs one, its `submit` forks one), so there are always at least as many flushes as batches to write.
   */
  const flush: Effect.Effect<void> = lock.withPermit(Effect.suspend(() => {
    if (pending.length === 0) return Effect.void
    return write(pending.splice(0, maxBatch))
  }))

  const full = () => new StoreFull({ store: "audit-queue", capacity: maxPending })

  return {
    /** Queues `body` and waits until it is durable; fails `StoreFull` when the queue is full. */
    record: (body: AuditBody): Effect.Effect<AuditRecord, WriteError> =>
      Effect.suspend(() => {
        if (pending.length >= maxPending) return Effect.fail(full())
        return Effect.flatMap(Deferred.make<AuditRecord, WriteError>(), (done) => {
          pending.push({ body, done })
          return Effect.andThen(flush, Deferred.await(done))
        })
      }),
    /** Queues `body` and starts a detached flush; fails `StoreFull` when the queue is full. */
    submit: (body: AuditBody): Effect.Effect<void, StoreFull> =>
      Effect.suspend(() => {
        if (pending.length >= maxPending) return Effect.fail(full())
        pending.push({ body, done: undefined })
        return Effect.asVoid(Effect.forkDetach(flush))
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

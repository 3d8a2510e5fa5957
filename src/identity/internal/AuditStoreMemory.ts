/** In-memory `AuditStore` (bounded, append-only). @internal */
import { Effect, Option } from "effect"
import type { AuditRecord } from "../AuditEntry.ts"
import { type AuditStoreShape, matchesFilter } from "../AuditStore.ts"
import { IdentityStoreError, StoreFull } from "../IdentityError.ts"
import type { AuditCheckpoint } from "./AuditCheckpoint.ts"

export interface MemoryAuditStore extends AuditStoreShape {
  /** Test hook: the backing array, to tamper with in tamper-detection tests. */
  readonly unsafeEntries: Array<AuditRecord>
  /** Test hook: the signed checkpoints. */
  readonly unsafeCheckpoints: Array<AuditCheckpoint>
}

export const makeMemoryAuditStore = (maxEntries: number): MemoryAuditStore => {
  const entries: Array<AuditRecord> = []
  const checkpoints: Array<AuditCheckpoint> = []
  return {
    unsafeEntries: entries,
    unsafeCheckpoints: checkpoints,
    appendCheckpoint: (c) =>
      Effect.suspend((): Effect.Effect<void, StoreFull | IdentityStoreError> => {
        if (checkpoints.some((k) => k.seq === c.seq)) {
          return Effect.fail(
            new IdentityStoreError({ operation: "appendCheckpoint", message: `a checkpoint at ${c.seq} exists` })
          )
        }
        if (checkpoints.length >= maxEntries) {
          return Effect.fail(new StoreFull({ store: "audit-checkpoint", capacity: maxEntries }))
        }
        checkpoints.push(c)
        checkpoints.sort((a, b) => a.seq - b.seq)
        return Effect.void
      }),
    checkpoints: (from, to) => Effect.sync(() => checkpoints.filter((c) => c.seq >= from && c.seq < to)),
    append: (record) =>
      Effect.suspend((): Effect.Effect<void, StoreFull | IdentityStoreError> => {
        if (record.seq !== entries.length) {
          return Effect.fail(
            new IdentityStoreError({
              operation: "append",
              message: `expected position ${entries.length}, got ${record.seq}`
            })
          )
        }
        if (entries.length >= maxEntries) return Effect.fail(new StoreFull({ store: "audit", capacity: maxEntries }))
        entries.push(record)
        return Effect.void
      }),
    appendAll: (records) =>
      Effect.suspend((): Effect.Effect<"appended" | "conflict", StoreFull | IdentityStoreError> => {
        if (records.length === 0) return Effect.succeed("appended")
        if (records[0]!.seq !== entries.length) return Effect.succeed("conflict")
        if (records.some((r, i) => r.seq !== entries.length + i)) {
          return Effect.fail(new IdentityStoreError({ operation: "appendAll", message: "positions not consecutive" }))
        }
        if (entries.length + records.length > maxEntries) {
          return Effect.fail(new StoreFull({ store: "audit", capacity: maxEntries }))
        }
        entries.push(...records)
        return Effect.succeed("appended")
      }),
    last: Effect.sync(() => Option.fromUndefinedOr(entries.at(-1))),
    range: (from, to) => Effect.sync(() => entries.slice(Math.max(0, from), Math.max(0, to))),
    query: (filter) => Effect.sync(() => entries.filter((r) => matchesFilter(r, filter)).slice(0, filter.limit ?? 1000))
  }
}

/**
 * Where audit entries live: an append-only `AuditStore` with two backends passing one conformance suite
 * (test/identity/AuditStoreConformance.ts).
 *
 * Rules (every backend):
 * - `append(record)` adds the entry at position `record.seq`, which must be the next position (the current
 *   length); any other position fails `IdentityStoreError` (no overwrite, no gap) — there is no update or delete;
 * - `appendAll(records)` adds consecutive entries starting at the next position, all or none, and answers
 *   `"conflict"` (nothing written) when the first position is not the next one — another writer got there first;
 * - `last` is the entry with the highest position; `range(from, to)` the entries with `from ≤ seq < to`, in
 *   storage order by position; `query(filter)` the entries of one tenant matching actor / action / resource /
 *   status / time bounds, oldest first, at most `limit` (default 1,000);
 * - `layerMemory` is bounded (`maxEntries`, default 100,000): at capacity `append` fails `StoreFull` (an audit
 *   log never drops entries silently); `layerPostgres` keeps `<schema>.troupe_audit` (created when missing), the
 *   position as primary key, so a second concurrent writer's conflicting append fails rather than forks the chain;
 * - signed checkpoints (`appendCheckpoint`, `checkpoints(from, to)`) are kept beside the entries (memory: bounded
 *   by `maxEntries` too; PostgreSQL: `<schema>.troupe_audit_checkpoint`), one per position.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Option } from "effect"
import { SqlClient } from "effect/sql"
import type { AuditRecord, AuditStatus } from "./AuditEntry.ts"
import type { IdentityStoreError, StoreFull } from "./IdentityError.ts"
import type { AuditCheckpoint } from "./internal/AuditCheckpoint.ts"
import { makeMemoryAuditStore } from "./internal/AuditStoreMemory.ts"
import { makePostgresAuditStore } from "./internal/AuditStorePostgres.ts"

/** A query over one tenant's audit entries (actor, action, resource, status, time range, limit). */
export interface AuditFilter {
  readonly tenant: string
  readonly actor?: string
  readonly action?: string
  readonly resource?: string
  readonly status?: AuditStatus
  /** inclusive, epoch ms */
  readonly since?: number
  /** exclusive, epoch ms */
  readonly until?: number
  readonly limit?: number
}

/** Where audit entries are kept (append, read a range, the head). */
export interface AuditStoreShape {
  /**
   * Adds the entry at position `record.seq`. Fails with `IdentityStoreError` when `record.seq` is not the next
   * position (the current length) or when PostgreSQL fails the insert; with `StoreFull` when the memory store
   * already holds `maxEntries` entries (PostgreSQL never fails `StoreFull`).
   */
  readonly append: (record: AuditRecord) => Effect.Effect<void, StoreFull | IdentityStoreError>
  /**
   * Appends `records` (consecutive positions from the first one's) atomically. Answers `"conflict"` when the first
   * position is not the next one (nothing written); fails `StoreFull` at capacity (memory), `IdentityStoreError`
   * when the store fails or the records are not consecutive.
   */
  readonly appendAll: (
    records: ReadonlyArray<AuditRecord>
  ) => Effect.Effect<"appended" | "conflict", StoreFull | IdentityStoreError>
  /**
   * The entry with the highest position, `None` when the log is empty. Fails with `IdentityStoreError` only on
   * PostgreSQL, when the query fails or the stored row does not decode as an `AuditRecord` (memory never fails).
   */
  readonly last: Effect.Effect<Option.Option<AuditRecord>, IdentityStoreError>
  /**
   * The entries with `from ≤ seq < to`, by position. Fails with `IdentityStoreError` only on PostgreSQL, when the
   * query fails or a stored row does not decode as an `AuditRecord` (memory never fails).
   */
  readonly range: (from: number, to: number) => Effect.Effect<ReadonlyArray<AuditRecord>, IdentityStoreError>
  /**
   * One tenant's entries matching the filter, oldest first, at most `limit` (default 1,000). Fails with
   * `IdentityStoreError` only on PostgreSQL, when the query fails or a stored row does not decode as an
   * `AuditRecord` (memory never fails).
   */
  readonly query: (filter: AuditFilter) => Effect.Effect<ReadonlyArray<AuditRecord>, IdentityStoreError>
  /**
   * Stores a signed checkpoint; one per position (a second one at the same `seq` fails `IdentityStoreError`).
   * Fails with `IdentityStoreError` also when PostgreSQL fails the insert; with `StoreFull` when the memory store
   * already holds `maxEntries` checkpoints (PostgreSQL never fails `StoreFull`).
   */
  readonly appendCheckpoint: (checkpoint: AuditCheckpoint) => Effect.Effect<void, StoreFull | IdentityStoreError>
  /**
   * The checkpoints with `from ≤ seq < to`, by position. Fails with `IdentityStoreError` only on PostgreSQL, when
   * the query fails or a stored row does not decode as an `AuditCheckpoint` (memory never fails).
   */
  readonly checkpoints: (from: number, to: number) => Effect.Effect<ReadonlyArray<AuditCheckpoint>, IdentityStoreError>
}

/** The audit store service, with `layerMemory` and `layerPostgres`. */
export class AuditStore extends Context.Service<AuditStore, AuditStoreShape>()("troupe/identity/AuditStore") {
  /** `matchesFilter` of this module, as a static member. */
  static get matchesFilter() {
    return matchesFilter
  }
  /** `layerMemory` of this module, as a static member. */
  static get layerMemory() {
    return layerMemory
  }
  /** `layerPostgres` of this module, as a static member. */
  static get layerPostgres() {
    return layerPostgres
  }
}

/** Whether a record matches a filter (the memory store's query, and the reference of the SQL one). */
export const matchesFilter = (r: AuditRecord, f: AuditFilter): boolean =>
  r.tenant === f.tenant &&
  (f.actor === undefined || r.actor === f.actor) &&
  (f.action === undefined || r.action === f.action) &&
  (f.resource === undefined || r.resource === f.resource) &&
  (f.status === undefined || r.status === f.status) &&
  (f.since === undefined || r.at >= f.since) &&
  (f.until === undefined || r.at < f.until)

/** The embedded default: a bounded in-process array. */
export const layerMemory = (options: { readonly maxEntries?: number } = {}): Layer.Layer<AuditStore> =>
  Layer.sync(AuditStore, () => makeMemoryAuditStore(options.maxEntries ?? 100_000))

/**
 * PostgreSQL through `SqlClient`; `schema` (default `public`) must match `[a-z_][a-z0-9_]*`. Building the layer
 * fails with `IdentityStoreError` (operation `init`) when the schema name does not match, or when creating the
 * schema, the `troupe_audit` / `troupe_audit_checkpoint` tables or their index fails (database unreachable, no
 * privilege).
 */
export const layerPostgres = (
  options: { readonly schema?: string } = {}
): Layer.Layer<AuditStore, IdentityStoreError, SqlClient.SqlClient> =>
  Layer.effect(
    AuditStore,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* makePostgresAuditStore(sql, options.schema ?? "public")
    })
  )

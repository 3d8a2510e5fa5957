/**
 * Where issued keys live: a `KeyStore` service with two backends passing one conformance suite
 * (test/identity/KeyStoreConformance.ts).
 *
 * Rules (every backend):
 * - `insert` adds a record; the public id is unique (a duplicate is an `IdentityStoreError`);
 * - `get(id)` finds a record by its public id (the lookup prefix of the key), in any tenant: the caller then checks
 *   the HMAC; `list(tenant)` returns only that tenant's records, oldest first, optionally one principal's;
 * - `remove(tenant, id)` deletes a record of that tenant and answers whether there was one (what `Privacy.erase`
 *   does to a subject's keys: the principal and the key's name go with it; a later presentation is `unknown`);
 * - `update(tenant, id, patch)` sets `revokedAt` / `expiresAt` / `rotatedTo` of a record of that tenant and returns
 *   the new record, or `None` when that tenant has no such key (a key of another tenant is not found);
 * - `layerMemory` is bounded (`maxKeys`, default 100,000): at capacity `insert` fails with `StoreFull` rather than
 *   evict a live key; `layerPostgres` keeps one table `<schema>.troupe_keys` (created when missing) on
 *   `@effect/sql-pg` through Effect's `SqlClient`, the record as `jsonb` beside indexed `tenant` and `principal_id`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import type { IdentityStoreError, StoreFull } from "./IdentityError.ts"
import { makeMemoryKeyStore } from "./internal/KeyStoreMemory.ts"
import { makePostgresKeyStore } from "./internal/KeyStorePostgres.ts"
import type { KeyRecord } from "./KeyRecord.ts"

/** The fields of a key record an update may change. */
export interface KeyPatch {
  readonly revokedAt?: number
  readonly expiresAt?: number
  readonly rotatedTo?: string
}

/** Where key records are kept (insert, get, update, list by tenant). */
export interface KeyStoreShape {
  /**
   * Adds a record. Fails with `IdentityStoreError` when a record with the same public id exists or PostgreSQL
   * fails the insert; with `StoreFull` when the memory store already holds `maxKeys` records (PostgreSQL never
   * fails `StoreFull`).
   */
  readonly insert: (record: KeyRecord) => Effect.Effect<void, StoreFull | IdentityStoreError>
  /**
   * The record with that public id in any tenant, `None` when there is none. Fails with `IdentityStoreError` only
   * on PostgreSQL, when the query fails or the stored row does not decode as a `KeyRecord` (memory never fails).
   */
  readonly get: (id: string) => Effect.Effect<Option.Option<KeyRecord>, IdentityStoreError>
  /**
   * Applies the patch to that tenant's record and returns it, `None` when the tenant has no such key. Fails with
   * `IdentityStoreError` only on PostgreSQL, when the update fails or the returned row does not decode as a
   * `KeyRecord` (memory never fails).
   */
  readonly update: (
    tenant: string,
    id: string,
    patch: KeyPatch
  ) => Effect.Effect<Option.Option<KeyRecord>, IdentityStoreError>
  /**
   * The tenant's records (optionally one principal's), oldest first. Fails with `IdentityStoreError` only on
   * PostgreSQL, when the query fails or a stored row does not decode as a `KeyRecord` (memory never fails).
   */
  readonly list: (tenant: string, principalId?: string) => Effect.Effect<ReadonlyArray<KeyRecord>, IdentityStoreError>
  /**
   * Deletes a key of that tenant; `true` when there was one (a key of another tenant is not removed). Fails
   * `IdentityStoreError` when the store fails.
   */
  readonly remove: (tenant: string, id: string) => Effect.Effect<boolean, IdentityStoreError>
}

/** The key store service, with `layerMemory` and `layerPostgres`. */
export class KeyStore extends Context.Service<KeyStore, KeyStoreShape>()("troupe/identity/KeyStore") {
  /** `layerMemory` of this module, as a static member. */
  static get layerMemory() {
    return layerMemory
  }
  /** `layerPostgres` of this module, as a static member. */
  static get layerPostgres() {
    return layerPostgres
  }
}

/** The embedded default: a bounded in-process map. */
export const layerMemory = (options: { readonly maxKeys?: number } = {}): Layer.Layer<KeyStore> =>
  Layer.sync(KeyStore, () => makeMemoryKeyStore(options.maxKeys ?? 100_000))

/**
 * PostgreSQL through `SqlClient` (provide `PgClient.layer(...)`). `schema` (default `public`) must match
 * `[a-z_][a-z0-9_]*`; the schema and table are created when missing. Building the layer fails with
 * `IdentityStoreError` (operation `init`) when the schema name does not match, or when creating the schema, the
 * `troupe_keys` table or its index fails (database unreachable, no privilege).
 */
export const layerPostgres = (
  options: { readonly schema?: string } = {}
): Layer.Layer<KeyStore, IdentityStoreError, SqlClient.SqlClient> =>
  Layer.effect(
    KeyStore,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* makePostgresKeyStore(sql, options.schema ?? "public")
    })
  )

/**
 * Per-subject data keys, for crypto-shredding: a `SubjectKeys` store with two backends passing one conformance
 * suite (test/identity/SubjectKeysConformance.ts), and the sealing of an audit entry's personal fields under them.
 *
 * Rules (every backend):
 * - a subject is a principal of a tenant (`tenant`, `subject` = the principal id); it has at most one data key at a
 *   time, stored as a `SubjectKeyRecord`: its public id (`keyId`, the `KeyProvider` key id of the 32 bytes), the key
 *   **wrapped** (an AES-256-GCM `enc:v1:` envelope of its base64, sealed under the `KeyProvider`'s current master
 *   key, SecretBox.ts) — never the key in clear — and `createdAt`;
 * - `create(record)` stores the record unless the subject already has one, and returns the subject's record either
 *   way (two writers racing on a new subject end up with one key);
 * - `find(tenant, subject)` is the subject's record; `byId(keyId)` the record of a key id (what opening a sealed
 *   field needs: the envelope names its key id);
 * - `destroy(tenant, subject)` deletes the subject's record and answers whether there was one. Afterwards the key
 *   cannot be found by subject or by id, so every value sealed under it is unreadable for good: that is the
 *   erasure (crypto-shredding). A later `create` for the same subject makes a new, unrelated key;
 * - `layerMemory` is bounded (`maxKeys`, default 100,000): at capacity `create` of a new subject fails `StoreFull`
 *   (a key is never evicted: that would erase a subject nobody asked to erase); `layerPostgres` keeps
 *   `<schema>.troupe_subject_keys` (created when missing), primary key `(tenant, subject)`, `key_id` unique.
 *   A PostgreSQL `DELETE` leaves the row in dead tuples, the WAL and backups until vacuum and backup rotation: the
 *   wrapped key is useless without the master key, and the master key should be rotated (`KeyProvider`) on the
 *   schedule the deployment's retention promises;
 * - master-key rotation: a key stays the same key (same id and bytes) when its wrapping changes.
 *   `replaceWrapped(tenant, subject, keyId, wrapped)` re-seals the subject's key when it still holds `keyId`;
 *   `wrappedNotUnder(masterKeyId, limit, tenant?)` lists the records wrapped under another master key. `dataKeyFor`
 *   re-wraps a key under the current master key when it is used (best effort: a failed write is retried at the next
 *   use), and `rewrap(keys, provider, { tenant?, batch? })` re-wraps every one that is not, answering how many.
 *   To retire a master key: make the new one current with the old among the previous ones, run
 *   `SecretBox.rotate` over the envelopes of the config and `SubjectKeys.rewrap` over the subject keys (both must
 *   report nothing left to do: a second `rewrap` answers 0), then drop the old key.
 *
 * Sealing (used by `Audit`, see Audit.ts): `dataKeyFor` gets or creates the subject's key and unwraps it with the
 * `KeyProvider` (re-wrapping it under the current master key when needed); `openWithId` finds a key by id and unwraps it, `None` once destroyed. Reuses node:crypto's
 * `randomBytes` and SecretBox's AES-256-GCM envelopes.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { randomBytes } from "node:crypto"
import { createTables } from "../internal/PostgresDdl.ts"
import { IdentityStoreError, StoreFull } from "./IdentityError.ts"
import { checkSchema, storeError } from "./internal/KeyStorePostgres.ts"
import { keyIdOf, type KeyProviderShape, type MasterKey, type SecretError } from "./KeyProvider.ts"
import { keyIdOfEnvelope, openWith, PREFIX, sealWith } from "./SecretBox.ts"

/** A subject's data key as stored: its id and the key wrapped under a master key. */
export const SubjectKeyRecord = Schema.Struct({
  tenant: Schema.String,
  subject: Schema.String,
  keyId: Schema.String,
  /** `enc:v1:` envelope (under a `KeyProvider` master key) of the base64 of the 32-byte data key */
  wrapped: Schema.String,
  createdAt: Schema.Finite
})
export type SubjectKeyRecord = typeof SubjectKeyRecord.Type

/** Where subjects' data keys are kept (create if absent, find, find by id, destroy, re-wrap). */
export interface SubjectKeysShape {
  /** Stores `record` unless the subject has a key; returns the subject's record. Fails `StoreFull` or `IdentityStoreError`. */
  readonly create: (record: SubjectKeyRecord) => Effect.Effect<SubjectKeyRecord, StoreFull | IdentityStoreError>
  /** The subject's key record, if any. Fails `IdentityStoreError` only. */
  readonly find: (tenant: string, subject: string) => Effect.Effect<Option.Option<SubjectKeyRecord>, IdentityStoreError>
  /** The record of a key id, if it still exists. Fails `IdentityStoreError` only. */
  readonly byId: (keyId: string) => Effect.Effect<Option.Option<SubjectKeyRecord>, IdentityStoreError>
  /** Deletes the subject's key; `true` when there was one. Fails `IdentityStoreError` only. */
  readonly destroy: (tenant: string, subject: string) => Effect.Effect<boolean, IdentityStoreError>
  /**
   * Replaces the wrapped form of the subject's key when the subject still holds key `keyId` (same key, re-sealed);
   * `true` when replaced. Fails `IdentityStoreError` only.
   */
  readonly replaceWrapped: (
    tenant: string,
    subject: string,
    keyId: string,
    wrapped: string
  ) => Effect.Effect<boolean, IdentityStoreError>
  /**
   * Up to `limit` records (of `tenant` when given) whose key is not wrapped under master key `masterKeyId`.
   * Fails `IdentityStoreError` only.
   */
  readonly wrappedNotUnder: (
    masterKeyId: string,
    limit: number,
    tenant?: string
  ) => Effect.Effect<ReadonlyArray<SubjectKeyRecord>, IdentityStoreError>
}

/** The per-subject data-key store, with `layerMemory` and `layerPostgres`. */
export class SubjectKeys extends Context.Service<SubjectKeys, SubjectKeysShape>()("troupe/identity/SubjectKeys") {
  /** `layerMemory` of this module, as a static member. */
  static get layerMemory() {
    return layerMemory
  }
  /** `layerPostgres` of this module, as a static member. */
  static get layerPostgres() {
    return layerPostgres
  }
  /** `dataKeyFor` of this module, as a static member. */
  static get dataKeyFor() {
    return dataKeyFor
  }
  /** `openWithId` of this module, as a static member. */
  static get openWithId() {
    return openWithId
  }
  /** `rewrap` of this module, as a static member. */
  static get rewrap() {
    return rewrap
  }
}

/** A bounded in-process store (never evicts). */
export const makeMemory = (maxKeys: number): SubjectKeysShape => {
  const bySubject = new Map<string, SubjectKeyRecord>()
  const byId = new Map<string, SubjectKeyRecord>()
  const name = (tenant: string, subject: string) => `${tenant}\n${subject}`
  return {
    create: (record) =>
      Effect.suspend((): Effect.Effect<SubjectKeyRecord, StoreFull> => {
        const held = bySubject.get(name(record.tenant, record.subject))
        if (held !== undefined) return Effect.succeed(held)
        if (bySubject.size >= maxKeys) return Effect.fail(new StoreFull({ store: "subject-keys", capacity: maxKeys }))
        bySubject.set(name(record.tenant, record.subject), record)
        byId.set(record.keyId, record)
        return Effect.succeed(record)
      }),
    find: (tenant, subject) => Effect.sync(() => Option.fromUndefinedOr(bySubject.get(name(tenant, subject)))),
    byId: (keyId) => Effect.sync(() => Option.fromUndefinedOr(byId.get(keyId))),
    destroy: (tenant, subject) =>
      Effect.sync(() => {
        const held = bySubject.get(name(tenant, subject))
        if (held === undefined) return false
        bySubject.delete(name(tenant, subject))
        byId.delete(held.keyId)
        return true
      }),
    replaceWrapped: (tenant, subject, keyId, wrapped) =>
      Effect.sync(() => {
        const held = bySubject.get(name(tenant, subject))
        if (held === undefined || held.keyId !== keyId) return false
        const next = { ...held, wrapped }
        bySubject.set(name(tenant, subject), next)
        byId.set(keyId, next)
        return true
      }),
    wrappedNotUnder: (masterKeyId, limit, tenant) =>
      Effect.sync(() => {
        const out: Array<SubjectKeyRecord> = []
        for (const r of bySubject.values()) {
          if (out.length >= limit) break
          if ((tenant === undefined || r.tenant === tenant) && keyIdOfEnvelope(r.wrapped) !== masterKeyId) out.push(r)
        }
        return out
      })
  }
}

const decodeRecord = Schema.decodeUnknownEffect(SubjectKeyRecord)

/**
 * A store over PostgreSQL (`<schema>.troupe_subject_keys`). Fails `IdentityStoreError` for a schema name that is
 * not an identifier or when creating the schema or table fails.
 */
export const makePostgres = (
  sql: SqlClient.SqlClient,
  schemaName: string
): Effect.Effect<SubjectKeysShape, IdentityStoreError> =>
  Effect.gen(function*() {
    const schema = yield* checkSchema(schemaName)
    const table = `"${schema}".troupe_subject_keys`
    yield* createTables(sql, [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${table} (tenant text NOT NULL, subject text NOT NULL, key_id text NOT NULL UNIQUE, ` +
      `wrapped text NOT NULL, created_at double precision NOT NULL, PRIMARY KEY (tenant, subject))`
    ]).pipe(Effect.mapError(storeError("init")))
    type Row = { tenant: string; subject: string; key_id: string; wrapped: string; created_at: unknown }
    const columns = "tenant, subject, key_id, wrapped, created_at"
    const decodeAll = (operation: string) => (rows: ReadonlyArray<Row>) =>
      Effect.forEach(rows, (row) =>
        decodeRecord({
          tenant: row.tenant,
          subject: row.subject,
          keyId: row.key_id,
          wrapped: row.wrapped,
          createdAt: Number(row.created_at)
        })).pipe(Effect.mapError(storeError(operation)))
    const decodeRows = (operation: string) => (rows: ReadonlyArray<Row>) =>
      Effect.map(decodeAll(operation)(rows), (rs) => Option.fromUndefinedOr(rs[0]))
    const find: SubjectKeysShape["find"] = (tenant, subject) =>
      sql.unsafe<Row>(`SELECT ${columns} FROM ${table} WHERE tenant = $1 AND subject = $2`, [tenant, subject]).pipe(
        Effect.mapError(storeError("find")),
        Effect.flatMap(decodeRows("find"))
      )
    const shape: SubjectKeysShape = {
      create: (r) =>
        sql.unsafe(
          `INSERT INTO ${table} (${columns}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, subject) DO NOTHING`,
          [r.tenant, r.subject, r.keyId, r.wrapped, r.createdAt]
        ).pipe(
          Effect.mapError(storeError("create")),
          Effect.andThen(find(r.tenant, r.subject)),
          Effect.flatMap((held) =>
            Option.isSome(held)
              ? Effect.succeed(held.value)
              : Effect.fail(new IdentityStoreError({ operation: "create", message: "the subject key vanished" }))
          )
        ),
      find,
      byId: (keyId) =>
        sql.unsafe<Row>(`SELECT ${columns} FROM ${table} WHERE key_id = $1`, [keyId]).pipe(
          Effect.mapError(storeError("byId")),
          Effect.flatMap(decodeRows("byId"))
        ),
      destroy: (tenant, subject) =>
        sql.unsafe<{ key_id: string }>(
          `DELETE FROM ${table} WHERE tenant = $1 AND subject = $2 RETURNING key_id`,
          [tenant, subject]
        ).pipe(Effect.mapError(storeError("destroy")), Effect.map((rows) => rows.length > 0)),
      replaceWrapped: (tenant, subject, keyId, wrapped) =>
        sql.unsafe<{ key_id: string }>(
          `UPDATE ${table} SET wrapped = $4 WHERE tenant = $1 AND subject = $2 AND key_id = $3 RETURNING key_id`,
          [tenant, subject, keyId, wrapped]
        ).pipe(Effect.mapError(storeError("replaceWrapped")), Effect.map((rows) => rows.length > 0)),
      wrappedNotUnder: (masterKeyId, limit, tenant) =>
        // a key id is 16 hex digits (no LIKE wildcard); the prefix is SecretBox's envelope header
        sql.unsafe<Row>(
          `SELECT ${columns} FROM ${table} WHERE wrapped NOT LIKE $1 AND ($2::text IS NULL OR tenant = $2) ` +
            `ORDER BY tenant, subject LIMIT $3`,
          [`${PREFIX}${masterKeyId.replace(/[%_\\]/g, "")}:%`, tenant ?? null, Math.max(0, Math.floor(limit))]
        ).pipe(Effect.mapError(storeError("wrappedNotUnder")), Effect.flatMap(decodeAll("wrappedNotUnder")))
    }
    return shape
  })

/** The embedded default: a bounded in-process map. */
export const layerMemory = (options: { readonly maxKeys?: number } = {}): Layer.Layer<SubjectKeys> =>
  Layer.sync(SubjectKeys, () => makeMemory(options.maxKeys ?? 100_000))

/**
 * PostgreSQL through `SqlClient`; `schema` (default `public`) must match `[a-z_][a-z0-9_]*`. Building fails
 * `IdentityStoreError` for another schema name or when creating the schema or table fails.
 */
export const layerPostgres = (
  options: { readonly schema?: string } = {}
): Layer.Layer<SubjectKeys, IdentityStoreError, SqlClient.SqlClient> =>
  Layer.effect(
    SubjectKeys,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* makePostgres(sql, options.schema ?? "public")
    })
  )

const secretToStore = (operation: string) => (e: SecretError) =>
  new IdentityStoreError({ operation, message: e.message })

const unwrap = (provider: KeyProviderShape, record: SubjectKeyRecord, operation: string) =>
  Effect.gen(function*() {
    const master = yield* provider.get(keyIdOfEnvelope(record.wrapped) ?? "").pipe(
      Effect.mapError(secretToStore(operation))
    )
    const plain = yield* openWith(master, record.wrapped).pipe(Effect.mapError(secretToStore(operation)))
    const bytes = Buffer.from(Redacted.value(plain), "base64")
    return { id: record.keyId, key: Redacted.make(new Uint8Array(bytes)) } satisfies MasterKey
  })

/**
 * The subject's data key, created (32 random bytes, wrapped under the provider's current master key) when it has
 * none, and re-wrapped under the current master key when it is wrapped under a previous one. Fails `StoreFull` (memory store at capacity) or `IdentityStoreError` (the store failed, no master key, or
 * the wrapped key does not open under the master key that wrapped it).
 */
export const dataKeyFor = (
  keys: SubjectKeysShape,
  provider: KeyProviderShape,
  tenant: string,
  subject: string
): Effect.Effect<MasterKey, StoreFull | IdentityStoreError> =>
  Effect.gen(function*() {
    const held = yield* keys.find(tenant, subject)
    if (Option.isSome(held)) {
      const key = yield* unwrap(provider, held.value, "subjectKey")
      yield* rewrapOne(keys, provider, held.value, key).pipe(Effect.ignore) // best effort: the next use retries
      return key
    }
    const bytes = randomBytes(32)
    const master = yield* provider.current.pipe(Effect.mapError(secretToStore("subjectKey")))
    const record = yield* keys.create({
      tenant,
      subject,
      keyId: keyIdOf(bytes),
      wrapped: sealWith(master, bytes.toString("base64")),
      createdAt: yield* Clock.currentTimeMillis
    })
    return yield* unwrap(provider, record, "subjectKey")
  })

/**
 * The data key with id `keyId`, unwrapped; `None` once it was destroyed. Fails `IdentityStoreError` (the store
 * failed, or the wrapped key does not open: its master key is gone or the record was edited).
 */
export const openWithId = (
  keys: SubjectKeysShape,
  provider: KeyProviderShape,
  keyId: string
): Effect.Effect<Option.Option<MasterKey>, IdentityStoreError> =>
  Effect.flatMap(keys.byId(keyId), (found) =>
    Option.isNone(found)
      ? Effect.succeedNone
      : Effect.map(unwrap(provider, found.value, "subjectKey"), Option.some))

/**
 * Re-seals `record`'s key (already unwrapped as `key`) under the provider's current master key when it is wrapped
 * under another one; whether it was replaced. Fails `IdentityStoreError` (no current master key, or the store).
 */
const rewrapOne = (
  keys: SubjectKeysShape,
  provider: KeyProviderShape,
  record: SubjectKeyRecord,
  key: MasterKey
): Effect.Effect<boolean, IdentityStoreError> =>
  Effect.gen(function*() {
    const master = yield* provider.current.pipe(Effect.mapError(secretToStore("rewrap")))
    if (keyIdOfEnvelope(record.wrapped) === master.id) return false
    const wrapped = sealWith(master, Buffer.from(Redacted.value(key.key)).toString("base64"))
    return yield* keys.replaceWrapped(record.tenant, record.subject, record.keyId, wrapped)
  })

/**
 * Re-seals every subject key (of `options.tenant` when given) that is not wrapped under the provider's current
 * master key, `options.batch` (default 1,000) records at a time, and answers how many were re-sealed; run it after
 * a master-key rotation (the old key among the provider's previous ones) and before dropping the old key. Fails
 * `IdentityStoreError` (the store failed, no current master key, or a wrapped key does not open: its master key is
 * already gone or the record was edited; the keys re-sealed before stay re-sealed, running it again goes on).
 */
export const rewrap = (
  keys: SubjectKeysShape,
  provider: KeyProviderShape,
  options: { readonly tenant?: string; readonly batch?: number } = {}
): Effect.Effect<number, IdentityStoreError> =>
  Effect.gen(function*() {
    const master = yield* provider.current.pipe(Effect.mapError(secretToStore("rewrap")))
    const batch = Math.max(1, Math.floor(options.batch ?? 1_000))
    let count = 0
    while (true) {
      const stale = yield* keys.wrappedNotUnder(master.id, batch, options.tenant)
      if (stale.length === 0) return count
      for (const record of stale) {
        const key = yield* unwrap(provider, record, "rewrap")
        if (yield* rewrapOne(keys, provider, record, key)) count++
      }
    }
  })

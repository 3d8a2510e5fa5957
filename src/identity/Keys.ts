/**
 * Issued API keys: `Keys.create / validate / revoke / rotate / list`, over a `KeyStore`.
 *
 * Rules:
 * - `create` returns the key once, as a `Redacted<string>` (`tr_live_` + a 12-character public id + a 256-bit
 *   secret, see KeyRecord.ts); only `HMAC-SHA-256(pepper, key)` is stored, never the key;
 * - why HMAC-SHA-256 and not argon2id: a slow password hash exists to make guessing a *low-entropy* secret
 *   expensive. An issued key carries 256 bits of randomness, so guessing is already infeasible and a slow hash
 *   would add only latency (and a CPU-exhaustion lever) to every request. The server pepper (a secret held
 *   outside the store, at least 32 characters) means a stolen table alone does not even let an attacker test
 *   candidate keys offline;
 * - `validate` is constant-time in the secret: the HMAC is always computed, and compared with `timingSafeEqual`
 *   against the stored hash, or against a dummy hash when the public id is unknown, so an unknown key and a wrong
 *   secret for a known id do the same work and fail with the same reason (`unknown`). A key that is not of the
 *   format fails `malformed` (the format is public, so this reveals nothing), an empty one `missing`. Only a key
 *   whose secret matched is then reported `revoked` (revokedAt ≤ now) or `expired` (expiresAt ≤ now);
 * - on success `validate` returns the principal, tenant, scopes, rate-limit policy (`limits`), budget and budget
 *   scope;
 * - `revoke(tenant, id)` marks the key revoked from now on (idempotent: the first revocation time stays);
 * - `rotate(tenant, id, { grace })` issues a successor with the same principal, scopes, limits and budget and lets
 *   the old key live only until `now + grace` (or its own earlier expiry); the old record names its successor;
 * - **a rotation never resets the spend**: a key's calls are charged to its budget scope, `key:<id>` of the first
 *   key of its rotation line, which the successor keeps (the old key in its grace and the new one share the budget);
 * - `list(tenant, principalId?)` shows the tenant's keys masked (`tr_live_<id>••••••••`), never hashes;
 * - every operation is scoped to a tenant: a key of another tenant is `KeyNotFound`.
 * Times come from Effect's `Clock`, so expiry and rotation grace are tested under `TestClock`.
 *
 * Reuses node:crypto (`randomBytes`, `createHmac`, `timingSafeEqual`) and the ratelimit `RateLimitPolicy` Schema.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Invalid from "../internal/InvalidInput.ts"
import { RateLimitPolicy, type RateLimitPolicyInput } from "../ratelimit/RateLimitPolicy.ts"
import {
  type IdentityStoreError,
  InvalidIdentityInput,
  KeyNotFound,
  KeyRejected,
  type StoreFull
} from "./IdentityError.ts"
import { KeyCache } from "./internal/KeyCache.ts"
import {
  Budget,
  KEY_ID_LENGTH,
  KEY_LENGTH,
  KEY_PREFIX,
  type KeyRecord,
  mask,
  type MaskedKey,
  Scope
} from "./KeyRecord.ts"
import { KeyStore } from "./KeyStore.ts"
import { Id, Principal } from "./Principal.ts"

/** The input of `Keys.create` (decoded with Schema; `expiresAt` in epoch milliseconds). */
export const CreateKeyInput = Schema.Struct({
  principal: Principal,
  name: Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(128))),
  scopes: Schema.Array(Scope),
  expiresAt: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))),
  limits: Schema.optionalKey(RateLimitPolicy),
  budget: Schema.optionalKey(Budget)
})
export type CreateKeyInput = typeof CreateKeyInput.Encoded

/** What `validate` returns for an accepted key. */
export interface ValidatedKey {
  readonly keyId: string
  readonly tenant: string
  readonly principal: Principal
  readonly scopes: ReadonlyArray<string>
  readonly limits: Option.Option<RateLimitPolicyInput>
  readonly budget: Option.Option<Budget>
  /** The budget scope the key's calls are charged to (`key:<id>` of the first key of its rotation line). */
  readonly budgetScope: string
  readonly expiresAt: Option.Option<number>
}

/** A newly issued key: the record and the key itself, shown once as a `Redacted`. */
export interface CreatedKey {
  /** The key itself: shown to its owner once, never stored. */
  readonly key: Redacted.Redacted<string>
  readonly id: string
  readonly info: MaskedKey
}

/** Issued API keys: create, validate, revoke, rotate, list. */
export interface KeysShape {
  /** Fails `InvalidIdentityInput` (bad input, path named), `StoreFull`, `IdentityStoreError`. */
  readonly create: (
    input: CreateKeyInput
  ) => Effect.Effect<CreatedKey, InvalidIdentityInput | StoreFull | IdentityStoreError>
  /** Fails `KeyRejected` (missing, malformed, unknown, expired, revoked) or `IdentityStoreError`. */
  readonly validate: (
    key: string | Redacted.Redacted<string>
  ) => Effect.Effect<ValidatedKey, KeyRejected | IdentityStoreError>
  /**
   * Fails `KeyNotFound` when the tenant has no such key (or it vanished between the read and the update); with
   * `IdentityStoreError` when the `KeyStore` fails the read or the update.
   */
  readonly revoke: (tenant: string, id: string) => Effect.Effect<MaskedKey, KeyNotFound | IdentityStoreError>
  /**
   * Fails `KeyNotFound` when the tenant has no such key, or `KeyRejected` (revoked) when the old key is already
   * revoked. Issuing the successor decodes the old key's fields as `create` does: `InvalidIdentityInput` when they no
   * longer pass `CreateKeyInput` (a record not written by `create`), `StoreFull` when the memory store is at
   * capacity, `IdentityStoreError` when the `KeyStore` fails a read, the insert or the update of the old record.
   */
  readonly rotate: (
    tenant: string,
    id: string,
    options: { readonly grace: Duration.Input }
  ) => Effect.Effect<CreatedKey, KeyNotFound | KeyRejected | InvalidIdentityInput | StoreFull | IdentityStoreError>
  /**
   * The tenant's keys, masked, oldest first (empty for a tenant id that is not a valid `Id`). Fails with
   * `IdentityStoreError` when the `KeyStore`'s list fails.
   */
  readonly list: (tenant: string, principalId?: string) => Effect.Effect<ReadonlyArray<MaskedKey>, IdentityStoreError>
}

/** The keys service. */
export class Keys extends Context.Service<Keys, KeysShape>()("troupe/identity/Keys") {
  /** `CreateKeyInput` of this module, as a static member. */
  static get CreateKeyInput() {
    return CreateKeyInput
  }
  /** `toInvalidInput` of this module, as a static member. */
  static get toInvalidInput() {
    return toInvalidInput
  }
  /** `make` of this module, as a static member. */
  static get make() {
    return make
  }
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
  /** `hasScope` of this module, as a static member. */
  static get hasScope() {
    return hasScope
  }
}

/** Options of the keys service: the server pepper (the HMAC key of stored hashes). */
export interface KeysOptions {
  /** The server pepper: at least 32 characters, kept outside the key store (env or secret manager). */
  readonly pepper: Redacted.Redacted<string>
  /**
   * The validation cache (off by default): accepted keys are kept `ttl` (default 5 seconds, at most
   * `maxEntries`, default 10,000), so a repeat validation skips the store read. A revocation by this process applies
   * at once; one by another process within `ttl` (see internal/KeyCache.ts).
   */
  readonly cache?: { readonly ttl?: Duration.Input; readonly maxEntries?: number }
}

const KEY_BODY = /^[A-Za-z0-9_-]+$/

/** Maps a Schema failure to `InvalidIdentityInput` naming the first failing path. */
export const toInvalidInput = (prefix: string) => (error: Schema.SchemaError): InvalidIdentityInput =>
  Invalid.fromSchemaError(error, "identity input", (f) => new InvalidIdentityInput(f), prefix)

const toMasked = (r: KeyRecord): MaskedKey => ({
  id: r.id,
  masked: mask(r.id),
  tenant: r.tenant,
  principal: r.principal,
  name: r.name,
  scopes: r.scopes,
  createdAt: r.createdAt,
  ...(r.expiresAt !== undefined ? { expiresAt: r.expiresAt } : {}),
  ...(r.revokedAt !== undefined ? { revokedAt: r.revokedAt } : {}),
  ...(r.rotatedTo !== undefined ? { rotatedTo: r.rotatedTo } : {})
})

/** Builds the service over the `KeyStore` in context. Dies when the pepper is shorter than 32 characters. */
export const make = (options: KeysOptions): Effect.Effect<KeysShape, never, KeyStore> =>
  Effect.gen(function*() {
    const store = yield* KeyStore
    const pepper = Redacted.value(options.pepper)
    if (pepper.length < 32) return yield* Effect.die(new Error("Keys: the pepper must be at least 32 characters"))
    const hmac = (key: string): Buffer => createHmac("sha256", pepper).update(key).digest()
    const dummy = randomBytes(32)
    const cache = options.cache === undefined ? undefined : new KeyCache(
      Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(options.cache.ttl ?? "5 seconds"))),
      Math.max(1, Math.floor(options.cache.maxEntries ?? 10_000))
    )
    const decodeCreate = Schema.decodeUnknownEffect(CreateKeyInput)
    const encodeLimits = Schema.encodeEffect(RateLimitPolicy)
    const decodeTenant = Schema.decodeUnknownEffect(Id)

    const create: KeysShape["create"] = Effect.fn("Keys.create")(function*(raw) {
      return yield* issue(raw, undefined)
    })

    /** Issues a key from `raw`; a successor passes its line's `budgetScope`. */
    const issue = Effect.fnUntraced(function*(raw: CreateKeyInput, budgetScope: string | undefined) {
      const input = yield* decodeCreate(raw, { errors: "all" }).pipe(Effect.mapError(toInvalidInput("create")))
      const limits = input.limits === undefined
        ? undefined
        : yield* encodeLimits(input.limits).pipe(Effect.mapError(toInvalidInput("create.limits")))
      const now = yield* Clock.currentTimeMillis
      const id = randomBytes(9).toString("base64url")
      const key = `${KEY_PREFIX}${id}${randomBytes(32).toString("base64url")}`
      const record: KeyRecord = {
        id,
        tenant: input.principal.tenant,
        principal: input.principal,
        name: input.name,
        scopes: input.scopes,
        hash: hmac(key).toString("hex"),
        createdAt: now,
        ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
        ...(limits !== undefined ? { limits } : {}),
        ...(input.budget !== undefined ? { budget: input.budget } : {}),
        ...(budgetScope !== undefined ? { budgetScope } : {})
      }
      yield* store.insert(record)
      return { key: Redacted.make(key), id, info: toMasked(record) }
    })

    const validate: KeysShape["validate"] = Effect.fn("Keys.validate")(function*(presented) {
      const key = Redacted.isRedacted(presented) ? Redacted.value(presented) : presented
      if (key.length === 0) return yield* new KeyRejected({ reason: "missing" })
      if (key.length !== KEY_LENGTH || !key.startsWith(KEY_PREFIX) || !KEY_BODY.test(key.slice(KEY_PREFIX.length))) {
        return yield* new KeyRejected({ reason: "malformed" })
      }
      const id = key.slice(KEY_PREFIX.length, KEY_PREFIX.length + KEY_ID_LENGTH)
      const computed = hmac(key)
      const now = yield* Clock.currentTimeMillis
      const hash = cache === undefined ? "" : computed.toString("hex")
      let record = cache?.get(hash, now)
      if (record === undefined) {
        const readAt = cache?.epoch ?? 0
        const found = yield* store.get(id)
        const stored = Option.isSome(found) ? Buffer.from(found.value.hash, "hex") : dummy
        // timingSafeEqual needs equal lengths; a stored hash is always 32 bytes, the dummy too.
        const equal = stored.length === computed.length && timingSafeEqual(computed, stored)
        if (!equal || Option.isNone(found)) return yield* new KeyRejected({ reason: "unknown" })
        record = found.value
        cache?.set(hash, record, now, readAt)
      }
      if (record.revokedAt !== undefined && record.revokedAt <= now) {
        return yield* new KeyRejected({
          reason: "revoked",
          keyId: id,
          tenant: record.tenant,
          principal: record.principal.id
        })
      }
      if (record.expiresAt !== undefined && record.expiresAt <= now) {
        return yield* new KeyRejected({
          reason: "expired",
          keyId: id,
          tenant: record.tenant,
          principal: record.principal.id
        })
      }
      return {
        keyId: id,
        tenant: record.tenant,
        principal: record.principal,
        scopes: record.scopes,
        limits: Option.fromUndefinedOr(record.limits),
        budget: Option.fromUndefinedOr(record.budget),
        budgetScope: record.budgetScope ?? `key:${record.id}`,
        expiresAt: Option.fromUndefinedOr(record.expiresAt)
      }
    })

    const find = (tenant: string, id: string) =>
      store.get(id).pipe(
        Effect.flatMap((found) =>
          Option.isSome(found) && found.value.tenant === tenant
            ? Effect.succeed(found.value)
            : Effect.fail(new KeyNotFound({ tenant, keyId: id }))
        )
      )

    const revoke: KeysShape["revoke"] = Effect.fn("Keys.revoke")(function*(tenant, id) {
      const record = yield* find(tenant, id)
      cache?.forget(id) // on every path: a key revoked by another process may still be cached here
      if (record.revokedAt !== undefined) return toMasked(record)
      const now = yield* Clock.currentTimeMillis
      const updated = yield* store.update(tenant, id, { revokedAt: now })
      cache?.forget(id)
      if (Option.isNone(updated)) return yield* new KeyNotFound({ tenant, keyId: id })
      return toMasked(updated.value)
    })

    const rotate: KeysShape["rotate"] = Effect.fn("Keys.rotate")(function*(tenant, id, { grace }) {
      // checked before anything is written: a bad grace must not leave a successor behind
      const graceDuration = Duration.fromInput(grace)
      if (graceDuration._tag === "None" || Duration.toMillis(graceDuration.value) < 0) {
        return yield* new InvalidIdentityInput(
          Invalid.fields("identity input", "rotate.grace", "expected a duration ≥ 0 such as \"1 hour\"")
        )
      }
      const old = yield* find(tenant, id)
      const now = yield* Clock.currentTimeMillis
      if (old.revokedAt !== undefined && old.revokedAt <= now) {
        return yield* new KeyRejected({ reason: "revoked", keyId: id })
      }
      const created = yield* issue({
        principal: old.principal,
        name: old.name,
        scopes: old.scopes,
        ...(old.expiresAt !== undefined ? { expiresAt: old.expiresAt } : {}),
        ...(old.limits !== undefined ? { limits: old.limits } : {}),
        ...(old.budget !== undefined ? { budget: old.budget } : {})
      }, old.budgetScope ?? `key:${old.id}`)
      const until = now + Math.min(Duration.toMillis(graceDuration.value), 8.64e15 - now)
      yield* store.update(tenant, id, {
        expiresAt: old.expiresAt === undefined ? until : Math.min(old.expiresAt, until),
        rotatedTo: created.id
      })
      cache?.forget(id)
      return created
    })

    const list: KeysShape["list"] = (tenant, principalId) =>
      decodeTenant(tenant).pipe(
        Effect.matchEffect({
          onFailure: () => Effect.succeed([]),
          onSuccess: () => Effect.map(store.list(tenant, principalId), (rs) => rs.map(toMasked))
        })
      )

    return { create, validate, revoke, rotate, list }
  })

/** `Keys` over the `KeyStore` in context. */
export const layer = (options: KeysOptions): Layer.Layer<Keys, never, KeyStore> => Layer.effect(Keys, make(options))

/** Whether `scopes` grant `scope`: an exact match, `*`, or a `prefix:*` wildcard. */
export const hasScope = (scopes: ReadonlyArray<string>, scope: string): boolean =>
  scopes.some((s) => s === scope || s === "*" || (s.endsWith(":*") && scope.startsWith(s.slice(0, -1))))

/**
 * Typed errors of the identity subsystem (issued keys, RBAC, audit).
 *
 * - `InvalidIdentityInput`: an argument failed its Schema (`path` names the field); nothing was stored.
 * - `KeyRejected`: `Keys.validate` refused a presented key. `reason` is one of `missing`, `malformed`,
 *   `unknown` (no key with that prefix, or the secret does not match — deliberately the same reason, so a caller
 *   cannot tell a forged key from an unknown one), `expired`, `revoked`. It never carries the key itself.
 * - `KeyNotFound`: `revoke`/`rotate` named a key id that does not exist in that tenant.
 * - `PermissionDenied`: `Rbac.require(permission)` found that the subject's roles do not grant it.
 * - `IdentityStoreError`: the backing store (PostgreSQL) failed; `operation` says what was attempted.
 * - `StoreFull`: a bounded in-memory store is at capacity and refuses a new record (records are never evicted:
 *   a key or audit entry silently dropped would be a security hole).
 * - `ErasureIncomplete`: `Privacy.erase` stopped at a failing step (`where`); the steps before it are done and a
 *   retry is safe.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** An input failed validation: `subject`, `path` (the first bad field, `a.b[2].c`) and `detail`. */
export class InvalidIdentityInput extends Schema.TaggedError<InvalidIdentityInput>()(
  "InvalidIdentityInput",
  Invalid.InvalidInputFields
) {
  /** An `InvalidIdentityInput` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidIdentityInput {
    return new InvalidIdentityInput(Invalid.fields("identity input", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Why a presented key was rejected. */
export const KeyRejectedReason = Schema.Literals(["missing", "malformed", "unknown", "expired", "revoked"])
export type KeyRejectedReason = typeof KeyRejectedReason.Type

/** A presented key was rejected (`expired` and `revoked` only after the secret matched). */
export class KeyRejected extends Schema.TaggedError<KeyRejected>()("KeyRejected", {
  reason: KeyRejectedReason,
  /** The public key id when the key was well-formed (never the secret). */
  keyId: Schema.optionalKey(Schema.String),
  /** The key's tenant, for `expired` and `revoked` only (the secret matched, so the owner is known). */
  tenant: Schema.optionalKey(Schema.String),
  /**
   * The key's principal id, for `expired` and `revoked` only (as `tenant`): the gateway names it as the audit
   * entry's `subject`. Never in the message or an HTTP body.
   */
  principal: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `API key rejected: ${this.reason}`
  }
}

/** No key with that id in the tenant. */
export class KeyNotFound extends Schema.TaggedError<KeyNotFound>()("KeyNotFound", {
  tenant: Schema.String,
  keyId: Schema.String
}) {}

/** The subject lacks the permission. */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  permission: Schema.String,
  roles: Schema.Array(Schema.String)
}) {}

/** A key or audit store failed. */
export class IdentityStoreError extends Schema.TaggedError<IdentityStoreError>()("IdentityStoreError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** A bounded in-memory store is at capacity (nothing is evicted). */
export class StoreFull extends Schema.TaggedError<StoreFull>()("StoreFull", {
  store: Schema.String,
  capacity: Schema.Number
}) {}

/**
 * `Privacy.erase` stopped at a step that failed (`where`: `audit`, `keys`, `memory`, `cache` or `index`;
 * `message` says why). The steps before it are done (`completed` names them) and erasing again is safe: every step is
 * idempotent, so a retry finishes the rest.
 */
export class ErasureIncomplete extends Schema.TaggedError<ErasureIncomplete>()("ErasureIncomplete", {
  where: Schema.String,
  message: Schema.String,
  completed: Schema.Array(Schema.String)
}) {}

/**
 * The stored form of an issued API key, and the key format.
 *
 * Format: `tr_live_` + a 12-character public id (9 random bytes, base64url) + a 43-character secret (32 random
 * bytes = 256 bits, base64url), 63 characters in all, no separator (base64url may contain `_`, so the parts are
 * found by position). The public id is the lookup prefix: it is stored in clear and shown in `list`; the secret
 * is never stored, only `HMAC-SHA-256(pepper, whole key)` as hex.
 *
 * Times are epoch milliseconds from Effect's `Clock` (so `TestClock` drives expiry and rotation grace).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { RateLimitPolicy } from "../ratelimit/RateLimitPolicy.ts"
import { Id, Principal } from "./Principal.ts"

/** The prefix of every issued key. */
export const KEY_PREFIX = "tr_live_"
/** Length of a key's public id (the lookup prefix). */
export const KEY_ID_LENGTH = 12
/** Length of a key's secret (256 bits, base64url). */
export const KEY_SECRET_LENGTH = 43
/** Length of a whole key. */
export const KEY_LENGTH = KEY_PREFIX.length + KEY_ID_LENGTH + KEY_SECRET_LENGTH

/** A scope such as `chat:write` or `*`: 1–64 characters of `[A-Za-z0-9_.:*-]`. */
export const Scope = Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9_.:*-]{1,64}$/)))

/** A spend budget attached to a key (enforced by the budget service; the key only carries it). */
export const Budget = Schema.Struct({
  limitUsd: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1e9)),
  period: Schema.Literals(["day", "month", "total"])
})
export type Budget = typeof Budget.Type

const Millis = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** The JSON-safe record a `KeyStore` holds (rate-limit policy in its encoded form). */
export const KeyRecord = Schema.Struct({
  id: Schema.String,
  tenant: Id,
  principal: Principal,
  name: Schema.String,
  scopes: Schema.Array(Scope),
  /** hex HMAC-SHA-256(pepper, key) */
  hash: Schema.String,
  createdAt: Millis,
  expiresAt: Schema.optionalKey(Millis),
  revokedAt: Schema.optionalKey(Millis),
  /** set on the old key by `rotate`: the id of its successor */
  rotatedTo: Schema.optionalKey(Schema.String),
  limits: Schema.optionalKey(Schema.toEncoded(RateLimitPolicy)),
  budget: Schema.optionalKey(Budget),
  /**
   * The budget scope the key's calls are charged to: `key:<id>` of the first key of its rotation line (absent:
   * `key:<own id>`), so a rotated successor spends from the same budget and a rotation never resets the spend.
   */
  budgetScope: Schema.optionalKey(Schema.String)
})
export type KeyRecord = typeof KeyRecord.Type

/** What `list` shows: the record without its hash, with the key masked as `tr_live_<id>…`. */
export interface MaskedKey {
  readonly id: string
  readonly masked: string
  readonly tenant: string
  readonly principal: Principal
  readonly name: string
  readonly scopes: ReadonlyArray<string>
  readonly createdAt: number
  readonly expiresAt?: number
  readonly revokedAt?: number
  readonly rotatedTo?: string
}

/** A key as `list` shows it: prefix, public id, dots. */
export const mask = (id: string): string => `${KEY_PREFIX}${id}${"•".repeat(8)}`

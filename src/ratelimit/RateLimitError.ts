/**
 * Typed errors of the RateLimiter subsystem.
 *
 * - `RateLimited`: a check or acquire was refused. Carries the binding tier, its limit and the exact
 *   `retryAfter` (the earliest time at which *every* tier of the policy admits the same cost), like the
 *   `RateLimitExceeded` reason of Effect's `effect/persistence/RateLimiter`, but flat (no wrapper reason) and
 *   naming the tier, because our policies hold several tiers.
 * - `InvalidRateLimitInput`: an option, policy or key failed validation; `path` names the bad field
 *   (`["tiers", 1, "limit"]`, `["cost"]`, `["key"]`) and `message` says why.
 * - `RateLimitStoreError`: the backing store (Redis) failed or timed out and the layer's store-error policy
 *   is `failClosed` (under `failOpen` / `insurance` the caller never sees it).
 *
 * All three are `Schema.TaggedError` classes so they cross process boundaries (RPC, logs) intact.
 */
import { Duration, Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** A check or acquire was refused; `retryAfter` is exact (not an estimate) for the state seen at the check. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  /** the limited key */
  key: Schema.String,
  /** the policy the key was checked against */
  policy: Schema.String,
  /** the name of the binding tier (the one that admits last) */
  tier: Schema.String,
  /** that tier's limit (capacity for a token bucket) */
  limit: Schema.Number,
  /** the requested cost */
  cost: Schema.Number,
  /** milliseconds until the same request would be admitted; `Infinity` when the cost exceeds a tier's limit */
  retryAfterMillis: Schema.Number
}) {
  /** `retryAfterMillis` as a `Duration` (`Duration.infinity` when the cost can never fit). */
  get retryAfter(): Duration.Duration {
    return Number.isFinite(this.retryAfterMillis) ? Duration.millis(this.retryAfterMillis) : Duration.infinity
  }

  override get message(): string {
    return Number.isFinite(this.retryAfterMillis)
      ? `rate limited: key "${this.key}" exceeds tier "${this.tier}" (limit ${this.limit}) of policy "${this.policy}"; retry after ${this.retryAfterMillis} ms`
      : `rate limited: cost ${this.cost} can never fit tier "${this.tier}" (limit ${this.limit}) of policy "${this.policy}"`
  }
}

/** Invalid input to a public entry point: `subject`, `path` (the first bad field, `a.b[2].c`) and `detail`. */
export class InvalidRateLimitInput extends Schema.TaggedError<InvalidRateLimitInput>()(
  "InvalidRateLimitInput",
  Invalid.InvalidInputFields
) {
  /** An `InvalidRateLimitInput` for a rule Schema cannot express, at `path` (segments, rendered `a.b[2].c`). */
  static at(path: ReadonlyArray<string | number>, detail: string): InvalidRateLimitInput {
    return new InvalidRateLimitInput(Invalid.fields("rate limiter input", Invalid.formatPath(path), detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/**
 * What went wrong with the store: `connection` (no connection / the socket closed / the client offline: Redis
 * is down), `timeout` (no reply within the store timeout: Redis may be slow or stalled), `command` (Redis
 * answered with an error), `cooling` (calls skip the store for `storeCooldown` after it was found down).
 */
export type StoreErrorKind = "connection" | "timeout" | "command" | "cooling"

/** The backing store failed (or timed out) and the store-error policy is `failClosed`. */
export class RateLimitStoreError extends Schema.TaggedError<RateLimitStoreError>()("RateLimitStoreError", {
  operation: Schema.String,
  reason: Schema.String,
  /** see `StoreErrorKind`; absent means `connection` */
  kind: Schema.optional(Schema.Literals(["connection", "timeout", "command", "cooling"])),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `rate limiter store failed during ${this.operation}: ${this.reason}`
  }
}

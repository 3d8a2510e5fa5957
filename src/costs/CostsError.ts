/**
 * The errors of the spend ledger (`Costs`):
 * - `InvalidCost`: a record whose cost is not a finite non-negative number, or whose dimension is not of its type
 *   (a string of at most 1,024 characters without NUL; `cached` and `hedge` booleans). It names the path (`cost`, `tenant`, …)
 *   in the shared invalid-input shape; nothing is recorded.
 * - `CostsStoreError`: the backing store (Redis, PostgreSQL) failed; the memory backend never fails.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** A record that is not a finite non-negative cost with well-typed dimensions (`path`: the offending field). */
export class InvalidCost extends Schema.TaggedError<InvalidCost>()("InvalidCost", Invalid.InvalidInputFields) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** The ledger's store (Redis, PostgreSQL) failed during `operation` (`init`, `record`, `stats`, `forecast`). */
export class CostsStoreError extends Schema.TaggedError<CostsStoreError>()("CostsStoreError", {
  operation: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `costs store ${this.operation} failed: ${this.detail}`
  }
}

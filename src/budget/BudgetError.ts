/**
 * Typed errors of the budget subsystem.
 *
 * - `BudgetExceeded`: a reservation was refused because one scope's limit cannot hold it (`spent + reserved +
 *   amount > limit`). It names the first such scope with its limit, what it has spent and what is reserved, all in
 *   USD; nothing was reserved on any scope (all or none). The gateway answers it with 402.
 * - `BudgetStoreError`: the backing store (Redis, PostgreSQL) failed, or the in-memory table reached its bound.
 *
 * Invalid input (a scope, a limit, an amount) fails with the runtime's `InvalidOptions` (`subject`, `path`,
 * `detail`), the one invalid-input shape of every subsystem.
 */
import { Schema } from "effect"

/** A reservation was refused: `scope` cannot hold it. Amounts in USD. */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  /** the first scope whose limit refuses the reservation (`tenant:acme`, `key:k_123`, …) */
  scope: Schema.String,
  /** that scope's limit for the current period */
  limit: Schema.Number,
  /** settled spend of the current period */
  spent: Schema.Number,
  /** held by live reservations */
  reserved: Schema.Number,
  /** the refused amount */
  requested: Schema.Number
}) {
  override get message(): string {
    return `budget ${this.scope} exceeded: limit ${usd(this.limit)}, spent ${usd(this.spent)}, reserved ${
      usd(this.reserved)
    }, requested ${usd(this.requested)}`
  }
}

/** The budget store failed (or the in-memory table is full). */
export class BudgetStoreError extends Schema.TaggedError<BudgetStoreError>()("BudgetStoreError", {
  operation: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `budget store ${this.operation} failed: ${this.detail}`
  }
}

const usd = (n: number): string => `$${n.toFixed(6).replace(/0{1,4}$/, "")}`

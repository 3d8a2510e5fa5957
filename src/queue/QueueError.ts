/**
 * The typed failures of a `RequestQueue`. Both are backpressure: the gateway maps them to 503 with `retry-after`
 * (see `src/gateway/GatewayError.ts`, beside `BudgetExceeded`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A request refused on arrival: the queue is full and the overflow strategy kept the waiting requests. */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  queue: Schema.String,
  capacity: Schema.Int,
  /** when the client should retry, in milliseconds */
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `the ${this.queue} queue is full (${this.capacity} waiting); retry later`
  }
}

/** Why a waiting request was shed. */
export const ShedReason = Schema.Literals(["priority", "deadline", "timeout"])
/** Why a waiting request was shed. */
export type ShedReason = typeof ShedReason.Type

/**
 * A request that waited and was taken out of the queue: evicted by a higher-priority arrival (`priority`), past its
 * deadline (`deadline`), or past its own wait timeout (`timeout`).
 */
export class Shed extends Schema.TaggedError<Shed>()("Shed", {
  queue: Schema.String,
  reason: ShedReason,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `request shed from the ${this.queue} queue (${this.reason}); retry later`
  }
}

/**
 * Queues and pools (issue 15 §4): `RequestQueue` (priorities, weighted fair queuing across tenants, bounded with
 * overflow strategies, timeouts, cancellation, concurrency, backpressure errors, metrics).
 *
 * @since 0.1.0
 */
/** The request queue. */
export * as RequestQueue from "./RequestQueue.ts"
/** A request refused on arrival because the queue is full. */
export { QueueFull, Shed, ShedReason } from "./QueueError.ts"

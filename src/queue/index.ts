/**
 * Queues and pools (issue 15 §4): `RequestQueue` (priorities, weighted fair queuing across tenants, bounded with
 * overflow strategies, timeouts, cancellation, concurrency, backpressure errors, metrics) and `ResourcePool` (on
 * effect's `Pool`: health checks, recycling after N uses or an age, dynamic sizing, metrics).
 *
 * @since 0.1.0
 */
/** The request queue. */
export * as RequestQueue from "./RequestQueue.ts"
/** A request refused on arrival because the queue is full. */
export { QueueFull, Shed, ShedReason } from "./QueueError.ts"
/** The resource pool (on effect's `Pool`): health checks, recycling, dynamic sizing, metrics. */
export * as ResourcePool from "./ResourcePool.ts"
/** The resource pool's typed failures. */
export { PoolTimeout, PoolUnhealthy } from "./ResourcePool.ts"

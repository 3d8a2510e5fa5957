/**
 * The dead-letter queue (`troupe/dlq`): permanently failed requests and agent turns, recorded with masked input,
 * listed, inspected, redriven (idempotently, at a rate) and purged; memory, Redis streams and PostgreSQL backends.
 *
 * @since 0.1.0
 */
export * from "./DeadLetter.ts"
export * from "./DeadLetters.ts"
export * from "./DlqError.ts"

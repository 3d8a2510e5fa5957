/**
 * Typed errors of the dead-letter queue: `DlqStoreError` when a backend fails (connection, query, a stored letter
 * that no longer decodes — then naming the letter's `id`) and `DeadLetterNotFound` when a single-letter operation names an unknown id.
 */
import { Schema } from "effect"

/**
 * A backend operation failed; `detail` never carries a letter's input. `id` is set when the failure is one letter's
 * own (its stored form does not decode, or cannot be claimed), not the backend's: a redrive then skips that letter
 * and reports why instead of failing.
 */
export class DlqStoreError extends Schema.TaggedError<DlqStoreError>()("DlqStoreError", {
  operation: Schema.String,
  detail: Schema.String,
  id: Schema.optional(Schema.String)
}) {}

/** `inspect` or `redrive` named an id the queue does not hold. */
export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  id: Schema.String
}) {}

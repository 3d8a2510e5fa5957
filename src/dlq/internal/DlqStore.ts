/**
 * The backend contract of the dead-letter queue: insert once per id, read one or all (oldest first), compare-and-set
 * a letter on its status (the claim that makes redrive idempotent across processes) and remove. @internal
 */
import type { Effect } from "effect"
import type { DeadLetter, DeadLetterStatus } from "../DeadLetter.ts"
import type { DlqStoreError } from "../DlqError.ts"

/** A DLQ backend. */
export interface DlqStoreShape {
  /** Inserts `letter` unless its id is held; false when it was. */
  readonly put: (letter: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  readonly get: (id: string) => Effect.Effect<DeadLetter | undefined, DlqStoreError>
  /** Every letter, oldest first. */
  readonly all: () => Effect.Effect<ReadonlyArray<DeadLetter>, DlqStoreError>
  /** Replaces the letter `next.id` only while its status is `expected`; false otherwise (or when absent). */
  readonly swap: (expected: DeadLetterStatus, next: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  /** Removes the letters; the number removed. */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, DlqStoreError>
}

/**
 * The backend contract of the dead-letter queue: insert once per id, read one or all (oldest first), compare-and-set
 * a letter on its version — its status, its `redrives` count and its claim stamp `claimedAt` (the claim that makes
 * redrive idempotent across processes; a claim made from a stale read — the letter redriven, failed and dead again
 * since, or its expired claim already taken over — loses instead of overwriting the newer letter) — and remove.
 * The version is kept beside the letter (a field, a column), so the compare-and-set never decodes a letter.
 * @internal
 */
import type { Effect } from "effect"
import type { DeadLetter, DeadLetterStatus } from "../DeadLetter.ts"
import type { DlqStoreError } from "../DlqError.ts"

/** What a compare-and-set expects of the stored letter. */
export interface SwapExpected {
  readonly status: DeadLetterStatus
  readonly redrives: number
  /** the claim stamp (undefined: none, as for every `dead` letter) */
  readonly claimedAt?: number | undefined
}

/** A DLQ backend. */
export interface DlqStoreShape {
  /** Inserts `letter` unless its id is held; false when it was. */
  readonly put: (letter: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  readonly get: (id: string) => Effect.Effect<DeadLetter | undefined, DlqStoreError>
  /** Every letter, oldest first. */
  readonly all: () => Effect.Effect<ReadonlyArray<DeadLetter>, DlqStoreError>
  /**
   * Replaces the letter `next.id` only while its status, `redrives` and `claimedAt` are `expected`'s, in one atomic
   * step; false otherwise (or when absent). Fails with a `DlqStoreError` naming the letter's `id` when that letter's
   * own stored form cannot be compared (a letter of an earlier layout that no longer decodes).
   */
  readonly swap: (expected: SwapExpected, next: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  /** Removes the letters; the number removed. */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, DlqStoreError>
}

/**
 * The backend contract of the dead-letter queue: insert once per id, read one or all (oldest first), compare-and-set
 * a letter on its status and its `redrives` count (the claim that makes redrive idempotent across processes; the
 * count is the letter's version, so a claim made from a stale read — the letter redriven, failed and dead again
 * since — loses instead of overwriting the newer letter) and remove. @internal
 */
import type { Effect } from "effect"
import type { DeadLetter, DeadLetterStatus } from "../DeadLetter.ts"
import type { DlqStoreError } from "../DlqError.ts"

/** What a compare-and-set expects of the stored letter. */
export interface SwapExpected {
  readonly status: DeadLetterStatus
  readonly redrives: number
}

/** A DLQ backend. */
export interface DlqStoreShape {
  /** Inserts `letter` unless its id is held; false when it was. */
  readonly put: (letter: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  readonly get: (id: string) => Effect.Effect<DeadLetter | undefined, DlqStoreError>
  /** Every letter, oldest first. */
  readonly all: () => Effect.Effect<ReadonlyArray<DeadLetter>, DlqStoreError>
  /**
   * Replaces the letter `next.id` only while its status and `redrives` are `expected`'s, in one atomic step; false
   * otherwise (or when absent).
   */
  readonly swap: (expected: SwapExpected, next: DeadLetter) => Effect.Effect<boolean, DlqStoreError>
  /** Removes the letters; the number removed. */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, DlqStoreError>
}

/**
 * The in-memory DLQ backend: a Map in insertion order, bounded (default 10,000 letters); past the bound the oldest
 * letter is dropped and counted in `dropped`. @internal
 */
import { Effect } from "effect"
import type { DeadLetter } from "../DeadLetter.ts"
import type { DlqStoreShape } from "./DlqStore.ts"

/** A memory store and the count of letters it dropped at its bound. */
export const makeMemoryDlqStore = (maxLetters: number): DlqStoreShape & { readonly dropped: () => number } => {
  const letters = new Map<string, DeadLetter>()
  let dropped = 0
  return {
    dropped: () => dropped,
    put: (letter) =>
      Effect.sync(() => {
        if (letters.has(letter.id)) return false
        letters.set(letter.id, letter)
        while (letters.size > maxLetters) {
          const oldest = letters.keys().next().value as string // size > 0
          letters.delete(oldest)
          dropped++
        }
        return true
      }),
    get: (id) => Effect.sync(() => letters.get(id)),
    all: () => Effect.sync(() => [...letters.values()]),
    swap: (expected, next) =>
      Effect.sync(() => {
        const current = letters.get(next.id)
        if (
          current === undefined || current.status !== expected.status || current.redrives !== expected.redrives ||
          current.claimedAt !== expected.claimedAt
        ) {
          return false
        }
        letters.set(next.id, next)
        return true
      }),
    remove: (ids) =>
      Effect.sync(() => {
        let n = 0
        for (const id of ids) if (letters.delete(id)) n++
        return n
      })
  }
}

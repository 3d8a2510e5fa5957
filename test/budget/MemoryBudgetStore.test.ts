import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeMemoryBudgetStore } from "../../src/budget/internal/MemoryBudgetStore.ts"

describe("MemoryBudgetStore", () => {
  it.effect("the expiry heap stays bounded: settled holds behind a long-lived one are dropped, not kept to their expiry", () =>
    Effect.gen(function*() {
      const store = makeMemoryBudgetStore()
      const now = 1_000_000
      yield* store.set({ scope: "tenant:acme", limit: 1e12, period: "total", alertAt: [] }, now)
      const long = { id: "long", scopes: ["tenant:acme"], amount: 1, expiresAt: now + 3_600_000, now }
      assert.strictEqual(store.reserveSync?.(long) instanceof Error, false)
      for (let i = 0; i < 10_000; i++) {
        const request = { id: `r${i}`, scopes: ["tenant:acme"], amount: 2, expiresAt: now + 60_000 + i, now }
        store.reserveSync?.(request)
        store.settleSync?.({ ...request, actual: 1 })
      }
      // two live holds at most at any time: the heap is rebuilt past 2 x live + 64 entries
      assert.isAtMost(store.heapEntries(), 2 * 2 + 64 + 1)
      const status = yield* store.get("tenant:acme", now)
      assert.strictEqual(status?.reserved, 1)
      assert.strictEqual(status?.spent, 10_000)
      // the long hold still expires on time
      const later = yield* store.get("tenant:acme", now + 3_600_000)
      assert.strictEqual(later?.reserved, 0)
    }))
})

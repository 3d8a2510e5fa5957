/**
 * LeaseTable against a reference pool (a fixed window of N tokens held in a plain counter, the store's
 * all-or-none `take`): several tables (processes) with random costs, concurrency and times never admit more
 * than N in a window; when every check has been answered, admitted + outstanding + dropped + pool = N.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { type LeaseStore, LeaseTable } from "../../../src/ratelimit/internal/LeaseTable.ts"
import { decodePolicy } from "../../../src/ratelimit/RateLimitPolicy.ts"
import { Allowed } from "../../../src/ratelimit/RateLimitResult.ts"

/** The reference pool: a fixed window's tokens in a plain counter, with the store's all-or-none `take`. */
const referencePool = (limit: number) => {
  const counter = { pool: limit }
  const store: LeaseStore = {
    take: (_key, p, k, cost) =>
      Effect.sync(() => {
        const n = counter.pool >= k ? k : counter.pool >= cost ? cost : 0
        if (n === 0) {
          return { decision: { _tag: "Refusal" as const, tierIndex: 0, retryAfterMillis: 1 }, leased: 0 }
        }
        counter.pool -= n
        return { decision: new Allowed(p.name, p.tierNames, [counter.pool], 1), leased: n - cost }
      }).pipe(Effect.delay(0)),
    giveBack: (_key, _p, tokens) => Effect.sync(() => void (counter.pool += tokens)),
    onLease: () => undefined
  }
  return { counter, store }
}

describe("LeaseTable properties", () => {
  it("random checks over several processes never admit more than the pool held; tokens are conserved", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({ process: fc.nat(3), cost: fc.integer({ min: 1, max: 5 }), at: fc.integer({ min: 0, max: 900 }) }),
          { maxLength: 120 }
        ),
        fc.integer({ min: 1, max: 64 }),
        async (limit, processes, checks, maxTokens) => {
          const policy = await Effect.runPromise(decodePolicy("p", {
            tiers: [{ _tag: "FixedWindow", limit, window: 1000 }],
            lease: { maxTokens, ttl: 500 }
          }))
          const { counter, store } = referencePool(limit)
          const tables = Array.from({ length: processes }, () => new LeaseTable(store, processes))
          const sorted = [...checks].sort((a, b) => a.at - b.at)
          let admitted = 0
          await Effect.runPromise(
            Effect.forEach(
              sorted,
              (c) =>
                Effect.map((tables[c.process % processes] as LeaseTable).consume("k", policy, c.cost, c.at), (d) => {
                  if (d._tag === "Allowed") {
                    admitted += c.cost
                  }
                }),
              { concurrency: 8, discard: true }
            )
          )
          assert.isAtMost(admitted, limit)
          const outstanding = tables.reduce((n, t) => n + t.outstanding, 0)
          const dropped = tables.reduce((n, t) => n + t.dropped, 0)
          assert.isAtLeast(outstanding, 0)
          assert.strictEqual(admitted + outstanding + dropped + counter.pool, limit)
          // release gives back every unexpired lease (fixed windows are returnable)
          await Effect.runPromise(Effect.forEach(tables, (t) => t.release(0), { discard: true }))
          assert.isAtMost(counter.pool, limit)
        }
      ),
      { numRuns: 500 }
    )
  })

  it.effect("a check waiting on another check's lease request is refused with it only if it costs as much; a cheaper one asks again", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy("p", {
        tiers: [{ _tag: "FixedWindow", limit: 10, window: 1000 }],
        lease: { maxTokens: 1, ttl: 500 }
      })
      const { store } = referencePool(10)
      const table = new LeaseTable(store, 1)
      assert.strictEqual((yield* table.consume("k", policy, 8, 0))._tag, "Allowed")
      const [big, small, same] = yield* Effect.all([
        table.consume("k", policy, 5, 1),
        table.consume("k", policy, 1, 1),
        table.consume("k", policy, 5, 1)
      ], { concurrency: "unbounded" })
      assert.strictEqual(big._tag, "Refusal")
      assert.strictEqual(small._tag, "Allowed") // 2 tokens were left, as the memory backend answers
      assert.strictEqual(same._tag, "Refusal")
    }))
})

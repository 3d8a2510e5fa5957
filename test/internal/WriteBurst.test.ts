import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { WriteBurst } from "../../src/internal/WriteBurst.ts"

const nextTurn = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve)
  })

describe("WriteBurst: the write gate of the Redis script runner", () => {
  it("every write runs exactly once, in submission order; at most `limit` at once per turn (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 6 }),
        async (limit, turns) => {
          const burst = new WriteBurst(limit)
          const written: Array<number> = []
          let inSubmit = false
          let atOnce = 0
          let id = 0
          for (const count of turns) {
            atOnce = 0
            for (let i = 0; i < count; i++) {
              const mine = id++
              inSubmit = true
              burst.submit(() => {
                if (inSubmit) atOnce++
                written.push(mine)
              })
              inSubmit = false
            }
            expect(atOnce).toBeLessThanOrEqual(limit)
            await nextTurn()
          }
          await nextTurn()
          await nextTurn()
          expect(written).toEqual(Array.from({ length: id }, (_, i) => i))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("the first `limit` commands of a turn are written at once, the rest at the start of the next turn", async () => {
    const burst = new WriteBurst(2)
    const written: Array<number> = []
    for (let i = 0; i < 5; i++) burst.submit(() => written.push(i))
    expect(written).toEqual([0, 1])
    await nextTurn()
    expect(written).toEqual([0, 1, 2, 3, 4])
  })

  const lone = async (wait: () => Promise<void>) => {
    const burst = new WriteBurst(1)
    for (let i = 0; i < 20; i++) {
      let now = false
      burst.submit(() => {
        now = true
      })
      expect(now).toBe(true)
      await wait()
    }
  }

  it("a single caller (one command per turn) is never delayed", () => lone(nextTurn))

  it("the count resets in a microtask after a burst: a caller resumed by a promise is never delayed", () =>
    lone(() => Promise.resolve()))
})

import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { WriteBurst, type WriteTicket } from "../../src/internal/WriteBurst.ts"

const nextTurn = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve)
  })

/** One turn of the event loop: submit a new command, or cancel the ticket of an earlier one (by position). */
const action = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "submit" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), which: fc.nat() }) }
)

describe("WriteBurst: the write gate of the Redis script runner", () => {
  it("every write runs exactly once, in submission order; at most `limit` at once per turn; a cancelled write never runs (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.array(action, { maxLength: 40 }), { minLength: 1, maxLength: 6 }),
        async (limit, turns) => {
          const burst = new WriteBurst(limit)
          const written: Array<number> = []
          const tickets: Array<{ readonly id: number; readonly ticket: WriteTicket }> = []
          const cancelledBeforeWrite = new Set<number>()
          let inSubmit = false
          let atOnce = 0
          let id = 0
          for (const turn of turns) {
            atOnce = 0
            for (const step of turn) {
              if (step.kind === "submit") {
                const mine = id++
                inSubmit = true
                const ticket = burst.submit(() => {
                  if (inSubmit) atOnce++
                  written.push(mine)
                })
                inSubmit = false
                tickets.push({ id: mine, ticket })
              } else if (tickets.length > 0) {
                const target = tickets[step.which % tickets.length]!
                if (!written.includes(target.id)) cancelledBeforeWrite.add(target.id)
                target.ticket.cancel()
              }
            }
            expect(atOnce).toBeLessThanOrEqual(limit)
            await nextTurn()
          }
          await nextTurn()
          await nextTurn()
          const expected = tickets.map((t) => t.id).filter((t) => !cancelledBeforeWrite.has(t))
          expect(written).toEqual(expected)
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

  it("a single caller (one command per turn) is never delayed", async () => {
    const burst = new WriteBurst(1)
    for (let i = 0; i < 20; i++) {
      let now = false
      burst.submit(() => {
        now = true
      })
      expect(now).toBe(true)
      await nextTurn()
    }
  })

  it("a command cancelled while it waits is never written; cancelling a written one changes nothing", async () => {
    const burst = new WriteBurst(1)
    const written: Array<string> = []
    const first = burst.submit(() => written.push("a"))
    const second = burst.submit(() => written.push("b"))
    burst.submit(() => written.push("c"))
    first.cancel()
    second.cancel()
    await nextTurn()
    expect(written).toEqual(["a", "c"])
  })
})

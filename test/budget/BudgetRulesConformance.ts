/**
 * The second part of the conformance suite of `Budgets` (see BudgetConformance.ts), run against every backend: the
 * rules of a reservation's ttl, of alerts when a budget changes, and of the reported period start.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import type { BudgetStatus } from "../../src/budget/index.ts"
import { Budgets, MAX_RESERVATION_TTL } from "../../src/budget/index.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import type { BudgetBackend } from "./BudgetConformance.ts"

const JAN_15 = Date.UTC(2026, 0, 15, 12, 0, 0)

const status = (scope: string): Effect.Effect<BudgetStatus, unknown, Budgets> =>
  Effect.gen(function*() {
    const budgets = yield* Budgets
    return Option.getOrThrow(yield* budgets.get(scope))
  })

/** Reserves and settles `usd` on `scope`; answers the thresholds of the alerts the settle fired. */
const spend = (scope: string, usd: number): Effect.Effect<ReadonlyArray<number>, unknown, Budgets> =>
  Effect.gen(function*() {
    const budgets = yield* Budgets
    const alerts = yield* budgets.settle(yield* budgets.reserve({ scopes: [scope], amount: usd }), usd)
    return alerts.map((a) => a.threshold)
  })

export const budgetRulesConformance = (backend: BudgetBackend): void => {
  describe(`Budgets rules (${backend.label})`, () => {
    const run = <A, E>(body: Effect.Effect<A, E, Budgets | TelemetryHub>) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15)
        return yield* body.pipe(Effect.provide(backend.layer().pipe(Layer.provideMerge(TelemetryHub.layer()))))
      })

    it.effect("a ttl is kept in whole milliseconds: a ttl of 12.3456 seconds holds until 12.346 seconds", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.25, ttl: "12.3456 seconds" })
        assert.strictEqual(r.expiresAt, JAN_15 + 12_346)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0.25)
        yield* budgets.settle(r, 0.125)
        let s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 0.125)
        yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5, ttl: 0.5 }) // half a millisecond: one
        yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.25, ttl: "12.3456 seconds" })
        yield* TestClock.adjust(1)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0.25)
        yield* TestClock.adjust(12_344)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0.25)
        yield* TestClock.adjust(1)
        s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0)
      })))

    it.effect("a ttl above the maximum of 30 days, or not finite, fails with InvalidOptions and holds nothing", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const ttls: ReadonlyArray<Duration.Input> = [
          "Infinity",
          1e300,
          "31 days",
          Duration.toMillis(MAX_RESERVATION_TTL) + 0.5
        ]
        for (const ttl of ttls) {
          const e = yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.25, ttl }))
          assert.strictEqual(e._tag, "InvalidOptions")
          assert.strictEqual(e._tag === "InvalidOptions" ? e.path : "", "ttl")
          assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
        }
        const longest = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.25, ttl: "30 days" })
        assert.strictEqual(longest.expiresAt, JAN_15 + 30 * 86_400_000)
        yield* TestClock.adjust("30 days")
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
      })))

    it.effect("changing alertAt keeps this period's alerts: a fraction up to the highest one fired does not fire", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.5, 0.8, 1] })
        assert.deepStrictEqual(yield* spend("tenant:acme", 8.5), [0.5, 0.8])
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.25, 0.5, 0.75, 0.8, 1] })
        assert.deepStrictEqual(yield* spend("tenant:acme", 0.1), [])
        assert.deepStrictEqual(yield* spend("tenant:acme", 1.4), [1])
        assert.deepStrictEqual(yield* spend("tenant:acme", 0), [])
      })))

    it.effect("a fraction added above the highest one fired this period fires when the spend reaches it", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.5, 0.8, 1] })
        assert.deepStrictEqual(yield* spend("tenant:acme", 8.5), [0.5, 0.8])
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.9, 0.95] })
        assert.deepStrictEqual(yield* spend("tenant:acme", 0.3), [])
        assert.deepStrictEqual(yield* spend("tenant:acme", 0.8), [0.9, 0.95])
        // the same spec set again changes nothing
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.9, 0.95] })
        assert.deepStrictEqual(yield* spend("tenant:acme", 0.1), [])
      })))

    it.effect(
      "a new limit re-bases the alerts: a fraction the spend has not reached of the new limit fires when reached",
      () =>
        run(Effect.gen(function*() {
          const budgets = yield* Budgets
          const hub = yield* TelemetryHub
          const seen: Array<TelemetryEvent> = []
          yield* hub.attach("budget-alerts", [["troupe", "budget"]], (e) => void seen.push(e))
          yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.5, 1] })
          assert.deepStrictEqual(yield* spend("tenant:acme", 6), [0.5])
          yield* budgets.set({ scope: "tenant:acme", limit: 100, period: "month", alertAt: [0.5, 1] })
          assert.deepStrictEqual(yield* spend("tenant:acme", 40), []) // 46% of the new limit
          assert.deepStrictEqual(yield* spend("tenant:acme", 14), [0.5]) // 60%
          // a lower limit the spend already passed: 0.5 fired and is passed, so only 1 is left (at a refusal)
          yield* budgets.set({ scope: "tenant:acme", limit: 50, period: "month", alertAt: [0.5, 1] })
          seen.length = 0
          yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 1 }))
          assert.deepStrictEqual(seen.map((e) => [e.measurements["threshold"], e.metadata["reason"]]), [[
            1,
            "exhausted"
          ]])
          // back to 100: the spend (60%) passed 0.5, which fired: it does not fire again this period
          yield* budgets.set({ scope: "tenant:acme", limit: 100, period: "month", alertAt: [0.5, 1] })
          assert.deepStrictEqual(yield* spend("tenant:acme", 30), []) // 90%
          assert.deepStrictEqual(yield* spend("tenant:acme", 10), [1])
          // a new period fires every fraction again
          yield* TestClock.adjust("17 days") // February
          assert.deepStrictEqual(yield* spend("tenant:acme", 50), [0.5])
        }))
    )

    it.effect("a budget changed to total reports periodStart 0 and keeps the spend counted since its last start", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "day" })
        yield* spend("tenant:acme", 2)
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "total" })
        let s = yield* status("tenant:acme")
        assert.strictEqual(s.periodStart, 0)
        assert.strictEqual(s.spent, 2)
        yield* TestClock.adjust("40 days") // total never resets
        yield* spend("tenant:acme", 1)
        s = yield* status("tenant:acme")
        assert.strictEqual(s.periodStart, 0)
        assert.strictEqual(s.spent, 3)
        assert.strictEqual((yield* budgets.list()).find((b) => b.scope === "tenant:acme")?.periodStart, 0)
      })))
  })
}

/**
 * The one conformance suite of `Costs`, run against every backend. Times come from Effect's Clock, so the UTC
 * period rules and the forecast run under TestClock; the clock is set before the backend is built.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Costs } from "../../src/costs/index.ts"

/** A backend under test: a fresh layer per test. */
export interface CostsBackend {
  readonly label: string
  readonly layer: () => Layer.Layer<Costs, unknown>
}

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 30, 0)
const HOUR = 3_600_000
const DAY = 86_400_000

export const costsConformance = (backend: CostsBackend): void => {
  describe(`Costs (${backend.label})`, () => {
    const run = <A, E>(body: Effect.Effect<A, E, Costs>) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        return yield* body.pipe(Effect.provide(backend.layer()))
      })

    it.effect("record adds to the UTC hour, day and month totals; stats groups by a dimension", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* costs.record({ cost: 0.5, tenant: "acme", model: "openai:gpt-4o" })
        yield* costs.record({ cost: 0.25, tenant: "acme", model: "openai:gpt-4o-mini" })
        yield* costs.record({ cost: 1, tenant: "globex", model: "openai:gpt-4o" })
        for (const period of ["hour", "day", "month"] as const) {
          const s = yield* costs.stats({ period, groupBy: "tenant" })
          assert.closeTo(s.total, 1.75, 1e-12)
          assert.strictEqual(s.count, 3)
          assert.closeTo(s.groups["acme"] ?? 0, 0.75, 1e-12)
          assert.closeTo(s.groups["globex"] ?? 0, 1, 1e-12)
        }
        const byModel = yield* costs.stats({ period: "day", groupBy: "model", where: { tenant: "acme" } })
        assert.closeTo(byModel.total, 0.75, 1e-12)
        assert.deepStrictEqual(Object.keys(byModel.groups).sort(), ["openai:gpt-4o", "openai:gpt-4o-mini"])
      })))

    it.effect("periods are UTC calendar periods: a new hour, day or month starts from zero", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* costs.record({ cost: 1 })
        yield* TestClock.adjust(HOUR)
        yield* costs.record({ cost: 2 })
        assert.strictEqual((yield* costs.stats({ period: "hour" })).total, 2)
        assert.strictEqual((yield* costs.stats({ period: "hour", at: JAN_15_NOON })).total, 1)
        assert.strictEqual((yield* costs.stats({ period: "day" })).total, 3)
        assert.strictEqual((yield* costs.stats({ period: "day" })).start, Date.UTC(2026, 0, 15))
        yield* TestClock.adjust(17 * DAY)
        assert.strictEqual((yield* costs.stats({ period: "month" })).total, 0)
        assert.strictEqual((yield* costs.stats({ period: "month", at: JAN_15_NOON })).total, 3)
      })))

    it.effect("a cost that is not a finite non-negative number fails with InvalidCost naming the path; nothing is recorded", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        for (const cost of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
          const exit = yield* Effect.exit(costs.record({ cost }))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons[0]
            assert.isTrue(error !== undefined && error._tag === "Fail" && error.error.path === "cost")
          }
        }
        assert.strictEqual((yield* costs.stats({ period: "month" })).count, 0)
      })))

    it.effect("forecast: linear on the last N days — month-to-date plus the daily mean times the days left", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* TestClock.setTime(Date.UTC(2026, 0, 13, 10))
        yield* costs.record({ cost: 2 })
        yield* TestClock.setTime(Date.UTC(2026, 0, 14, 10))
        yield* costs.record({ cost: 4 })
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 10))
        yield* costs.record({ cost: 6 })
        const f = yield* costs.forecast({ days: 3 })
        assert.strictEqual(f.monthToDate, 12)
        assert.strictEqual(f.dailyMean, 4)
        assert.strictEqual(f.daysLeft, 16)
        assert.strictEqual(f.projected, 12 + 4 * 16)
        assert.match(f.method, /linear/)
      })))
  })
}

/**
 * The one conformance suite of `Costs`, run against every backend (memory, Redis, PostgreSQL). Times come from
 * Effect's Clock, so the UTC period rules and the forecast run under TestClock; the clock is set before the backend
 * is built. The same records give the same answers on every backend: each test compares with a reference computed
 * from the records themselves.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { CostDimension, CostRecord } from "../../src/costs/index.ts"
import { costDimensions, Costs } from "../../src/costs/index.ts"

/** The options every backend takes. */
export interface CostsBackendOptions {
  readonly maxRowsPerBucket?: number
}

/** A backend under test: a fresh layer per test. */
export interface CostsBackend {
  readonly label: string
  readonly layer: (options?: CostsBackendOptions) => Layer.Layer<Costs, unknown>
}

/** The records of the "same answers" test: three tenants, two users, models, cached and hedged legs. */
const DATASET: ReadonlyArray<CostRecord> = [
  {
    cost: 0.0125,
    tenant: "acme",
    principal: "ada",
    key: "k1",
    project: "p1",
    agent: "triage",
    model: "openai:gpt-4o",
    provider: "openai",
    cached: false
  },
  {
    cost: 0.003,
    tenant: "acme",
    principal: "ada",
    key: "k1",
    project: "p1",
    agent: "triage",
    model: "openai:gpt-4o-mini",
    provider: "openai",
    cached: false
  },
  { cost: 0, tenant: "acme", principal: "ada", model: "openai:gpt-4o", provider: "openai", cached: true },
  {
    cost: 0.02,
    tenant: "acme",
    principal: "bob",
    key: "k2",
    model: "anthropic:claude",
    provider: "anthropic",
    cached: false
  },
  {
    cost: 0.004,
    tenant: "acme",
    principal: "bob",
    key: "k2",
    model: "openai:gpt-4o",
    provider: "openai",
    cached: false,
    hedge: true
  },
  {
    cost: 1.5,
    tenant: "globex",
    principal: "cy",
    project: "p9",
    model: "anthropic:claude",
    provider: "anthropic",
    cached: false
  },
  { cost: 0.25 },
  {
    cost: 0.0125,
    tenant: "acme",
    principal: "ada",
    key: "k1",
    project: "p1",
    agent: "triage",
    model: "openai:gpt-4o",
    provider: "openai",
    cached: false
  },
  { cost: 0.5, tenant: "t\tx", principal: "\"quoted\" ü 🙂", model: "m:ß" },
  { cost: 0.001, tenant: "globex", principal: "cy", model: "openai:gpt-4o-mini", routed: true, saved: 0.009 }
]

const dimensions: ReadonlyArray<CostDimension> = costDimensions

const reference = (
  records: ReadonlyArray<CostRecord>,
  groupBy: CostDimension,
  where: Partial<Record<CostDimension, string>> = {}
) => {
  const groups: Record<string, number> = {}
  let total = 0
  let count = 0
  for (const r of records) {
    const value = (d: CostDimension) => (r[d] === undefined ? "-" : String(r[d]))
    if (!Object.entries(where).every(([d, v]) => value(d as CostDimension) === v)) continue
    total += r.cost
    count += 1
    groups[value(groupBy)] = (groups[value(groupBy)] ?? 0) + r.cost
  }
  return { total, count, groups }
}

const assertGroups = (actual: Readonly<Record<string, number>>, expected: Readonly<Record<string, number>>) => {
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())
  for (const [k, v] of Object.entries(expected)) assert.closeTo(actual[k] ?? Number.NaN, v, 1e-9)
}

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 30, 0)
const HOUR = 3_600_000
const DAY = 86_400_000

export const costsConformance = (backend: CostsBackend): void => {
  describe(`Costs (${backend.label})`, () => {
    const run = <A, E>(body: Effect.Effect<A, E, Costs>, options?: CostsBackendOptions) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15_NOON)
        return yield* body.pipe(Effect.provide(backend.layer(options)))
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
            assert.isTrue(
              error !== undefined && error._tag === "Fail" && error.error._tag === "InvalidCost" &&
                error.error.path === "cost"
            )
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

    it.effect("the same records give the same answers: stats by every dimension and where, usage of a user, forecast", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        for (const r of DATASET) yield* costs.record(r)
        for (const groupBy of dimensions) {
          const s = yield* costs.stats({ period: "month", groupBy })
          const expected = reference(DATASET, groupBy)
          assert.closeTo(s.total, expected.total, 1e-9)
          assert.strictEqual(s.count, expected.count)
          assertGroups(s.groups, expected.groups)
        }
        // usage of a user: one principal's spend in the period, by model (the gateway's /costs/usage/{user})
        const usage = yield* costs.stats({ period: "day", groupBy: "model", where: { principal: "ada" } })
        const expectedUsage = reference(DATASET, "model", { principal: "ada" })
        assert.strictEqual(usage.count, 4)
        assert.closeTo(usage.total, expectedUsage.total, 1e-12)
        assertGroups(usage.groups, expectedUsage.groups)
        const where = yield* costs.stats({
          period: "hour",
          groupBy: "provider",
          where: { tenant: "acme", cached: "false", hedge: "-" }
        })
        const expectedWhere = reference(DATASET, "provider", { tenant: "acme", cached: "false", hedge: "-" })
        assert.strictEqual(where.count, expectedWhere.count)
        assertGroups(where.groups, expectedWhere.groups)
        const odd = yield* costs.stats({ period: "day", groupBy: "principal", where: { tenant: "t\tx" } })
        assert.deepStrictEqual(odd.groups, { "\"quoted\" ü 🙂": 0.5 })
        const f = yield* costs.forecast()
        const total = reference(DATASET, "tenant").total
        assert.closeTo(f.monthToDate, total, 1e-9)
        // 7 days asked, the 15th: the mean of the last 7 days (only today has spend); 16 days left in January
        assert.closeTo(f.dailyMean, total / 7, 1e-9)
        assert.strictEqual(f.daysLeft, 16)
        assert.closeTo(f.projected, total + (total / 7) * 16, 1e-9)
        assert.strictEqual(f.method, "linear: month-to-date + mean of the last 7 day(s) × 16 day(s) left")
      })))

    it.effect("cached: false and an absent cached are distinct values; so for hedge", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* costs.record({ cost: 1, cached: false })
        yield* costs.record({ cost: 2 })
        yield* costs.record({ cost: 4, cached: true, hedge: true })
        assert.deepStrictEqual((yield* costs.stats({ period: "day", groupBy: "cached" })).groups, {
          false: 1,
          "-": 2,
          true: 4
        })
        assert.deepStrictEqual((yield* costs.stats({ period: "day", groupBy: "hedge" })).groups, { "-": 3, true: 4 })
      })))

    it.effect("savings are split by cause: cache hits saved through the response cache, routed calls through the router policy", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* costs.record({ cost: 0, cached: true, saved: 0.02, tenant: "acme" })
        yield* costs.record({ cost: 0, cached: true, saved: 0.03, tenant: "globex" })
        yield* costs.record({ cost: 0.001, routed: true, saved: 0.009, tenant: "acme" })
        // a routed call answered from the cache counts as a cache saving
        yield* costs.record({ cost: 0, cached: true, routed: true, saved: 0.004, tenant: "acme" })
        yield* costs.record({ cost: 0.5, tenant: "acme" })
        const all = yield* costs.savings({ period: "day" })
        assert.closeTo(all.cache, 0.054, 1e-12)
        assert.closeTo(all.router, 0.009, 1e-12)
        assert.closeTo(all.total, 0.063, 1e-12)
        assert.strictEqual(all.cacheHits, 3)
        assert.strictEqual(all.routedCalls, 1)
        const acme = yield* costs.savings({ period: "month", where: { tenant: "acme" } })
        assert.closeTo(acme.cache, 0.024, 1e-12)
        assert.closeTo(acme.router, 0.009, 1e-12)
        const stats = yield* costs.stats({ period: "hour", groupBy: "routed" })
        assert.closeTo(stats.saved, 0.063, 1e-12)
        assert.closeTo(stats.total, 0.501, 1e-12)
        assertGroups(stats.groups, { "-": 0.5, true: 0.001 })
        assert.strictEqual((yield* costs.savings({ period: "day", at: JAN_15_NOON - 2 * DAY })).total, 0)
      })))

    it.effect("a dimension of the wrong type (or with a NUL character) fails with InvalidCost naming the dimension; nothing is recorded", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        const bad: ReadonlyArray<readonly [unknown, string]> = [
          [{ cost: 1, tenant: 7 }, "tenant"],
          [{ cost: 1, model: "x".repeat(1025) }, "model"],
          [{ cost: 1, cached: "yes" }, "cached"],
          [{ cost: 1, agent: "a\u0000b" }, "agent"],
          [{ cost: "1" }, "cost"],
          [{ cost: 1, saved: -1 }, "saved"],
          [{ cost: 1, saved: Number.POSITIVE_INFINITY }, "saved"],
          [{ cost: 1, routed: 1 }, "routed"],
          [null, ""]
        ]
        for (const [entry, path] of bad) {
          // ill-typed on purpose: untrusted callers
          const exit = yield* Effect.exit(costs.record(entry as CostRecord))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons[0]
            assert.isTrue(
              error !== undefined && error._tag === "Fail" && error.error._tag === "InvalidCost" &&
                error.error.path === path,
              path
            )
          }
        }
        assert.strictEqual((yield* costs.stats({ period: "month" })).count, 0)
      })))

    it.effect("forecast: at the start of the month the mean is over the days so far; a non-finite days means 7", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        yield* TestClock.setTime(Date.UTC(2026, 0, 31, 23))
        yield* costs.record({ cost: 100 })
        yield* TestClock.setTime(Date.UTC(2026, 1, 2, 9))
        yield* costs.record({ cost: 3 })
        const f = yield* costs.forecast({ days: 10 })
        // February 2nd: two days so far (1st: 0, 2nd: 3); 26 days left; January's spend is not this month's
        assert.strictEqual(f.monthToDate, 3)
        assert.strictEqual(f.dailyMean, 1.5)
        assert.strictEqual(f.daysLeft, 26)
        assert.strictEqual(f.projected, 3 + 1.5 * 26)
        const g = yield* costs.forecast({ days: Number.NaN })
        assert.strictEqual(g.dailyMean, 1.5)
        assert.strictEqual((yield* costs.stats({ period: "month", at: Date.UTC(2026, 0, 1) })).total, 100)
      })))

    it.effect("dimension values named like Object.prototype members are grouped like any other value", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "acme"]
        for (const tenant of names) yield* costs.record({ cost: 1, tenant, model: tenant })
        for (const groupBy of ["tenant", "model"] as const) {
          const s = yield* costs.stats({ period: "day", groupBy })
          assert.strictEqual(s.total, 5)
          assert.deepStrictEqual(Object.keys(s.groups).sort(), [...names].sort())
          for (const name of names) {
            assert.strictEqual(Object.getOwnPropertyDescriptor(s.groups, name)?.value, 1, name)
          }
          // serialised as plain JSON with every group
          const parsed: unknown = JSON.parse(JSON.stringify(s.groups))
          assert.deepStrictEqual(
            Object.entries(parsed as Record<string, number>).sort(),
            names.map((n) => [n, 1]).sort()
          )
        }
        assert.strictEqual((yield* costs.stats({ period: "day", where: { tenant: "constructor" } })).total, 1)
      })))

    it.effect("a string dimension of - (the value of an absent dimension) fails with InvalidCost naming the dimension; nothing is recorded", () =>
      run(Effect.gen(function*() {
        const costs = yield* Costs
        for (const d of ["tenant", "principal", "key", "project", "agent", "model", "provider"] as const) {
          const exit = yield* Effect.exit(costs.record({ cost: 1, [d]: "-" }))
          assert.isTrue(Exit.isFailure(exit), d)
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons[0]
            assert.isTrue(
              error !== undefined && error._tag === "Fail" && error.error._tag === "InvalidCost" &&
                error.error.path === d,
              d
            )
          }
        }
        yield* costs.record({ cost: 2 })
        yield* costs.record({ cost: 4, tenant: "--" })
        const s = yield* costs.stats({ period: "day", groupBy: "tenant" })
        assert.strictEqual(s.count, 2)
        assert.deepStrictEqual(s.groups, { "-": 2, "--": 4 })
        assert.strictEqual((yield* costs.stats({ period: "day", where: { tenant: "-" } })).total, 2)
      })))

    it.effect("a bucket holds at most maxRowsPerBucket combinations; the rest fold into one row with every dimension absent, totals stay exact", () =>
      run(
        Effect.gen(function*() {
          const costs = yield* Costs
          yield* costs.record({ cost: 1, tenant: "t0" })
          yield* costs.record({ cost: 1, tenant: "t1", cached: true })
          for (let i = 2; i < 10; i++) yield* costs.record({ cost: 1, tenant: `t${i}` })
          // an existing combination still adds to its own row past the bound
          yield* costs.record({ cost: 0.5, tenant: "t0" })
          for (const period of ["hour", "day", "month"] as const) {
            const s = yield* costs.stats({ period, groupBy: "tenant" })
            assert.strictEqual(s.total, 10.5)
            assert.strictEqual(s.count, 11)
            assert.deepStrictEqual(s.groups, { t0: 1.5, t1: 1, "-": 8 })
          }
          const cached = yield* costs.stats({ period: "day", groupBy: "cached" })
          assert.deepStrictEqual(cached.groups, { "-": 9.5, true: 1 })
          // concurrent new combinations: the bound holds
          yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => costs.record({ cost: 1, tenant: `c${i}`, key: "fresh" }),
            { concurrency: 8, discard: true }
          )
          const after = yield* costs.stats({ period: "day", groupBy: "tenant" })
          assert.strictEqual(after.total, 50.5)
          assert.deepStrictEqual(after.groups, { t0: 1.5, t1: 1, "-": 48 })
        }),
        { maxRowsPerBucket: 2 }
      ))
  })
}

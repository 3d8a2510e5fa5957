/**
 * `Costs`: the conformance suite on the memory backend, its bound, fast-check fuzz of every entry point, and the
 * pipeline recording every call's cost into the ledger when the `Costs` layer is present.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { costDimensions, Costs } from "../../src/costs/index.ts"
import type { CostRecord } from "../../src/costs/index.ts"
import { ScriptedProvider } from "../../src/llm/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { pipelineLayer } from "../pipeline/support.ts"
import { costsConformance } from "./CostsConformance.ts"

costsConformance({ label: "memory", layer: (options) => Costs.layerMemory(options) })

describe("Costs (memory)", () => {
  it.effect("every in-memory table has a default bound: the oldest period bucket is dropped first", () =>
    Effect.gen(function*() {
      const costs = yield* Costs
      yield* costs.record({ cost: 1 })
      yield* TestClock.adjust("1 hour")
      // 3 buckets per record (hour, day, month) with maxBuckets 3: the new hour bucket evicts the first hour's
      yield* costs.record({ cost: 2 })
      assert.strictEqual((yield* costs.stats({ period: "hour", at: 0 })).total, 0)
      assert.strictEqual((yield* costs.stats({ period: "hour" })).total, 2)
      assert.strictEqual((yield* costs.stats({ period: "day" })).total, 3)
    }).pipe(Effect.provide(Costs.layerMemory({ maxBuckets: 3, maxRowsPerBucket: 2 }))))

  it.effect("the oldest period bucket is dropped first, never the current bucket of a period: month and day totals stay exact", () =>
    Effect.gen(function*() {
      const march = Date.UTC(2026, 2, 1)
      const costs = yield* Costs
      // one record an hour for 3 days: 72 hour buckets, 3 day buckets and 1 month bucket through a bound of 48
      for (let h = 0; h < 72; h++) {
        yield* TestClock.setTime(march + h * 3_600_000 + 60_000)
        yield* costs.record({ cost: 1 })
      }
      assert.strictEqual((yield* costs.stats({ period: "month" })).total, 72)
      assert.strictEqual((yield* costs.forecast()).monthToDate, 72)
      assert.strictEqual((yield* costs.stats({ period: "day" })).total, 24)
      assert.strictEqual((yield* costs.stats({ period: "hour" })).total, 1)
      // the first hours went first
      assert.strictEqual((yield* costs.stats({ period: "hour", at: march })).total, 0)
      assert.strictEqual((yield* costs.stats({ period: "hour", at: march + 70 * 3_600_000 })).total, 1)
    }).pipe(Effect.provide(Costs.layerMemory({ maxBuckets: 48 }))))

  it.effect("rows past maxRowsPerBucket fold into one row; totals stay exact", () =>
    Effect.gen(function*() {
      const costs = yield* Costs
      for (let i = 0; i < 10; i++) yield* costs.record({ cost: 1, tenant: `t${i}` })
      const s = yield* costs.stats({ period: "day", groupBy: "tenant" })
      assert.strictEqual(s.total, 10)
      assert.isAtMost(Object.keys(s.groups).length, 3)
    }).pipe(Effect.provide(Costs.layerMemory({ maxRowsPerBucket: 2 }))))

  it.effect("fuzz: record, stats and forecast never defect; invalid costs fail typed, valid ones sum exactly", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              cost: fc.oneof(
                fc.double({ min: 0, max: 1e6, noNaN: true }),
                fc.constantFrom(-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY)
              ),
              tenant: fc.option(fc.string(), { nil: undefined }),
              model: fc.option(fc.string(), { nil: undefined }),
              cached: fc.option(fc.boolean(), { nil: undefined })
            }),
            { maxLength: 20 }
          ),
          fc.constantFrom(...costDimensions),
          fc.integer({ min: -5, max: 400 }),
          async (entries, groupBy, days) => {
            const program = Effect.gen(function*() {
              const costs = yield* Costs
              let expected = 0
              for (const e of entries) {
                const { tenant, model, cached, cost } = e
                const entry = {
                  cost,
                  ...(tenant !== undefined ? { tenant } : {}),
                  ...(model !== undefined ? { model } : {}),
                  ...(cached !== undefined ? { cached } : {})
                }
                const exit = yield* Effect.exit(costs.record(entry))
                const valid = Number.isFinite(cost) && cost >= 0 && tenant !== "-" && model !== "-"
                assert.strictEqual(Exit.isSuccess(exit), valid)
                if (valid) expected += cost
              }
              const s = yield* costs.stats({ period: "month", groupBy })
              assert.isTrue(Math.abs(s.total - expected) <= 1e-6 * Math.max(1, expected))
              const f = yield* costs.forecast({ days })
              assert.isTrue(Number.isFinite(f.projected) && f.projected >= 0)
            }).pipe(Effect.provide(Costs.layerMemory()))
            await Effect.runPromise(program)
          }
        ),
        { numRuns: 100 }
      )
    ))
})

describe("Costs record input decoding (fuzz)", () => {
  const dimension = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ minLength: 1025, maxLength: 1100 }),
    fc.constant("a\u0000b"),
    fc.constant("-"),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.object({ maxDepth: 1 })
  )
  const wellFormed = (r: Readonly<Record<string, unknown>>): boolean => {
    const cost = r["cost"]
    if (typeof cost !== "number" || !Number.isFinite(cost) || cost < 0) return false
    for (const d of ["tenant", "principal", "key", "project", "agent", "model", "provider"]) {
      const v = r[d]
      if (v !== undefined && (typeof v !== "string" || v.length > 1024 || v.includes("\u0000") || v === "-")) {
        return false
      }
    }
    for (const d of ["cached", "hedge"]) if (r[d] !== undefined && typeof r[d] !== "boolean") return false
    return true
  }

  it.effect("fuzz: any value as a record is recorded when well-formed, else fails InvalidCost naming a field; never defects", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.record({
                cost: fc.oneof(
                  fc.double({ min: 0, max: 1e6, noNaN: true }),
                  fc.double(),
                  fc.string(),
                  fc.constant(undefined)
                ),
                tenant: dimension,
                principal: dimension,
                model: dimension,
                agent: dimension,
                cached: dimension,
                hedge: dimension
              }, { requiredKeys: ["cost"] }),
              fc.anything()
            ),
            { maxLength: 15 }
          ),
          async (inputs) => {
            const program = Effect.gen(function*() {
              const costs = yield* Costs
              let expected = 0
              let accepted = 0
              for (const input of inputs) {
                // ill-typed on purpose: the record of an untrusted caller
                const exit = yield* Effect.exit(costs.record(input as CostRecord))
                const valid = typeof input === "object" && input !== null &&
                  wellFormed(input as Record<string, unknown>)
                assert.strictEqual(Exit.isSuccess(exit), valid)
                if (Exit.isFailure(exit)) {
                  const reason = exit.cause.reasons[0]
                  assert.isTrue(reason !== undefined && reason._tag === "Fail" && reason.error._tag === "InvalidCost")
                  if (reason !== undefined && reason._tag === "Fail") {
                    assert.match(reason.error.message, /^invalid cost record: /)
                  }
                }
                if (valid) {
                  expected += (input as CostRecord).cost
                  accepted += 1
                }
              }
              const s = yield* costs.stats({ period: "day", groupBy: "tenant" })
              assert.strictEqual(s.count, accepted)
              assert.isTrue(Math.abs(s.total - expected) <= 1e-6 * Math.max(1, expected))
            }).pipe(Effect.provide(Costs.layerMemory()))
            await Effect.runPromise(program)
          }
        ),
        { numRuns: 200 }
      )
    ))
})

describe("pipeline records its cost into Costs", () => {
  it.effect("every answered call records its cost tagged with tenant, principal, key, project, model and provider", () =>
    Effect.gen(function*() {
      yield* (yield* Llm).generate({
        model: "fast",
        messages: [{ role: "user", content: "hello" }],
        options: { tenant: "acme", user: "ada", budgets: ["key:k1", "project:p1"] }
      })
      const costs = yield* Costs
      const s = yield* costs.stats({
        period: "day",
        groupBy: "provider",
        where: { tenant: "acme", principal: "ada", key: "k1", project: "p1" }
      })
      assert.strictEqual(s.count, 1)
      assert.deepStrictEqual(Object.keys(s.groups), ["primary"])
      assert.isAbove(s.total, 0)
    }).pipe(Effect.provide(
      pipelineLayer([ScriptedProvider.makeUnsafe({ name: "primary" })], {
        usage: { prices: { "primary:*": { input: 1, output: 1 } } }
      }).pipe(
        Layer.provideMerge(Costs.layerMemory())
      )
    )))
})

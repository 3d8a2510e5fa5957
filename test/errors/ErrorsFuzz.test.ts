import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { classify, ErrorAnalytics, ErrorHandlers, tagOf, taxonomy } from "../../src/errors/index.ts"
import { hubLayer } from "../telemetry/support/hubLayer.ts"

const tags = Object.keys(taxonomy)
const anyError = fc.oneof(
  fc.constantFrom(...tags).map((t) => ({ _tag: t, message: `failed ${t}` })),
  fc.anything(),
  fc.string().map((s) => ({ _tag: s })),
  fc.constantFrom("__proto__", "toString", "constructor", "hasOwnProperty").map((s) => ({ _tag: s })),
  fc.string().map((s) => new Error(s))
)
const maybe = fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "toString")), {
  nil: undefined
})
const ctx = fc.record({ provider: maybe, model: maybe, route: maybe, tenant: maybe, agent: maybe })
const step = fc.record({ error: anyError, context: ctx, advance: fc.nat(3_000) })

describe("errors fuzz", () => {
  it("classify and tagOf never throw and always answer a class", () => {
    fc.assert(fc.property(fc.anything(), (value) => {
      const c = classify(value)
      assert.include(["transient", "permanent"], c.transience)
      assert.isString(tagOf(value))
    }))
  })

  it.effect("record, aggregates, trends, impact and handle never fail; totals match; tables stay bounded", () =>
    Effect.gen(function*() {
      const samples = fc.sample(fc.array(step, { maxLength: 60 }), 40)
      for (const steps of samples) {
        const exit = yield* Effect.exit(
          Effect.gen(function*() {
            const a = yield* ErrorAnalytics
            const h = yield* ErrorHandlers
            yield* h.register("fail", { recovery: "alert" }, () => Effect.die("handler defect"))
            const times: Array<number> = []
            let now = 0
            for (const s of steps) {
              yield* TestClock.adjust(s.advance)
              now = yield* Clock.currentTimeMillis
              times.push(now)
              yield* h.handle(s.error, s.context)
            }
            now = yield* Clock.currentTimeMillis
            const agg = yield* a.aggregates
            const windowStart = (Math.floor(now / 1_000) - 4) * 1_000
            assert.strictEqual(agg.total, times.filter((t) => t >= windowStart).length)
            for (const counts of [agg.byClass, agg.byRoute, agg.byProvider, agg.byModel]) {
              assert.isAtMost(Object.keys(counts).length, 9)
            }
            const trends = yield* a.trends
            for (const series of Object.values(trends)) assert.strictEqual(series.length, 10)
            yield* a.impact
            yield* a.anomalies
          }).pipe(
            Effect.provide(
              ErrorHandlers.layer().pipe(Layer.provideMerge(
                ErrorAnalytics.layerMemory({ bucketMillis: 1_000, historyBuckets: 10, windowBuckets: 5, maxKeys: 8 })
                  .pipe(
                    Layer.provideMerge(hubLayer())
                  )
              ))
            )
          )
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
      }
    }))
})

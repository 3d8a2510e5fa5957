/**
 * The one conformance suite of `Budgets`, run against every backend (memory, Redis, PostgreSQL). Times come from
 * Effect's Clock, so expiry and period rules run under TestClock on every backend alike.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { BudgetExceeded, BudgetStatus } from "../../src/budget/index.ts"
import { Budgets } from "../../src/budget/index.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"

/** A backend under test: a fresh layer per test (own prefix or schema). */
export interface BudgetBackend {
  readonly label: string
  readonly layer: () => Layer.Layer<Budgets, unknown>
}

const JAN_15 = Date.UTC(2026, 0, 15, 12, 0, 0)

const status = (scope: string): Effect.Effect<BudgetStatus, unknown, Budgets> =>
  Effect.gen(function*() {
    const budgets = yield* Budgets
    return Option.getOrThrow(yield* budgets.get(scope))
  })

export const budgetConformance = (backend: BudgetBackend): void => {
  describe(`Budgets (${backend.label})`, () => {
    // the clock is set before the backend is built: a jump over a running connection pool replays its timers
    const run = <A, E>(body: Effect.Effect<A, E, Budgets | TelemetryHub>) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(JAN_15)
        return yield* body.pipe(Effect.provide(backend.layer().pipe(Layer.provideMerge(TelemetryHub.layer()))))
      })

    it.effect("reserve before, settle after: settle charges the actual cost and gives the rest back", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.3 })
        assert.deepStrictEqual(r.scopes, ["tenant:acme"])
        let s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0.3)
        assert.strictEqual(s.spent, 0)
        yield* budgets.settle(r, 0.1)
        s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 0.1)
        assert.closeTo(s.remaining, 0.9, 1e-9)
      })))

    it.effect("all or none: a reservation one scope cannot hold holds nothing on any scope", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "key:k1", limit: 10, period: "day" })
        yield* budgets.set({ scope: "tenant:acme", limit: 0.5, period: "month" })
        const e = yield* Effect.flip(budgets.reserve({ scopes: ["key:k1", "tenant:acme"], amount: 0.6 }))
        assert.strictEqual(e._tag, "BudgetExceeded")
        const exceeded = e as BudgetExceeded
        assert.strictEqual(exceeded.scope, "tenant:acme")
        assert.strictEqual(exceeded.limit, 0.5)
        assert.strictEqual(exceeded.requested, 0.6)
        assert.strictEqual((yield* status("key:k1")).reserved, 0)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
      })))

    it.effect("scopes without a budget are not charged", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "total" })
        const r = yield* budgets.reserve({ scopes: ["principal:alice", "tenant:acme"], amount: 0.2 })
        assert.deepStrictEqual(r.scopes, ["tenant:acme"])
        assert.isTrue(Option.isNone(yield* budgets.get("principal:alice")))
      })))

    it.effect("settle and release take effect once per reservation", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.4 })
        yield* budgets.settle(r, 0.25)
        yield* budgets.settle(r, 0.25)
        yield* budgets.release(r)
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.spent, 0.25)
        assert.strictEqual(s.reserved, 0)
      })))

    it.effect("list: the budgets in their current periods, by scope, at most limit; a removed one is gone", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:b", limit: 2, period: "month" })
        yield* budgets.set({ scope: "key:k1", limit: 1, period: "day" })
        yield* budgets.set({ scope: "tenant:a", limit: 3, period: "total" })
        const r = yield* budgets.reserve({ scopes: ["tenant:b"], amount: 0.5 })
        yield* budgets.settle(r, 0.25)
        const all = yield* budgets.list()
        assert.deepStrictEqual(all.map((s) => s.scope), ["key:k1", "tenant:a", "tenant:b"])
        assert.strictEqual(all[2]?.spent, 0.25)
        assert.strictEqual(all[2]?.limit, 2)
        assert.deepStrictEqual((yield* budgets.list({ limit: 2 })).map((s) => s.scope), ["key:k1", "tenant:a"])
        yield* budgets.remove("tenant:a")
        assert.deepStrictEqual((yield* budgets.list()).map((s) => s.scope), ["key:k1", "tenant:b"])
        const bad = yield* Effect.flip(budgets.list({ limit: 0 }))
        assert.strictEqual(bad._tag, "InvalidOptions")
      })))

    it.effect("release gives everything back; withBudget releases on failure and on interruption", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.7 })
        yield* budgets.release(r)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
        const failed = yield* Effect.exit(
          budgets.withBudget(Effect.fail("boom"), { scopes: ["tenant:acme"], amount: 0.5, actual: () => 0.5 })
        )
        assert.isTrue(Exit.isFailure(failed))
        const fiber = yield* Effect.forkChild(
          budgets.withBudget(Effect.never, { scopes: ["tenant:acme"], amount: 0.5, actual: () => 0.5 }),
          { startImmediately: true }
        )
        yield* Effect.repeat(Effect.yieldNow, { times: 50 })
        yield* Fiber.interrupt(fiber)
        const ok = yield* budgets.withBudget(Effect.succeed("answer"), {
          scopes: ["tenant:acme"],
          amount: 0.5,
          actual: () => 0.125
        })
        assert.strictEqual(ok, "answer")
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 0.125)
      })))

    it.effect("withBudget: an actual that throws charges the whole reservation; nothing stays held", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const ok = yield* budgets.withBudget(Effect.succeed("answer"), {
          scopes: ["tenant:acme"],
          amount: 0.25,
          actual: () => {
            throw new Error("cost function bug")
          }
        })
        assert.strictEqual(ok, "answer")
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 0.25)
      })))

    it.effect("an actual cost above its reservation is still charged in full and the next reservations are refused", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.4 })
        yield* budgets.settle(r, 1.25) // the estimate was not a maximum: the whole actual cost is charged
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.spent, 1.25)
        assert.strictEqual(s.reserved, 0)
        const refused = yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.000001 }))
        assert.strictEqual(refused._tag, "BudgetExceeded")
        assert.strictEqual((refused as BudgetExceeded).spent, 1.25)
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
      })))

    it.effect("amounts are kept as whole micro-dollars, so every backend adds them exactly", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "total" })
        // ten settles of 0.1 USD: in floating point 0.1 added ten times is 0.9999999999999999
        for (let i = 0; i < 10; i++) {
          yield* budgets.settle(yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.1 }), 0.1)
        }
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.spent, 1)
        assert.strictEqual(s.remaining, 0)
        // a fraction of a micro-dollar is rounded up to the next whole one
        yield* budgets.set({ scope: "tenant:tiny", limit: 1, period: "total" })
        yield* budgets.settle(yield* budgets.reserve({ scopes: ["tenant:tiny"], amount: 0.01 }), 0.0000001)
        assert.strictEqual((yield* status("tenant:tiny")).spent, 0.000001)
      })))

    it.effect("a reservation that is never settled expires after its ttl and its hold is released", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
        yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.9, ttl: "1 minute" })
        assert.strictEqual(
          (yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.2 })))._tag,
          "BudgetExceeded"
        )
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0.9)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* status("tenant:acme")).reserved, 0)
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.2 })
        assert.strictEqual(r.amount, 0.2)
      })))

    it.effect("amounts up to 1e9 USD: a $200M hold expires after its ttl and the scope keeps working", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:huge", limit: 1e9, period: "total" })
        yield* budgets.reserve({ scopes: ["tenant:huge"], amount: 2e8, ttl: "1 minute" })
        assert.strictEqual((yield* status("tenant:huge")).reserved, 2e8)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* status("tenant:huge")).reserved, 0)
        // the largest amount: held, settled and charged exactly
        const r = yield* budgets.reserve({ scopes: ["tenant:huge"], amount: 1e9 })
        assert.strictEqual((yield* status("tenant:huge")).reserved, 1e9)
        yield* budgets.settle(r, 1e9)
        const s = yield* status("tenant:huge")
        assert.strictEqual(s.reserved, 0)
        assert.strictEqual(s.spent, 1e9)
      })))

    it.effect("an amount above $4.2M is held, settled and released to the micro-dollar", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        // amounts whose micro-dollars did not survive `toMicros(fromMicros(m))`: $500,000,000.000028 was held as
        // 500000000000029 micro-dollars and settled as 500000000000030 (so Redis missed the hold's member and kept it
        // to its ttl), $8,388,773.758903 likewise, and $4,194,304.000005 (2^22 USD) was held one micro-dollar up
        for (const [i, amount] of [500_000_000.000028, 8_388_773.758903, 4_194_304.000005].entries()) {
          yield* budgets.set({ scope: `tenant:settle${i}`, limit: 1e9, period: "total" })
          yield* budgets.set({ scope: `tenant:release${i}`, limit: 1e9, period: "total" })
          const r = yield* budgets.reserve({ scopes: [`tenant:settle${i}`], amount })
          yield* budgets.settle(r, amount)
          const settled = yield* status(`tenant:settle${i}`)
          assert.strictEqual(settled.reserved, 0) // at once, not after the ttl
          assert.strictEqual(settled.spent, amount)
          const held = yield* budgets.reserve({ scopes: [`tenant:release${i}`], amount })
          assert.strictEqual(held.amount, amount)
          assert.strictEqual((yield* status(`tenant:release${i}`)).reserved, amount)
          // the store ends what it holds under the id, even for a caller that rounded the amount it hands back
          yield* budgets.release({ ...held, amount: Math.round(held.amount) })
          const released = yield* status(`tenant:release${i}`)
          assert.strictEqual(released.reserved, 0)
          assert.strictEqual(released.spent, 0)
        }
      })))

    it.effect("a settle after the hold expired, until a day past the expiry, charges its actual cost once", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:late", limit: 1, period: "total" })
        const r = yield* budgets.reserve({ scopes: ["tenant:late"], amount: 0.4, ttl: "1 minute" })
        const edge = yield* budgets.reserve({ scopes: ["tenant:late"], amount: 0.1, ttl: "1 minute" })
        const live = yield* budgets.reserve({ scopes: ["tenant:late"], amount: 0.3, ttl: "3 days" })
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* status("tenant:late")).reserved, 0.3) // the two one-minute holds lapsed
        yield* budgets.settle(r, 0.25)
        let s = yield* status("tenant:late")
        assert.strictEqual(s.spent, 0.25) // charged: the money was spent
        assert.strictEqual(s.reserved, 0.3) // the lapsed hold is not given back twice; the live one stays
        // the last millisecond before the reservation is forgotten
        yield* TestClock.adjust(60_000 + 86_400_000 - 3_600_000 - 1) // expiresAt + 1 day - 1 ms
        yield* budgets.settle(edge, 0.125)
        s = yield* status("tenant:late")
        assert.strictEqual(s.spent, 0.375)
        assert.strictEqual(s.reserved, 0.3)
        yield* budgets.settle(live, 0.25)
        s = yield* status("tenant:late")
        assert.strictEqual(s.spent, 0.625)
        assert.strictEqual(s.reserved, 0)
      })))

    it.effect("a day past its expiry a reservation is forgotten: a settle or release does nothing", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:gone", limit: 1, period: "total" })
        const r = yield* budgets.reserve({ scopes: ["tenant:gone"], amount: 0.4, ttl: "1 minute" })
        const other = yield* budgets.reserve({ scopes: ["tenant:gone"], amount: 0.2, ttl: "1 minute" })
        yield* TestClock.adjust("1 minute")
        yield* TestClock.adjust("1 day") // exactly a day past the expiry, with no operation on the store since
        yield* budgets.settle(r, 0.4)
        yield* budgets.release(other)
        let s = yield* status("tenant:gone")
        assert.strictEqual(s.spent, 0)
        assert.strictEqual(s.reserved, 0)
        // and after later reservations have swept what they can
        yield* budgets.settle(yield* budgets.reserve({ scopes: ["tenant:gone"], amount: 0.1 }), 0.1)
        yield* budgets.settle(other, 0.2)
        s = yield* status("tenant:gone")
        assert.strictEqual(s.spent, 0.1)
        assert.strictEqual(s.reserved, 0)
      })))

    it.effect("after the hold expired, too, only the first settle or release of a reservation takes effect", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:once", limit: 1, period: "total" })
        const released = yield* budgets.reserve({ scopes: ["tenant:once"], amount: 0.4, ttl: "1 minute" })
        const settled = yield* budgets.reserve({ scopes: ["tenant:once"], amount: 0.3, ttl: "1 minute" })
        yield* TestClock.adjust("2 minutes")
        yield* budgets.release(released)
        yield* budgets.settle(released, 0.4) // released first: nothing to charge
        yield* budgets.settle(settled, 0.25)
        yield* budgets.settle(settled, 0.25)
        yield* budgets.release(settled)
        let s = yield* status("tenant:once")
        assert.strictEqual(s.spent, 0.25)
        assert.strictEqual(s.reserved, 0)
        // a live reservation settled twice, then past its expiry and its day, is charged once
        const live = yield* budgets.reserve({ scopes: ["tenant:once"], amount: 0.5, ttl: "1 minute" })
        yield* budgets.settle(live, 0.5)
        yield* TestClock.adjust("2 minutes")
        yield* budgets.settle(live, 0.5)
        yield* TestClock.adjust("2 days")
        yield* budgets.settle(live, 0.5)
        s = yield* status("tenant:once")
        assert.strictEqual(s.spent, 0.75)
        assert.strictEqual(s.reserved, 0)
      })))

    it.effect("a change keeps the period's spend: the period rolls forward by the new spec, not the old one", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "day" })
        yield* budgets.settle(yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 2 }), 2) // Jan 15
        yield* TestClock.adjust("1 day") // Jan 16, nothing done on the scope since
        // a month that started Jan 1 contains the stored period (Jan 15): nothing rolls, the spend is kept
        yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month" })
        const s = yield* status("tenant:acme")
        assert.strictEqual(s.spent, 2)
        assert.strictEqual(s.periodStart, Date.UTC(2026, 0, 15))
        assert.strictEqual(s.period, "month")
      })))

    it.effect("periods roll forward only: a new UTC day or month resets the spend, total never resets", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "key:daily", limit: 1, period: "day" })
        yield* budgets.set({ scope: "key:monthly", limit: 1, period: "month" })
        yield* budgets.set({ scope: "key:forever", limit: 1, period: "total" })
        for (const scope of ["key:daily", "key:monthly", "key:forever"]) {
          yield* budgets.settle(yield* budgets.reserve({ scopes: [scope], amount: 0.5 }), 0.5)
        }
        yield* TestClock.adjust("12 hours") // 2026-01-16 00:00 UTC
        assert.strictEqual((yield* status("key:daily")).spent, 0)
        assert.strictEqual((yield* status("key:daily")).periodStart, Date.UTC(2026, 0, 16))
        assert.strictEqual((yield* status("key:monthly")).spent, 0.5)
        yield* TestClock.adjust("17 days") // February
        assert.strictEqual((yield* status("key:monthly")).spent, 0)
        assert.strictEqual((yield* status("key:monthly")).periodStart, Date.UTC(2026, 1, 1))
        assert.strictEqual((yield* status("key:forever")).spent, 0.5)
      })))

    it.effect("alerts fire at each threshold once per period, as telemetry events; a refusal fires the rest", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        const hub = yield* TelemetryHub
        const seen: Array<TelemetryEvent> = []
        yield* hub.attach("budget-alerts", [["troupe", "budget"]], (e) => void seen.push(e))
        yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month", alertAt: [0.5, 0.8, 1] })
        const spend = (usd: number) =>
          Effect.flatMap(budgets.reserve({ scopes: ["tenant:acme"], amount: usd }), (r) => budgets.settle(r, usd))
        assert.deepStrictEqual((yield* spend(0.3)).length, 0)
        const half = yield* spend(0.3)
        assert.deepStrictEqual(half.map((a) => [a.threshold, a.reason]), [[0.5, "spend"]])
        assert.deepStrictEqual((yield* spend(0.05)).length, 0) // 0.65: 0.5 already fired
        const eighty = yield* spend(0.2)
        assert.deepStrictEqual(eighty.map((a) => a.threshold), [0.8])
        yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5 }))
        yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5 }))
        assert.deepStrictEqual(seen.map((e) => [e.measurements["threshold"], e.metadata["reason"]]), [
          [0.5, "spend"],
          [0.8, "spend"],
          [1, "exhausted"]
        ])
        assert.strictEqual(seen[0]?.metadata["scope"], "tenant:acme")
      })))

    it.effect("invalid input fails with InvalidOptions naming the path", () =>
      run(Effect.gen(function*() {
        const budgets = yield* Budgets
        const bad = yield* Effect.flip(budgets.set({ scope: "tenant:acme", limit: -1, period: "month" }))
        assert.strictEqual(bad._tag, "InvalidOptions")
        assert.strictEqual(bad._tag === "InvalidOptions" ? bad.path : "", "limit")
        const scope = yield* Effect.flip(budgets.reserve({ scopes: ["acme"], amount: 1 }))
        assert.strictEqual(scope._tag === "InvalidOptions" ? scope.path : "", "scopes[0]")
        const amount = yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: Number.NaN }))
        assert.strictEqual(amount._tag === "InvalidOptions" ? amount.path : "", "amount")
      })))

    it.effect(
      "settled spend never passes the limit under concurrent reservations (property)",
      () =>
        run(Effect.gen(function*() {
          const budgets = yield* Budgets
          const calls = fc.sample(
            fc.tuple(fc.integer({ min: 1, max: 400 }), fc.double({ min: 0, max: 1, noNaN: true })),
            { numRuns: 200, seed: 42 }
          )
          yield* budgets.set({ scope: "tenant:load", limit: 5, period: "total" })
          yield* Effect.forEach(calls, ([cents, share]) => {
            const amount = cents / 1000
            return Effect.ignore(
              budgets.withBudget(Effect.yieldNow, { scopes: ["tenant:load"], amount, actual: () => amount * share })
            )
          }, { concurrency: 32, discard: true })
          const s = yield* status("tenant:load")
          assert.isAtMost(s.spent, 5)
          assert.strictEqual(s.reserved, 0)
        })),
      60_000
    )
  })
}

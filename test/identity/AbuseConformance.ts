/**
 * One conformance suite for the abuse detector's backends (memory, Redis): the sliding window, escalating periods,
 * list and lift, live policy updates. Times come from Effect's Clock, so every rule runs under TestClock on every
 * backend alike (the clock is set before the backend is built).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Option, type Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { AbuseOptions, AbuseShape } from "../../src/identity/Abuse.ts"
import { Abuse, Audit, AuditStore } from "../../src/identity/index.ts"
import type { InvalidIdentityInput } from "../../src/identity/index.ts"
import { failureOf } from "./support.ts"

export interface AbuseBackend {
  readonly label: string
  /** A detector; detectors built by one call to `shared` see each other's state (a backend shared by processes). */
  readonly make: (
    options: AbuseOptions,
    shared?: string
  ) => Effect.Effect<AbuseShape, InvalidIdentityInput, Scope.Scope>
  /** Whether two detectors on the same `shared` name share their state (Redis: yes; memory: each process alone). */
  readonly shares: boolean
}

const START = 1_767_225_600_000 // 2026-01-01T00:00:00Z
const rule = {
  signal: "auth_failure",
  target: "ip",
  threshold: 3,
  windowMs: 10_000,
  blockMs: 1_000,
  escalation: 4,
  maxBlockMs: 20_000
} as const

export const abuseConformance = (backend: AbuseBackend): void => {
  describe(`Abuse (${backend.label}): signals over sliding windows block a target for escalating periods`, () => {
    it.effect("a threshold of signals within the sliding window blocks the target; older signals slide out; an expired block is no block", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const abuse = yield* backend.make({ policy: { rules: [rule] } })
        yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
        yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
        yield* TestClock.adjust("10001 millis") // both slide out of the window
        yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
        yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
        assert.isTrue(Option.isNone(yield* abuse.check({ ip: "1.2.3.4" })))
        const caused = yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
        assert.strictEqual(Option.getOrThrow(caused).until, START + 10_001 + 1_000)
        const seen = Option.getOrThrow(yield* abuse.check({ ip: "1.2.3.4", key: "k" }))
        assert.deepStrictEqual(seen, {
          kind: "ip",
          id: "1.2.3.4",
          until: START + 11_001,
          offenses: 1,
          reason: "auth_failure >= 3 in 10000 ms"
        })
        assert.isTrue(Option.isNone(yield* abuse.check({ ip: "5.6.7.8" })))
        yield* TestClock.adjust("1000 millis")
        assert.isTrue(Option.isNone(yield* abuse.check({ ip: "1.2.3.4" })))
        assert.deepStrictEqual(yield* abuse.list(), [])
      }).pipe(Effect.scoped))

    it.effect("escalating periods: each new block of a target lasts escalation times longer, capped at maxBlockMs", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const abuse = yield* backend.make({ policy: { rules: [rule] } })
        const periods: Array<number> = []
        for (let round = 0; round < 4; round++) {
          const block = (yield* abuse.signal("auth_failure", { ip: "x" }, 3)).pipe(Option.getOrThrow)
          const now = yield* Clock.currentTimeMillis
          periods.push(block.until - now)
          yield* TestClock.adjust(`${block.until - now} millis`)
        }
        assert.deepStrictEqual(periods, [1_000, 4_000, 16_000, 20_000])
      }).pipe(Effect.scoped))

    it.effect("list and lift the active blocks; lift keeps the escalation count; lift of an unblocked target fails KeyNotFound; audited", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
        const abuse = yield* backend.make({ policy: { rules: [{ ...rule, target: "key" }] }, audit })
        yield* abuse.signal("auth_failure", { ip: "i", key: "k1" }, 5)
        assert.deepStrictEqual((yield* abuse.list()).map((b) => `${b.kind}:${b.id}`), ["key:k1"])
        yield* abuse.lift("key", "k1")
        assert.deepStrictEqual(yield* abuse.list(), [])
        assert.strictEqual(failureOf(yield* Effect.exit(abuse.lift("key", "k1")))._tag, "KeyNotFound")
        const again = (yield* abuse.signal("auth_failure", { key: "k1" }, 5)).pipe(Option.getOrThrow)
        assert.strictEqual(again.offenses, 2)
        assert.strictEqual(again.until - (yield* Clock.currentTimeMillis), 4_000)
        const entries = yield* audit.query({ tenant: "_" })
        assert.deepStrictEqual(entries.map((e) => `${e.action} ${e.resource}`), [
          "abuse.block key:k1",
          "abuse.lift key:k1",
          "abuse.block key:k1"
        ])
      }).pipe(Effect.scoped))

    it.effect("a live policy update applies at once and starts the sliding logs afresh; an invalid one keeps the old", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const abuse = yield* backend.make({ policy: { rules: [rule] } })
        yield* abuse.signal("auth_failure", { ip: "p" }, 2)
        yield* abuse.setPolicy({ rules: [{ ...rule, threshold: 4 }] })
        assert.isTrue(Option.isNone(yield* abuse.signal("auth_failure", { ip: "p" }, 2)))
        assert.isTrue(Option.isSome(yield* abuse.signal("auth_failure", { ip: "p" }, 2)))
        assert.strictEqual(
          failureOf(yield* Effect.exit(abuse.setPolicy({ rules: [{ ...rule, threshold: -1 }] })))._tag,
          "InvalidIdentityInput"
        )
        assert.strictEqual(abuse.policy().rules[0]!.threshold, 4)
      }).pipe(Effect.scoped))

    it.effect(
      "a threshold above 10,000 signals is reached: 10,050 signals within the window block the target",
      () =>
        Effect.gen(function*() {
          yield* TestClock.setTime(START)
          const big = { ...rule, threshold: 10_050, windowMs: 3_600_000 }
          const abuse = yield* backend.make({ policy: { rules: [big] } })
          let caused: Option.Option<unknown> = Option.none()
          for (let i = 0; i < 10_050 && Option.isNone(caused); i++) {
            caused = yield* abuse.signal("auth_failure", { ip: "many" })
            if (i % 1_000 === 999) yield* TestClock.adjust("1 second") // spread over the window
          }
          assert.isTrue(Option.isSome(yield* abuse.check({ ip: "many" })))
        }).pipe(Effect.scoped),
      60_000
    )

    it.effect("the window is kept in windowBuckets time buckets: more signals than buckets still reach the threshold, and slide out", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const abuse = yield* backend.make({
          windowBuckets: 10,
          policy: { rules: [{ ...rule, threshold: 100, windowMs: 1_000 }] }
        })
        for (let i = 0; i < 99; i++) {
          assert.isTrue(Option.isNone(yield* abuse.signal("auth_failure", { ip: "b" })))
          yield* TestClock.adjust("10 millis")
        }
        // 99 signals over 990 ms, in 10 buckets of 100 ms: the 100th reaches the threshold
        assert.isTrue(Option.isSome(yield* abuse.signal("auth_failure", { ip: "b" })))
        for (let i = 0; i < 99; i++) {
          yield* abuse.signal("auth_failure", { ip: "c" })
          yield* TestClock.adjust("10 millis")
        }
        yield* TestClock.adjust("1000 millis") // every bucket has slid out
        assert.isTrue(Option.isNone(yield* abuse.signal("auth_failure", { ip: "c" })))
      }).pipe(Effect.scoped))

    it.effect("fuzz: random signals, targets and weights never defect; blocks never outlive maxBlockMs; check agrees with list", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(START)
        const abuse = yield* backend.make({
          policy: { rules: [rule, { ...rule, signal: "spend", target: "principal", threshold: 5 }] }
        })
        const samples = fc.sample(
          fc.array(
            fc.tuple(
              fc.constantFrom("auth_failure", "spend", "rate_limited" as const),
              fc.string({ maxLength: 6 }),
              fc.double({ min: 0, max: 4, noNaN: true })
            ),
            { maxLength: 20 }
          ),
          { numRuns: 15, seed: 13 }
        )
        for (const signals of samples) {
          for (const [signal, id, weight] of signals) {
            yield* abuse.signal(signal, { ip: id, principal: `p|${id}` }, weight)
          }
          const now = yield* Clock.currentTimeMillis
          for (const b of yield* abuse.list()) {
            assert.isAtMost(b.until - now, 20_000)
            assert.isTrue(Option.isSome(yield* abuse.check(b.kind === "ip" ? { ip: b.id } : { principal: b.id })))
          }
          yield* TestClock.adjust("500 millis")
        }
      }).pipe(Effect.scoped))

    it.effect(
      backend.shares
        ? "blocks are shared: a block decided by one process is seen by another at once, and lifted for both"
        : "blocks are per process: another detector does not see them",
      () =>
        Effect.gen(function*() {
          yield* TestClock.setTime(START)
          const name = `shared-${Math.random().toString(36).slice(2)}`
          const one = yield* backend.make({ policy: { rules: [rule] } }, name)
          const two = yield* backend.make({ policy: { rules: [rule] } }, name)
          yield* one.signal("auth_failure", { ip: "s" }, 2)
          const caused = yield* two.signal("auth_failure", { ip: "s" }, 1) // the processes' signals count together
          assert.strictEqual(Option.isSome(caused), backend.shares)
          if (!backend.shares) return
          assert.strictEqual(Option.getOrThrow(yield* one.check({ ip: "s" })).until, START + 1_000)
          yield* one.lift("ip", "s")
          assert.isTrue(Option.isNone(yield* two.check({ ip: "s" })))
          const next = (yield* two.signal("auth_failure", { ip: "s" }, 3)).pipe(Option.getOrThrow)
          assert.strictEqual(next.offenses, 2) // escalation is shared too
        }).pipe(Effect.scoped)
    )
  })
}

import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Option } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Abuse, Audit, AuditStore } from "../../src/identity/index.ts"
import { failureOf } from "./support.ts"

const rule = {
  signal: "auth_failure",
  target: "ip",
  threshold: 3,
  windowMs: 10_000,
  blockMs: 1_000,
  escalation: 4,
  maxBlockMs: 20_000
} as const

describe("Abuse (signals over sliding windows block a target for escalating periods)", () => {
  it.effect("a threshold of signals within the sliding window blocks the target; older signals slide out", () =>
    Effect.gen(function*() {
      const abuse = yield* Abuse.make({ policy: { rules: [rule] } })
      yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
      yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
      yield* TestClock.adjust("10001 millis") // both slide out of the window
      yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
      yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "1.2.3.4" })))
      const caused = yield* abuse.signal("auth_failure", { ip: "1.2.3.4" })
      assert.strictEqual(Option.getOrThrow(caused).until, 10_001 + 1_000)
      assert.isTrue(Option.isSome(yield* abuse.check({ ip: "1.2.3.4", key: "k" })))
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "5.6.7.8" })))
      yield* TestClock.adjust("1000 millis")
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "1.2.3.4" })))
    }))

  it.effect("the default: 100 auth failures per IP per minute, 20 per key", () =>
    Effect.gen(function*() {
      const abuse = yield* Abuse.make()
      for (let i = 0; i < 99; i++) yield* abuse.signal("auth_failure", { ip: "9.9.9.9" })
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "9.9.9.9" })))
      yield* TestClock.adjust("60001 millis") // the 99 slide out of the minute
      for (let i = 0; i < 99; i++) yield* abuse.signal("auth_failure", { ip: "9.9.9.9" })
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "9.9.9.9" })))
      assert.isTrue(Option.isSome(yield* abuse.signal("auth_failure", { ip: "9.9.9.9" })))
      // a key: 20 failures from as many IPs (no IP reaches its own threshold)
      for (let i = 0; i < 19; i++) yield* abuse.signal("auth_failure", { ip: `10.0.0.${i}`, key: "k-default" })
      assert.isTrue(Option.isNone(yield* abuse.check({ key: "k-default" })))
      assert.isTrue(Option.isSome(yield* abuse.signal("auth_failure", { ip: "10.0.0.99", key: "k-default" })))
      assert.isTrue(Option.isSome(yield* abuse.check({ key: "k-default" })))
    }))

  it.effect("escalating periods: each new block of a target lasts escalation times longer, capped at maxBlockMs", () =>
    Effect.gen(function*() {
      const abuse = yield* Abuse.make({ policy: { rules: [rule] } })
      const periods: Array<number> = []
      for (let round = 0; round < 4; round++) {
        const start = (yield* abuse.signal("auth_failure", { ip: "x" }, 3)).pipe(Option.getOrThrow)
        const now = yield* Clock.currentTimeMillis
        periods.push(start.until - now)
        yield* TestClock.adjust(`${start.until - now} millis`)
      }
      assert.deepStrictEqual(periods, [1_000, 4_000, 16_000, 20_000])
    }))

  it.effect("list and lift the active blocks; lift of an unblocked target fails KeyNotFound; blocks and lifts are audited", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
      const abuse = yield* Abuse.make({ policy: { rules: [{ ...rule, target: "key" }] }, audit })
      yield* abuse.signal("auth_failure", { ip: "i", key: "k1" }, 5)
      assert.deepStrictEqual((yield* abuse.list()).map((b) => `${b.kind}:${b.id}`), ["key:k1"])
      yield* abuse.lift("key", "k1")
      assert.deepStrictEqual(yield* abuse.list(), [])
      const missing = yield* Effect.exit(abuse.lift("key", "k1"))
      assert.strictEqual(failureOf(missing)._tag, "KeyNotFound")
      const entries = yield* audit.query({ tenant: "_" })
      assert.deepStrictEqual(entries.map((e) => `${e.action} ${e.resource}`), [
        "abuse.block key:k1",
        "abuse.lift key:k1"
      ])
    }))

  it.effect("a live policy update applies at once; an invalid policy fails InvalidIdentityInput naming the path and keeps the old one", () =>
    Effect.gen(function*() {
      const abuse = yield* Abuse.make()
      const bad = yield* Effect.exit(abuse.setPolicy({ rules: [{ ...rule, threshold: -1 }] }))
      const error = failureOf(bad)
      assert.strictEqual(error._tag, "InvalidIdentityInput")
      assert.include(error._tag === "InvalidIdentityInput" ? error.path : "", "policy")
      assert.deepStrictEqual(abuse.policy(), Abuse.defaultPolicy)
      yield* abuse.setPolicy({ rules: [{ ...rule, signal: "rate_limited", target: "principal", threshold: 1 }] })
      assert.isTrue(Option.isSome(yield* abuse.signal("rate_limited", { principal: "acme/bob" })))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(Abuse.make({ policy: "nope" }))))
    }))

  it.effect("fuzz: random policies and signals never defect; blocks never outlive maxBlockMs", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.tuple(
          fc.anything(),
          fc.array(
            fc.tuple(
              fc.constantFrom("auth_failure", "spend", "rate_limited", "guardrail_hit" as const),
              fc.string({ maxLength: 8 }),
              fc.double({ min: 0, max: 10, noNaN: true })
            ),
            { maxLength: 30 }
          )
        ),
        { numRuns: 100, seed: 13 }
      )
      for (const [policy, signals] of samples) {
        const abuse = yield* Abuse.make()
        const set = yield* Effect.exit(abuse.setPolicy(policy))
        if (Exit.isFailure(set)) assert.strictEqual(failureOf(set)._tag, "InvalidIdentityInput")
        for (const [signal, id, weight] of signals) {
          yield* abuse.signal(signal, { ip: id, key: id, principal: id }, weight)
        }
        const now = yield* Clock.currentTimeMillis
        for (const b of yield* abuse.list()) assert.isAtMost(b.until - now, 86_400_000)
      }
    }))
})

/**
 * Rules of the Redis budget store beyond the conformance suite: `list` reads an index of scopes (also the budgets
 * made before it, found once by a backfill), a script validates its arguments before its first write, and the alert
 * state written by an earlier version (an index into `alertAt`) is read as the fraction it names.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import { Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { makeRedisBudgetStore } from "../../src/budget/internal/RedisBudgetStore.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const JAN_15 = Date.UTC(2026, 0, 15, 12, 0, 0)

describeRedis("RedisBudgetStore", () => {
  const prefixes: Array<string> = []
  const fresh = (label: string): string => {
    const prefix = uniquePrefix(label)
    prefixes.push(prefix)
    return prefix
  }
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  }, 120_000)
  const layerFor = (prefix: string, options: Parameters<typeof Budgets.layerRedis>[0] = {}) =>
    Budgets.layerRedis({ prefix, ...options }).pipe(Layer.provideMerge(NodeRedis.layer({ url: redisUrl })))

  it.effect("list answers every budget however many other keys the Redis database holds (150,000)", () => {
    const prefix = fresh("budget-list")
    return Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const budgets = yield* Budgets
      yield* redis.send(
        "EVAL",
        "for i = 1, 150000 do redis.call('SET', ARGV[1] .. 'filler:' .. i, '1') end return 1",
        "0",
        prefix
      )
      for (let i = 0; i < 20; i++) {
        yield* budgets.set({ scope: `tenant:t${String(i).padStart(2, "0")}`, limit: 1, period: "total" })
      }
      const listed = yield* budgets.list({ limit: 100 })
      assert.strictEqual(listed.length, 20)
      assert.deepStrictEqual((yield* budgets.list({ limit: 3 })).map((s) => s.scope), [
        "tenant:t00",
        "tenant:t01",
        "tenant:t02"
      ])
      yield* budgets.remove("tenant:t01")
      assert.strictEqual((yield* budgets.list({ limit: 100 })).length, 19)
    }).pipe(Effect.provide(layerFor(prefix)))
  }, 120_000)

  it.effect("list also answers the budgets an earlier version made before the scope index, found once by a backfill", () => {
    const prefix = fresh("budget-backfill")
    return Effect.gen(function*() {
      const redis = yield* Redis.Redis
      // a budget hash as an earlier version wrote it, with no index entry
      const start = String(Date.UTC(2026, 0, 1))
      for (const scope of ["tenant:old", "key:older"]) {
        yield* redis.send("HSET", `${prefix}b:${scope}`, "limit", "10000000", "period", "month", "alertAt", "0.5,0.8,1")
        yield* redis.send("HSET", `${prefix}b:${scope}`, "start", start, "spent", "0", "reserved", "0", "alerted", "0")
      }
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:new", limit: 1, period: "total" })
      assert.deepStrictEqual((yield* budgets.list()).map((s) => s.scope), ["key:older", "tenant:new", "tenant:old"])
      yield* budgets.remove("tenant:old")
      assert.deepStrictEqual((yield* budgets.list()).map((s) => s.scope), ["key:older", "tenant:new"])
    }).pipe(Effect.provide(layerFor(prefix)), (body) => Effect.andThen(TestClock.setTime(JAN_15), body))
  })

  it.effect("a reservation or settlement the script cannot write fails before its first write and changes nothing", () => {
    const prefix = fresh("budget-allornone")
    return Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const store = yield* makeRedisBudgetStore(prefix, 5_000)
      const now = JAN_15
      yield* store.set({ scope: "tenant:acme", limit: 1_000_000, period: "total", alertAt: [0.5] }, now)
      // a fraction of a millisecond (PX takes whole ones) and an amount that is not whole micro-dollars
      for (const [expiresAt, amount] of [[now + 1000.5, 1], [now + 1000, 1.5], [Infinity, 1]] as const) {
        const exit = yield* Effect.exit(
          store.reserve({ id: `bad-${expiresAt}-${amount}`, scopes: ["tenant:acme"], amount, expiresAt, now })
        )
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* store.get("tenant:acme", now))?.reserved, 0)
        assert.deepStrictEqual(yield* redis.send("ZRANGE", `${prefix}h:tenant:acme`, "0", "-1"), [])
      }
      const ok = yield* store.reserve({ id: "ok", scopes: ["tenant:acme"], amount: 1, expiresAt: now + 1000, now })
      assert.strictEqual(ok._tag, "Reserved")
      // a settlement likewise: it fails and leaves the reservation open, to be settled once
      const settle = { id: "ok", scopes: ["tenant:acme"], amount: 1, now }
      assert.isTrue(Exit.isFailure(yield* Effect.exit(store.settle({ ...settle, actual: 0.5 }))))
      assert.strictEqual((yield* store.get("tenant:acme", now))?.reserved, 1)
      yield* store.settle({ ...settle, actual: 1 })
      const after = yield* store.get("tenant:acme", now)
      assert.deepStrictEqual([after?.reserved, after?.spent], [0, 1])
    }).pipe(Effect.scoped, Effect.provide(NodeRedis.layer({ url: redisUrl })))
  })

  it.effect("layerRedis with a default ttl of 90.0005 seconds reserves (in whole milliseconds) and holds each once", () => {
    const prefix = fresh("budget-layerttl")
    return Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "total" })
      for (let i = 0; i < 3; i++) {
        const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.3 })
        assert.strictEqual(r.expiresAt, JAN_15 + 90_001)
      }
      assert.strictEqual(Option.getOrThrow(yield* budgets.get("tenant:acme")).reserved, 0.9)
      yield* TestClock.adjust(90_001)
      assert.strictEqual(Option.getOrThrow(yield* budgets.get("tenant:acme")).reserved, 0)
    }).pipe(
      Effect.provide(layerFor(prefix, { ttl: "90.0005 seconds" })),
      (body) => Effect.andThen(TestClock.setTime(JAN_15), body)
    )
  })

  it.effect("the alert state of an earlier version (an index into alertAt) is read as the fraction it names", () => {
    const prefix = fresh("budget-alertstate")
    return Effect.gen(function*() {
      const redis = yield* Redis.Redis
      // 0.5 and 0.8 fired (alerted = 2) at $8.50 of $10 this month, as an earlier version stored it
      yield* redis.send(
        "HSET",
        `${prefix}b:tenant:acme`,
        "limit",
        "10000000",
        "period",
        "month",
        "alertAt",
        "0.5,0.8,1"
      )
      yield* redis.send("HSET", `${prefix}b:tenant:acme`, "start", String(Date.UTC(2026, 0, 1)), "spent", "8500000")
      yield* redis.send("HSET", `${prefix}b:tenant:acme`, "reserved", "0", "alerted", "2")
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month", alertAt: [0.25, 0.5, 0.75, 0.8, 1] })
      const spend = (usd: number) =>
        Effect.flatMap(budgets.reserve({ scopes: ["tenant:acme"], amount: usd }), (r) => budgets.settle(r, usd))
      assert.deepStrictEqual((yield* spend(0.1)).map((a) => a.threshold), [])
      assert.deepStrictEqual((yield* spend(1.4)).map((a) => a.threshold), [1])
    }).pipe(Effect.provide(layerFor(prefix)), (body) => Effect.andThen(TestClock.setTime(JAN_15), body))
  })
})

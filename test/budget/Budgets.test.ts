import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { Audit, AuditStore } from "../../src/identity/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { type BudgetBackend, budgetConformance } from "./BudgetConformance.ts"
import { budgetRulesConformance } from "./BudgetRulesConformance.ts"

const conformance = (backend: BudgetBackend): void => {
  budgetConformance(backend)
  budgetRulesConformance(backend)
}

conformance({ label: "memory", layer: () => Budgets.layerMemory() })

describe("Budgets.layerMemory bounds", () => {
  it.effect(
    "the memory backend holds at most 100,000 budgets and 100,000 open reservations; past that a typed BudgetStoreError",
    () =>
      Effect.gen(function*() {
        const budgets = yield* Budgets
        for (let i = 0; i < 100_000; i++) yield* budgets.set({ scope: `tenant:t${i}`, limit: 1_000, period: "total" })
        const full = yield* Effect.flip(budgets.set({ scope: "tenant:one-more", limit: 1, period: "total" }))
        assert.strictEqual(full._tag, "BudgetStoreError")
        yield* budgets.set({ scope: "tenant:t0", limit: 2_000, period: "total" }) // updating a known budget still works
        for (let i = 0; i < 100_000; i++) yield* budgets.reserve({ scopes: ["tenant:t0"], amount: 0.001 })
        const open = yield* Effect.flip(budgets.reserve({ scopes: ["tenant:t1"], amount: 0.001 }))
        assert.strictEqual(open._tag, "BudgetStoreError")
      }).pipe(Effect.provide(Budgets.layerMemory())),
    60_000
  )
})

describe("Budgets layer options", () => {
  it.effect("a layer ttl above 30 days, or not finite, fails building the layer with InvalidOptions naming ttl", () =>
    Effect.gen(function*() {
      const ttls: ReadonlyArray<Duration.Input> = ["Infinity", "31 days", 1e300]
      for (const ttl of ttls) {
        const e = yield* Effect.flip(Effect.provide(Budgets, Budgets.layerMemory({ ttl })))
        assert.strictEqual(e._tag, "InvalidOptions")
        assert.strictEqual(e.path, "ttl")
      }
      const budgets = yield* Effect.provide(Budgets, Budgets.layerMemory({ ttl: "30 days" }))
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "total" })
      const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5 })
      assert.strictEqual(r.expiresAt, 30 * 86_400_000) // the TestClock starts at 0
    }))
})

describe("Budgets alerts in the audit log", () => {
  it.effect("alerts fire as audit entries when an audit log is given: one per threshold, a refusal as denied", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
      const budgets = yield* Effect.provide(Budgets, Budgets.layerMemory({ audit }))
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month", alertAt: [0.5, 1] })
      const spend = (usd: number) =>
        Effect.flatMap(budgets.reserve({ scopes: ["tenant:acme"], amount: usd }), (r) => budgets.settle(r, usd))
      yield* spend(0.6)
      yield* spend(0.1) // 0.5 already fired: no second entry
      yield* Effect.flip(budgets.reserve({ scopes: ["tenant:acme"], amount: 0.5 }))
      const entries = yield* audit.query({ tenant: "acme" })
      assert.deepStrictEqual(
        entries.map((e) => [e.action, e.resource, e.status, e.metadata?.["threshold"], e.metadata?.["reason"]]),
        [
          ["budget.alert", "tenant:acme", "success", 0.5, "spend"],
          ["budget.alert", "tenant:acme", "denied", 1, "exhausted"]
        ]
      )
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    }))
})

describeRedis("Budgets on Redis", () => {
  const legacyPrefix = uniquePrefix("budget")
  const prefixes: Array<string> = [legacyPrefix]
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  })
  it.effect("a reservation marker of an earlier version (`1`, no deadline or amount) settles the caller's amount", () =>
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "total" })
      const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.4 })
      yield* redis.send("SET", `${legacyPrefix}r:${r.id}`, "1")
      yield* budgets.settle(r, 0.25)
      yield* budgets.settle(r, 0.25)
      const s = yield* budgets.get("tenant:acme")
      assert.strictEqual(s._tag === "Some" ? s.value.reserved : -1, 0)
      assert.strictEqual(s._tag === "Some" ? s.value.spent : -1, 0.25)
    }).pipe(
      Effect.provide(
        Budgets.layerRedis({ prefix: legacyPrefix }).pipe(Layer.provideMerge(NodeRedis.layer({ url: redisUrl })))
      )
    ))
  conformance({
    label: "redis",
    layer: () => {
      const prefix = uniquePrefix("budget")
      prefixes.push(prefix)
      return Budgets.layerRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
    }
  })
})

describePostgres("Budgets on PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })
  conformance({
    label: "postgres",
    layer: () => {
      const schema = uniqueSchema("budget")
      schemas.push(schema)
      return Budgets.layerPostgres({ schema }).pipe(Layer.provide(pgLayer))
    }
  })
})

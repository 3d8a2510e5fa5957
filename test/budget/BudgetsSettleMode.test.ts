import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, Scope } from "effect"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { Audit, AuditStore } from "../../src/identity/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

describe("Budgets settle mode options", () => {
  it.effect("an unknown settle mode, or a timeout that is not a duration, fails the layer with InvalidOptions naming the path", () =>
    Effect.gen(function*() {
      // an untyped caller (config): the mode is not one of the two
      const mode = "later" as unknown as "await"
      const bad = yield* Effect.flip(Layer.build(Budgets.layerMemory({ settle: mode })))
      assert.strictEqual(bad._tag, "InvalidOptions")
      assert.strictEqual(bad._tag === "InvalidOptions" ? bad.path : "", "settle")
      const soon = "soon" as unknown as Duration.Input // an untyped caller again
      const timeout = yield* Effect.flip(
        Layer.build(Budgets.layerRedis({ timeout: soon }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl }))))
      )
      assert.strictEqual(timeout._tag, "InvalidOptions")
      assert.strictEqual(timeout._tag === "InvalidOptions" ? timeout.path : "", "timeout")
    }).pipe(Effect.scoped))

  it.effect("background settle on the memory store settles at once, with its alerts", () =>
    Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month", alertAt: [0.5] })
      const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.8 })
      const alerts = yield* budgets.settle(r, 0.6)
      assert.deepStrictEqual(alerts.map((a) => a.threshold), [0.5])
      const status = Option.getOrThrow(yield* budgets.get("tenant:acme"))
      assert.strictEqual(status.spent, 0.6)
      assert.strictEqual(status.reserved, 0)
    }).pipe(Effect.provide(Budgets.layerMemory({ settle: "background" }))))
})

describeRedis("Budgets on Redis, settle: \"background\"", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  })
  const layer = (audit?: Audit["Service"]) => {
    const prefix = uniquePrefix("budget-bg")
    prefixes.push(prefix)
    return Budgets.layerRedis({ prefix, settle: "background", ...(audit !== undefined ? { audit } : {}) }).pipe(
      Layer.provide(NodeRedis.layer({ url: redisUrl }))
    )
  }

  it.effect("background settle sends the settlement at once: the next operation of this process sees it", () =>
    Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month" })
      for (let i = 0; i < 20; i++) {
        const r = yield* budgets.reserve({ scopes: ["key:k1", "tenant:acme"], amount: 0.04 })
        assert.deepStrictEqual(yield* budgets.settle(r, 0.01), []) // no reply awaited, so no alerts in the result
      }
      const status = Option.getOrThrow(yield* budgets.get("tenant:acme"))
      assert.strictEqual(status.spent, 0.2)
      assert.strictEqual(status.reserved, 0)
    }).pipe(Effect.provide(layer())))

  it.effect("background settle: alerts are still audited, and closing the layer waits for the settlements in flight", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
      const scope = yield* Scope.make()
      const budgets = Context.get(yield* Layer.buildWithScope(layer(audit), scope), Budgets)
      yield* budgets.set({ scope: "tenant:acme", limit: 1, period: "month", alertAt: [0.5, 0.8] })
      const r = yield* budgets.reserve({ scopes: ["tenant:acme"], amount: 0.9 })
      yield* budgets.settle(r, 0.85)
      yield* Scope.close(scope, Exit.void)
      const entries = yield* audit.query({ tenant: "acme" })
      assert.deepStrictEqual(entries.map((e) => e.metadata?.["threshold"]), [0.5, 0.8])
    }))
})

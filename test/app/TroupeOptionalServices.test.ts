/**
 * `Troupe.layer({ costs, budgets, deadLetters, router, recommendations })`: the optional services are off by default; turned on, they are in
 * the layer's context and the pipeline uses them (costs recorded, budget scopes checked, permanent failures
 * dead-lettered and redriven through the pipeline); with `redis`, costs, budgets and dead letters live in Redis;
 * with `postgres`, in PostgreSQL (which wins over Redis for those three).
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Redis } from "effect/persistence"
import { afterAll } from "vitest"
import { type InvalidTroupeOptions, Troupe } from "../../src/app/index.ts"
import { Budgets } from "../../src/budget/index.ts"
import { Costs, Recommendations } from "../../src/costs/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"
import { ProviderServerError } from "../../src/llm/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { databaseUrl, describePostgres, dropSchemaPromise, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const ask = (content: string, user?: string) => ({
  model: "fast",
  messages: [{ role: "user", content }] as const,
  options: { cache: "bypass" as const, ...(user !== undefined ? { user } : {}) }
})

describe("Troupe.layer optional services (costs, budgets, deadLetters)", () => {
  it.effect("off by default: no Costs, Budgets or DeadLetters in the context", () =>
    Effect.gen(function*() {
      const found = [
        yield* Effect.serviceOption(Costs),
        yield* Effect.serviceOption(Budgets),
        yield* Effect.serviceOption(DeadLetters)
      ]
      assert.deepStrictEqual(found.map((o) => o._tag), ["None", "None", "None"])
    }).pipe(Effect.provide(Troupe.layerTest())))

  it.effect("on: costs are recorded, budget scopes are checked, a permanent failure is dead-lettered and redriven through the pipeline", () => {
    let failures = 1
    const layer = Troupe.layerTest({
      costs: true,
      budgets: true,
      deadLetters: true,
      providers: {
        scripted: {
          rules: [{
            when: { lastUser: "flaky" },
            reply: () =>
              failures-- > 0
                ? {
                  error: new ProviderServerError({
                    provider: "scripted",
                    status: 500,
                    description: "down",
                    retryable: false
                  })
                }
                : { text: "back" }
          }]
        }
      }
    })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const costs = yield* Costs
      const budgets = yield* Budgets
      const dlq = yield* DeadLetters
      yield* llm.generate(ask("hello", "alice"))
      const usage = yield* costs.stats({ period: "day", where: { principal: "alice" } })
      assert.strictEqual(usage.count, 1)
      // the budget step is in the pipeline: a user that cannot be a budget scope is refused
      const refused = yield* Effect.flip(llm.generate(ask("hello", "not a scope")))
      assert.strictEqual(refused._tag, "InvalidLlmRequest")
      yield* budgets.set({ scope: "principal:alice", limit: 1, period: "day" })
      yield* llm.generate(ask("hello again", "alice"))
      assert.strictEqual(Option.getOrThrow(yield* budgets.get("principal:alice")).reserved, 0)
      const failed = yield* Effect.flip(llm.generate(ask("flaky")))
      assert.strictEqual(failed._tag, "ProviderServerError")
      const [letter] = yield* dlq.list({}, 10)
      assert.strictEqual(letter?.source, "fast")
      assert.deepStrictEqual(yield* dlq.redrive(letter!.id), { id: letter!.id, result: "redriven" })
    }).pipe(Effect.provide(layer))
  })
})

describe("Troupe.layer({ router })", () => {
  it.effect("the router policy sends simple requests to the cheaper model; with costs, routed calls are on the ledger", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const simple = yield* llm.generate({ ...ask("hi"), model: "capable" })
      assert.strictEqual(simple.meta.requested, "capable")
      assert.strictEqual(simple.meta.routedTo, "fast")
      const complex = yield* llm.generate({ ...ask("x".repeat(5000)), model: "capable" })
      assert.isUndefined(complex.meta.routedTo)
      const savings = yield* Costs.use((costs) => costs.savings({ period: "day" }))
      assert.strictEqual(savings.routedCalls, 1)
    }).pipe(Effect.provide(Troupe.layerTest({ costs: true, router: { routes: { capable: "fast" } } }))))

  it.effect("the configuration's router section applies the router policy at start-up", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      assert.strictEqual((yield* llm.generate({ ...ask("hi"), model: "capable" })).meta.routedTo, "fast")
    }).pipe(
      Effect.provide(Troupe.layerTest({ config: { defaults: { router: { routes: { capable: "fast" } } } } }))
    ))

  it.effect("bad router options fail the layer with InvalidPipelineOptions naming the path", () =>
    Effect.gen(function*() {
      // untrusted options on purpose
      const bad = { routes: { capable: 7 } } as unknown as { readonly routes: Record<string, string> }
      const error = yield* Effect.flip(Effect.provide(Effect.void, Troupe.layerTest({ router: bad })))
      assert.strictEqual(error._tag, "InvalidPipelineOptions")
      assert.include(error.message, "routes")
    }))
})

describe("Troupe.layer({ recommendations })", () => {
  const prices = { "scripted:gpt-4o": { input: 10, output: 20 }, "scripted:gpt-4o-mini": { input: 1, output: 2 } }
  it.effect("with costs, Recommendations is provided and the sibling judge shadows sampled calls on the cheaper sibling", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate({ ...ask("hi"), model: "capable" })
      for (let i = 0; i < 50; i++) yield* Effect.yieldNow
      const list = yield* Recommendations.use((r) => r.recommend({ period: "day" }))
      const cheaper = list.flatMap((r) => r._tag === "cheaper-model" ? [r] : [])
      assert.deepStrictEqual(cheaper.map((r) => [r.model, r.sibling, r.agreement]), [[
        "scripted:gpt-4o",
        "scripted:gpt-4o-mini",
        1
      ]])
    }).pipe(Effect.provide(Troupe.layerTest({
      costs: true,
      pipeline: { usage: { prices } },
      recommendations: { minSamples: 1, sibling: { siblings: { capable: "fast" }, sampleRate: 1 } }
    }))))

  it.effect("recommendations without costs fail the layer with InvalidTroupeOptions at recommendations", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Effect.void, Troupe.layerTest({ recommendations: {} })))
      assert.strictEqual(error._tag, "InvalidTroupeOptions")
      assert.include(error.message, "recommendations")
    }))
})

/** A budget, a dead letter and a cost record, one of each, in the application's stores. */
const writeOneOfEach = Effect.gen(function*() {
  yield* (yield* Budgets).set({ scope: "tenant:acme", limit: 3, period: "month" })
  yield* (yield* DeadLetters).record({ kind: "request", source: "fast", input: {}, error: new Error("x"), attempts: 1 })
  yield* (yield* Costs).record({ cost: 0.01, tenant: "acme" })
})

describeRedis("Troupe.layer optional services on Redis", () => {
  it.effect("with redis, costs, budgets and dead letters are kept under the application's prefix", () => {
    const prefix = uniquePrefix("troupe-optional")
    const layer = Troupe.layer({
      redis: { url: redisUrl, prefix },
      config: { env: {} },
      providers: { scripted: {} },
      costs: true,
      budgets: true,
      deadLetters: true
    })
    return Effect.gen(function*() {
      yield* writeOneOfEach.pipe(Effect.provide(layer))
      const redis = yield* Redis.Redis
      const budgetKeys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}budget:*`)
      const dlqKeys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}dlq:*`)
      const costKeys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}costs:*`)
      assert.strictEqual(costKeys.length, 3)
      assert.isAbove(budgetKeys.length, 0)
      assert.isAbove(dlqKeys.length, 0)
      yield* cleanupRedisPrefix(prefix)
    }).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl })), Effect.scoped)
  })
})

describePostgres("Troupe.layer optional services on PostgreSQL", () => {
  const schema = uniqueSchema("troupe_optional")
  afterAll(() => dropSchemaPromise(schema))

  it.effect("with postgres, costs, budgets and dead letters are kept in its schema and outlive the layer", () => {
    const layer = Troupe.layer({
      // postgres wins over redis for these three: the Redis server named here is never asked
      redis: { url: "redis://127.0.0.1:1", prefix: "unused:" },
      postgres: { url: databaseUrl, schema },
      config: { env: {} },
      providers: { scripted: {} },
      costs: true,
      budgets: true,
      deadLetters: true
    })
    return Effect.gen(function*() {
      yield* writeOneOfEach.pipe(Effect.provide(layer))
      // a second application on the same schema finds all three
      yield* Effect.gen(function*() {
        const budget = yield* (yield* Budgets).get("tenant:acme")
        assert.isTrue(Option.isSome(budget))
        assert.strictEqual(Option.getOrThrow(budget).limit, 3)
        assert.strictEqual((yield* (yield* DeadLetters).list()).length, 1)
        assert.strictEqual((yield* (yield* Costs).stats({ period: "month" })).count, 1)
      }).pipe(Effect.provide(layer))
    })
  }, 30_000)

  it.effect("a postgres url that is not postgres:// or a bad schema fails with InvalidTroupeOptions naming the path", () =>
    Effect.gen(function*() {
      const url = yield* Effect.flip(
        Layer.build(Troupe.layer({ postgres: { url: "localhost:5432" } })).pipe(Effect.scoped)
      )
      assert.strictEqual((url as InvalidTroupeOptions).path, "postgres.url")
      const bad = yield* Effect.flip(
        Layer.build(Troupe.layer({ postgres: { url: databaseUrl, schema: "Robert'); DROP" } })).pipe(Effect.scoped)
      )
      assert.strictEqual((bad as InvalidTroupeOptions).path, "postgres.schema")
    }))
})

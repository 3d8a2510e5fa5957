import { NodeRedis } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { budgetConformance } from "./BudgetConformance.ts"

budgetConformance({ label: "memory", layer: () => Budgets.layerMemory() })

describeRedis("Budgets on Redis", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  })
  budgetConformance({
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
  budgetConformance({
    label: "postgres",
    layer: () => {
      const schema = uniqueSchema("budget")
      schemas.push(schema)
      return Budgets.layerPostgres({ schema }).pipe(Layer.provide(pgLayer))
    }
  })
})

import { NodeRedis } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { DeadLetters } from "../../src/dlq/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { dlqConformance } from "./DlqConformance.ts"

dlqConformance({ label: "memory", layer: (options) => DeadLetters.layerMemory(options) })

describeRedis("DeadLetters on Redis", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  })
  dlqConformance({
    label: "redis",
    layer: (options) => {
      const prefix = uniquePrefix("dlq")
      prefixes.push(prefix)
      return DeadLetters.layerRedis({ ...options, prefix }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
    }
  })
})

describePostgres("DeadLetters on PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })
  dlqConformance({
    label: "postgres",
    layer: (options) => {
      const schema = uniqueSchema("dlq")
      schemas.push(schema)
      return DeadLetters.layerPostgres({ ...options, schema }).pipe(Layer.provide(pgLayer))
    }
  })
})

/**
 * `DeadLetters` on every backend through the one conformance suite: memory, Redis (a fresh prefix per test) and
 * PostgreSQL (a fresh schema per test); the twins of a shared backend are two queues with their own connections on
 * one prefix or schema, as two processes would be.
 */
import { NodeRedis } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { afterAll } from "vitest"
import type { DeadLettersOptions } from "../../src/dlq/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"
import { databaseUrl, describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
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
  const onRedis = (options: DeadLettersOptions, prefix: string) =>
    DeadLetters.layerRedis({ ...options, prefix }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
  const fresh = () => {
    const prefix = uniquePrefix("dlq")
    prefixes.push(prefix)
    return prefix
  }
  dlqConformance({
    label: "redis",
    layer: (options) => onRedis(options, fresh()),
    twins: (options) => {
      const prefix = fresh()
      return [onRedis(options, prefix), onRedis(options, prefix)]
    }
  })
})

describePostgres("DeadLetters on PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(async () => {
    for (const schema of schemas) await dropSchemaPromise(schema)
  })
  const fresh = () => {
    const schema = uniqueSchema("dlq")
    schemas.push(schema)
    return schema
  }
  /** A pool of its own (a layer value is built once per build; a new value is a new pool). */
  const ownPool = () => PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4 })
  dlqConformance({
    label: "postgres",
    layer: (options) => DeadLetters.layerPostgres({ ...options, schema: fresh() }).pipe(Layer.provide(pgLayer)),
    twins: (options) => {
      const schema = fresh()
      return [
        DeadLetters.layerPostgres({ ...options, schema }).pipe(Layer.provide(ownPool())),
        DeadLetters.layerPostgres({ ...options, schema }).pipe(Layer.provide(ownPool()))
      ]
    }
  })
})

/**
 * One conformance suite for every `ToolLedger` backend (memory, PostgreSQL): a key is claimed true exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { Journal } from "../../src/llmagent/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const conformance = (name: string, layer: () => Layer.Layer<Journal.ToolLedger, unknown>) => {
  it.effect(`${name}: a tool call runs at most once per idempotency key (a key is claimed true exactly once)`, () =>
    Effect.gen(function*() {
      const ledger = yield* Journal.ToolLedger
      const key = `k-${Math.random()}`
      const claims = yield* Effect.forEach([1, 2, 3, 4, 5], () => ledger.claim(key), { concurrency: "unbounded" })
      assert.strictEqual(claims.filter((c) => c).length, 1)
      assert.isFalse(yield* ledger.claim(key))
      assert.isTrue(yield* ledger.claim(`${key}-other`))
      assert.isAtLeast(yield* ledger.size, 2)
    }).pipe(Effect.provide(layer())))
}

describe("ToolLedger conformance (memory)", () => {
  conformance("memory", () => Journal.ToolLedger.layerMemory())
})

describePostgres("ToolLedger conformance (postgres)", () => {
  const schema = uniqueSchema("ledger")
  afterAll(() => dropSchemaPromise(schema))
  conformance("postgres", () => Journal.ToolLedger.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { afterAll } from "vitest"
import { KeyStore } from "../../src/identity/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { keyStoreConformance } from "./KeyStoreConformance.ts"
import { failureOf, user } from "./support.ts"

describe("KeyStore conformance: memory", () => {
  keyStoreConformance(() => KeyStore.layerMemory())

  it.effect("layerMemory is bounded: at capacity insert fails with StoreFull rather than evict a live key", () =>
    Effect.gen(function*() {
      const store = yield* KeyStore
      const rec = (id: string) => ({
        id,
        tenant: "t",
        principal: user("t"),
        name: "n",
        scopes: [],
        hash: "",
        createdAt: 0
      })
      yield* store.insert(rec("a"))
      yield* store.insert(rec("b"))
      const exit = yield* Effect.exit(store.insert(rec("c")))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "StoreFull")
      assert.strictEqual((yield* store.list("t")).length, 2)
    }).pipe(Effect.provide(KeyStore.layerMemory({ maxKeys: 2 }))))
})

describePostgres("KeyStore conformance: PostgreSQL", () => {
  const schema = uniqueSchema("keys")
  afterAll(() => dropSchemaPromise(schema))
  keyStoreConformance(() => KeyStore.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))

  it.effect("layerPostgres refuses a schema name that is not an identifier", () =>
    Effect.gen(function*() {
      const build = Effect.gen(function*() {
        yield* KeyStore
      }).pipe(Effect.provide(KeyStore.layerPostgres({ schema: "x; drop" }).pipe(Layer.provide(pgLayer))))
      const exit = yield* Effect.exit(build)
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "IdentityStoreError")
    }))
})

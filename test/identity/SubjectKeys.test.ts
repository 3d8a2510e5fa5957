import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { afterAll } from "vitest"
import { SubjectKeys } from "../../src/identity/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { subjectKeysConformance } from "./SubjectKeysConformance.ts"
import { failureOf } from "./support.ts"

describe("SubjectKeys conformance: memory", () => {
  subjectKeysConformance(() => SubjectKeys.layerMemory())

  it.effect("layerMemory is bounded: at capacity create of a new subject fails StoreFull, a key is never evicted", () =>
    Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const rec = (subject: string) => ({ tenant: "t", subject, keyId: `id-${subject}`, wrapped: "w", createdAt: 0 })
      yield* keys.create(rec("a"))
      const exit = yield* Effect.exit(keys.create(rec("b")))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "StoreFull")
      assert.strictEqual((yield* keys.create(rec("a"))).keyId, "id-a")
    }).pipe(Effect.provide(SubjectKeys.layerMemory({ maxKeys: 1 }))))
})

describePostgres("SubjectKeys conformance: PostgreSQL", () => {
  const schema = uniqueSchema("subject_keys")
  afterAll(() => dropSchemaPromise(schema))
  subjectKeysConformance(() => SubjectKeys.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))
})

import { describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as FastGuard from "../../src/agent/internal/FastGuard.ts"

class Box {
  readonly by = 1
}

const schemas = {
  number: Schema.Number,
  string: Schema.String,
  literal: Schema.Literal("a"),
  empty: Schema.Struct({}),
  one: Schema.Struct({ by: Schema.Number }),
  two: Schema.Struct({ by: Schema.Number, name: Schema.String }),
  struct: Schema.Struct({ by: Schema.Number, name: Schema.String, on: Schema.Boolean }),
  four: Schema.Struct({ by: Schema.Number, name: Schema.String, on: Schema.Boolean, n: Schema.Number }),
  nested: Schema.Struct({ inner: Schema.Struct({ n: Schema.Number }), tag: Schema.Literal("x") }),
  withOptional: Schema.Struct({ a: Schema.Number, b: Schema.optional(Schema.String) }),
  withCheck: Schema.Struct({ n: Schema.Int }),
  withDefault: Schema.Struct({ count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))) })
}

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: "small" },
    fc.double(),
    fc.integer(),
    fc.constant(Number.NaN),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constant("a"),
    fc.constant("x"),
    fc.constant(new Box()),
    // objects that are not plain: an array and a function carrying the fields, a null prototype, inherited fields
    fc.constant(Object.assign([], { by: 1, name: "a", on: true, n: 2, count: 0 })),
    fc.constant(Object.assign(() => 1, { by: 1, count: 0 })),
    fc.constant(Object.assign(Object.create(null), { by: 1, name: "a", on: true, n: 2, count: 0 })),
    fc.constant(Object.create({ by: 1, name: "a", on: true, count: 0 })),
    fc.array(tie("any"), { maxLength: 3 }),
    fc.record({ by: tie("any"), name: tie("any"), on: tie("any"), n: tie("any") }, { requiredKeys: [] }),
    fc.record({ inner: tie("any"), tag: tie("any"), n: tie("any"), extra: tie("any") }, { requiredKeys: [] }),
    fc.record({ a: tie("any"), b: tie("any"), count: tie("any") }, { requiredKeys: [] })
  )
})).any

describe("FastGuard", () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it(`agrees with Schema.is on the type side: ${name}`, () => {
      const fast = FastGuard.make(schema)
      const reference = Schema.is(Schema.toType(schema) as Schema.Codec<unknown, unknown, never, never>)
      fc.assert(fc.property(value, (u) => fast(u) === reference(u)), { numRuns: 2000 })
    })
  }
})

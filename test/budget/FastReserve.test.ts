import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as fc from "fast-check"
import { BudgetScope } from "../../src/budget/index.ts"
import { isPlainReserve, MAX_SCOPES } from "../../src/budget/internal/FastReserve.ts"

/** The reservation Schema without `ttl` (the shortcut never accepts a `ttl`). */
const Reference = Schema.Struct({
  scopes: Schema.Array(BudgetScope).check(Schema.isMaxLength(MAX_SCOPES)),
  amount: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1e9))
})
const accepts = Schema.is(Reference)

const scope = fc.oneof(
  fc.constantFrom("key", "principal", "tenant", "project", "team", "").chain((kind) =>
    fc.string({ minLength: 0, maxLength: 140 }).map((id) => `${kind}:${id}`)
  ),
  fc.stringMatching(/^(?:key|tenant):[A-Za-z0-9_.:@-]{1,20}$/),
  fc.string()
)
const input = fc.oneof(
  fc.record({
    scopes: fc.array(scope, { maxLength: 20 }),
    amount: fc.oneof(fc.double(), fc.integer(), fc.constant(Number.NaN))
  }),
  fc.record({ scopes: fc.array(scope), amount: fc.double(), ttl: fc.anything() }),
  fc.record({ scopes: fc.anything(), amount: fc.anything() }),
  fc.anything()
)

describe("FastReserve: the hot-path shortcut of Budgets.reserve", () => {
  it("accepts only what the reservation Schema accepts unchanged (property)", () => {
    fc.assert(
      fc.property(input, (u) => {
        if (isPlainReserve(u)) expect(accepts(u)).toBe(true)
      }),
      { numRuns: 5_000 }
    )
  })

  it("takes the common input (so the shortcut is used)", () => {
    expect(isPlainReserve({ scopes: ["key:k1", "tenant:acme"], amount: 0.02 })).toBe(true)
    expect(isPlainReserve({ scopes: ["tenant:acme"], amount: 0.02, ttl: "1 minute" })).toBe(false)
    expect(isPlainReserve({ scopes: ["acme"], amount: 1 })).toBe(false)
  })
})

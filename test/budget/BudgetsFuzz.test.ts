import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as fc from "fast-check"
import { Budgets } from "../../src/budget/index.ts"

const typed = new Set(["InvalidOptions", "BudgetExceeded", "BudgetStoreError"])

describe("Budgets fuzz: arbitrary input to every entry point fails typed, never dies", () => {
  it("set, get, reserve, settle and release with arbitrary values", async () => {
    const budgets = await Effect.runPromise(Budgets.use(Effect.succeed).pipe(Effect.provide(Budgets.layerMemory())))
    await Effect.runPromise(budgets.set({ scope: "tenant:fuzz", limit: 1, period: "day" }))
    const value = fc.oneof(
      fc.anything(),
      fc.record({
        scope: fc.oneof(fc.string(), fc.constant("tenant:fuzz")),
        limit: fc.anything(),
        period: fc.anything(),
        alertAt: fc.anything()
      }),
      fc.record({
        scopes: fc.oneof(fc.anything(), fc.array(fc.oneof(fc.string(), fc.constant("tenant:fuzz")))),
        amount: fc.oneof(fc.double(), fc.anything()),
        ttl: fc.anything()
      })
    )
    await fc.assert(
      fc.asyncProperty(fc.nat(3), value, fc.anything(), async (entry, input, actual) => {
        const run = entry === 0
          ? budgets.set(input as never)
          : entry === 1
          ? budgets.get(input as never)
          : Effect.flatMap(
            budgets.reserve(input as never),
            (r) => (entry === 2 ? budgets.settle(r, actual as never) : budgets.release(r))
          )
        const exit = await Effect.runPromise(Effect.exit(run))
        if (Exit.isFailure(exit)) {
          expect(Cause.hasDies(exit.cause)).toBe(false)
          const error = Cause.squash(exit.cause) as { readonly _tag?: string }
          expect(typed.has(error._tag ?? "")).toBe(true)
        }
      }),
      { numRuns: 2_000 }
    )
    // every reservation made above was settled or released: no hold is left behind
    const s = await Effect.runPromise(budgets.get("tenant:fuzz"))
    expect(s._tag === "Some" ? s.value.reserved : -1).toBe(0)
  })
})

describe("Budgets.list fuzz", () => {
  it("list with arbitrary options answers at most limit budgets or fails InvalidOptions naming limit; never a defect", async () => {
    const budgets = await Effect.runPromise(Budgets.use(Effect.succeed).pipe(Effect.provide(Budgets.layerMemory())))
    for (const scope of ["tenant:a", "tenant:b", "key:k"]) {
      await Effect.runPromise(budgets.set({ scope, limit: 1, period: "day" }))
    }
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.anything(), fc.record({ limit: fc.oneof(fc.anything(), fc.integer({ min: -5, max: 2_000 })) })),
        async (options) => {
          // untrusted options on purpose
          const exit = await Effect.runPromiseExit(budgets.list(options as never))
          if (Exit.isSuccess(exit)) {
            const limit = (options as { readonly limit?: number } | undefined)?.limit ?? 100
            expect(exit.value.length).toBeLessThanOrEqual(Math.min(3, limit))
          } else {
            expect(Cause.hasDies(exit.cause)).toBe(false)
            const error = Cause.squash(exit.cause) as { readonly _tag?: string }
            expect(error._tag).toBe("InvalidOptions")
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("Budgets layer options", () => {
  it("a layer's ttl that is not a duration fails InvalidOptions naming ttl; never a defect", async () => {
    for (const ttl of ["nonsense", -5, Number.NaN, "1 fortnight"]) {
      // untrusted options on purpose (config)
      const exit = await Effect.runPromiseExit(
        Budgets.use(Effect.succeed).pipe(Effect.provide(Budgets.layerMemory({ ttl: ttl as "1 minute" })))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = Cause.squash(exit.cause) as { readonly _tag?: string; readonly path?: string }
        expect(error._tag).toBe("InvalidOptions")
        expect(error.path).toBe("ttl")
      }
    }
  })

  it("arbitrary layer options (ttl, settle) build the layer or fail InvalidOptions naming ttl or settle; never a defect", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            ttl: fc.oneof(fc.anything(), fc.constantFrom("1 minute", 5_000)),
            settle: fc.oneof(fc.anything(), fc.constantFrom("await", "background"))
          },
          { requiredKeys: [] }
        ),
        async (options) => {
          // untrusted options on purpose (config)
          const exit = await Effect.runPromiseExit(
            Budgets.use(Effect.succeed).pipe(Effect.provide(Budgets.layerMemory(options as never)))
          )
          if (Exit.isFailure(exit)) {
            expect(Cause.hasDies(exit.cause)).toBe(false)
            const error = Cause.squash(exit.cause) as { readonly _tag?: string; readonly path?: string }
            expect(error._tag).toBe("InvalidOptions")
            expect(["ttl", "settle"]).toContain(error.path)
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})

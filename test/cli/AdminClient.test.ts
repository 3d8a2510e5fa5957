/**
 * The argument checks of the admin commands (`internal/AdminClient.ts`, `KeysCommands.durationArg`), in process:
 * every input is either accepted within its bounds or refused with exit code 2 naming the flag.
 */
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CliFailure, numberArg, queryOf, table } from "../../src/cli/internal/AdminClient.ts"
import { durationArg } from "../../src/cli/KeysCommands.ts"

const refusal = (exit: Exit.Exit<unknown, CliFailure>) => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  return failure?._tag === "Fail" ? failure.error : undefined
}

describe("admin command arguments", () => {
  it("numberArg accepts a finite number within bounds and refuses anything else with exit 2 naming the flag", () => {
    expect(Effect.runSync(numberArg("--limit", "5", { min: 0, max: 1e9 }))).toBe(5)
    expect(Effect.runSync(numberArg("--limit", "0.25", { min: 0, max: 1e9 }))).toBe(0.25)
    for (const raw of ["-1", "ten", "", " ", "NaN", "Infinity", "1e10", "0x"]) {
      const e = refusal(Effect.runSyncExit(numberArg("--limit", raw, { min: 0, max: 1e9 })))
      expect(e?.code, raw).toBe(2)
      expect(e?.message).toContain("--limit")
    }
    expect(refusal(Effect.runSyncExit(numberArg("--days", "2.5", { min: 1, max: 31, int: true })))?.code).toBe(2)
  })

  it("durationArg reads 0, ms, s, m, h and d up to its maximum", () => {
    expect(Effect.runSync(durationArg("--grace", "0", 86_400_000))).toBe(0)
    expect(Effect.runSync(durationArg("--grace", "90s", 86_400_000))).toBe(90_000)
    expect(Effect.runSync(durationArg("--grace", "2h", 86_400_000))).toBe(7_200_000)
    for (const raw of ["2d", "-1s", "1.5h", "forever", "", "1w"]) {
      expect(refusal(Effect.runSyncExit(durationArg("--grace", raw, 86_400_000)))?.code, raw).toBe(2)
    }
  })

  it("fuzz: any string is accepted within bounds or refused with exit 2, never thrown", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        for (
          const exit of [
            Effect.runSyncExit(numberArg("--rate", raw, { min: 0.001, max: 10_000 })),
            Effect.runSyncExit(durationArg("--expires-in", raw, 3650 * 86_400_000))
          ]
        ) {
          if (Exit.isSuccess(exit)) {
            expect(Number.isFinite(exit.value)).toBe(true)
            expect(exit.value).toBeGreaterThanOrEqual(0)
          } else {
            expect(refusal(exit)).toBeInstanceOf(CliFailure)
            expect(refusal(exit)?.code).toBe(2)
          }
        }
      }),
      { numRuns: 500, seed: 7 }
    )
  })

  it("queryOf leaves out absent parameters and encodes the rest; table pads its columns", () => {
    expect(queryOf({ tenant: "a&b", principal: undefined, limit: 5 })).toBe("?tenant=a%26b&limit=5")
    expect(queryOf({ a: undefined })).toBe("")
    expect(table(["ID", "NAME"], [["1", "x"], ["200", "yy"]])).toBe("ID   NAME\n1    x\n200  yy")
  })
})

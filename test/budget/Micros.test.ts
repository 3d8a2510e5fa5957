import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { fromMicros, toMicros } from "../../src/budget/index.ts"

/** Every whole number of micro-dollars the API accepts: 0 to 1e9 USD. */
const MAX_MICROS = 1e15

/**
 * Counterexamples of the former `Math.ceil(Math.round(usd * 1e9) / 1e3)`, found by search: the first integer it did
 * not round-trip (4194304000005, at 2^22 USD), two whose reserved amount did not round-trip either (a settle named one
 * micro-dollar more than the reserve had held) and the top of the range (999999999.999999 USD became 1e15).
 */
const COUNTEREXAMPLES = [
  4_194_304_000_005,
  4_200_000_000_005,
  8_388_773_758_903,
  8_388_773_758_904,
  9_000_000_000_003,
  100_000_000_000_005,
  500_000_000_000_028,
  500_000_000_000_029,
  999_999_998_000_004,
  999_999_999_999_999
]

const micros = fc.oneof(
  fc.bigInt({ min: 0n, max: BigInt(MAX_MICROS) }).map(Number),
  // near powers of two, where a double's spacing changes
  fc.tuple(fc.integer({ min: 0, max: 49 }), fc.integer({ min: -1000, max: 1000 })).map(([k, d]) =>
    Math.min(MAX_MICROS, Math.max(0, 2 ** k * 1e6 + d))
  ),
  fc.constantFrom(...COUNTEREXAMPLES, 0, 1, MAX_MICROS)
)

describe("toMicros / fromMicros", () => {
  it("round-trip exactly for every whole number of micro-dollars from 0 to 1e9 USD (property)", () => {
    fc.assert(fc.property(micros, (m) => toMicros(fromMicros(m)) === m), { numRuns: 200_000 })
  })

  it("round-trip the known counterexamples and every integer in windows around them and at the ends", () => {
    for (const m of COUNTEREXAMPLES) assert.strictEqual(toMicros(fromMicros(m)), m, String(m))
    for (const start of [0, 4_194_303_900_000, 8_388_607_900_000, 500_000_000_000_000, MAX_MICROS - 200_000]) {
      for (let m = start; m <= Math.min(MAX_MICROS, start + 200_000); m++) {
        if (toMicros(fromMicros(m)) !== m) assert.fail(`toMicros(fromMicros(${m})) = ${toMicros(fromMicros(m))}`)
      }
    }
  })

  it("round up to the next micro-dollar, below half a nano-dollar of float noise, and are monotonic (property)", () => {
    const usd = fc.double({ min: 0, max: 1e9, noNaN: true })
    fc.assert(
      fc.property(usd, (x) => {
        const m = toMicros(x)
        // whole, not below x (but for noise under half a nano-dollar), and the micro-dollar below is below x
        return Number.isInteger(m) && x - fromMicros(m) < 5e-10 && (m === 0 || fromMicros(m - 1) < x)
      }),
      { numRuns: 100_000 }
    )
    fc.assert(fc.property(usd, usd, (a, b) => toMicros(Math.min(a, b)) <= toMicros(Math.max(a, b))), {
      numRuns: 100_000
    })
    assert.strictEqual(toMicros(0.1 + 0.2), 300_000)
    assert.strictEqual(toMicros(0.0000001), 1)
    assert.strictEqual(toMicros(0.0000010001), 1) // a tenth of a nano-dollar over: noise
    assert.strictEqual(toMicros(0.000001001), 2) // a nano-dollar over: the next micro-dollar
    assert.strictEqual(toMicros(1e9), MAX_MICROS)
  })
})

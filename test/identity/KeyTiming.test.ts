/**
 * Timing: no measurable difference between an unknown key and a wrong secret for a known id.
 * Tolerance (robust on a loaded 2-core machine): the medians of 10,000 validations each, measured interleaved
 * (unknown, wrong, unknown, …) so load drifts hit both alike, differ by at most 25% of the larger median + 2 µs.
 */
import { Effect, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { Keys, KeyStore } from "../../src/identity/index.ts"
import { PEPPER, user } from "./support.ts"

const median = (xs: Array<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

describe("Keys.validate timing", () => {
  it(
    "no measurable difference between unknown and wrong keys: medians of 10,000 validations each within 25% + 2 µs",
    async () => {
      const result = await Effect.runPromise(Effect.gen(function*() {
        const keys = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory()))
        const created = yield* keys.create({ principal: user("timing"), name: "t", scopes: [] })
        const real = Redacted.value(created.key)
        const flip = (c: string) => (c === "A" ? "B" : "A")
        const wrong = real.slice(0, -1) + flip(real.at(-1)!) // the known public id, a wrong secret
        const unknown = real.slice(0, 8) + flip(real[8]!) + real.slice(9) // an unknown public id, same length
        const time = (key: string) =>
          Effect.gen(function*() {
            const start = process.hrtime.bigint()
            yield* Effect.exit(keys.validate(key))
            return Number(process.hrtime.bigint() - start)
          })
        for (let i = 0; i < 1_000; i++) {
          yield* time(unknown)
          yield* time(wrong)
        } // warm-up
        const u: Array<number> = [], w: Array<number> = []
        for (let i = 0; i < 10_000; i++) {
          u.push(yield* time(unknown))
          w.push(yield* time(wrong))
        }
        return { unknown: median(u), wrong: median(w) }
      }))
      console.log(`Keys.validate median: unknown ${result.unknown} ns, wrong ${result.wrong} ns`)
      expect(Math.abs(result.unknown - result.wrong)).toBeLessThanOrEqual(
        0.25 * Math.max(result.unknown, result.wrong) + 2_000
      )
    },
    60_000
  )
})

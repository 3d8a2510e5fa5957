import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Audit, type AuditRecord, AuditReport, AuditStore } from "../../src/identity/index.ts"

const HOUR = 3_600_000

describe("AuditReport", () => {
  it.effect("export as JSON lines: one canonical object per entry; the exported slice re-verifies", () =>
    Effect.gen(function*() {
      const audit = yield* Audit
      for (let i = 0; i < 4; i++) {
        yield* audit.record({
          tenant: "t",
          actor: "a",
          action: "key.create",
          resource: `key/${i}`,
          status: "success",
          metadata: { n: i }
        })
      }
      const entries = yield* audit.query({ tenant: "t" })
      const text = AuditReport.exportJsonLines(entries)
      const lines = text.split("\n")
      assert.strictEqual(lines.length, 5)
      assert.strictEqual(lines[4], "")
      const parsed = lines.slice(0, 4).map((l) => JSON.parse(l) as AuditRecord)
      assert.deepStrictEqual(parsed, [...entries])
      assert.strictEqual(Audit.verifyChain(parsed)._tag, "Intact")
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(AuditStore.layerMemory())))))

  it.effect("compliance report: counts by action and outcome per period, key usage, access denials", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1, 23))
      const audit = yield* Audit
      const r = (action: string, status: "success" | "failure" | "denied", actor = "u1", keyId?: string) =>
        audit.record({
          tenant: "t",
          actor,
          action,
          resource: "r",
          status,
          ...(keyId !== undefined ? { metadata: { keyId } } : {})
        })
      yield* r("chat", "success", "u1", "k1")
      yield* r("chat", "denied", "u2", "k2")
      yield* TestClock.adjust(2 * HOUR) // next UTC day
      yield* r("chat", "success", "u1", "k1")
      yield* r("key.revoke", "denied", "u2")
      yield* r("key.revoke", "failure", "u1")
      const report = AuditReport.report(yield* audit.query({ tenant: "t" }))
      assert.strictEqual(report.entries, 5)
      assert.deepStrictEqual(report.periods.map((p) => [p.period, p.total]), [["2026-01-01T00:00:00.000Z", 2], [
        "2026-01-02T00:00:00.000Z",
        3
      ]])
      assert.deepStrictEqual(report.periods[1]!.byAction["key.revoke"], { success: 0, failure: 1, denied: 1 })
      assert.deepStrictEqual(report.keyUsage, { k1: 2, k2: 1 })
      assert.deepStrictEqual(report.denials, { total: 2, byActor: { u2: 2 }, byAction: { chat: 1, "key.revoke": 1 } })
      assert.strictEqual(AuditReport.report(yield* audit.query({ tenant: "t" }), { period: "month" }).periods.length, 1)
    }).pipe(Effect.provide(Audit.layer.pipe(Layer.provide(AuditStore.layerMemory())))))

  it("fuzz: report and export accept any entries; every entry is counted once; no throw", () => {
    const record = fc.record({
      seq: fc.nat(),
      at: fc.oneof(
        fc.integer({ min: -6.2e13, max: 2.5e14 }),
        fc.constantFrom(-8.64e15, 8.64e15, Infinity),
        fc.constant(Number.NaN)
      ),
      tenant: fc.string(),
      actor: fc.string(),
      action: fc.string(),
      resource: fc.string(),
      status: fc.constantFrom("success" as const, "failure" as const, "denied" as const),
      metadata: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null))),
      prevHash: fc.string(),
      hash: fc.string()
    })
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 30 }),
        fc.constantFrom("hour" as const, "day" as const, "month" as const),
        (entries, period) => {
          const report = AuditReport.report(entries, { period })
          const valid = entries.filter((e) =>
            AuditReport.periodStart(e.at, period) !== undefined && Number.isFinite(e.at)
          )
          assert.strictEqual(report.entries, valid.length)
          assert.strictEqual(report.periods.reduce((n, p) => n + p.total, 0), valid.length)
          assert.strictEqual(
            report.denials.total,
            valid.filter((e) => e.status === "denied").length
          )
          assert.strictEqual(AuditReport.exportJsonLines(entries).split("\n").length, entries.length + 1)
        }
      )
    )
  })
})

/**
 * Compliance views of the audit log: export as JSON lines and a compliance report, both over `Audit.query`.
 *
 * Rules:
 * - `exportJsonLines(entries)` gives one canonical JSON object per line (sorted keys, the stored fields including
 *   `seq`, `prevHash` and `hash`, so an exported slice can be re-verified with `verifyChain`), each line ending in
 *   `\n`;
 * - `report(entries, { period })` counts, per UTC period (`hour`, `day` — the default — or `month`), the entries by
 *   action and outcome (`success`, `failure`, `denied`); key usage (entries whose metadata carries a string
 *   `keyId`, counted per key id); and access denials (entries with status `denied`, per actor and per action).
 *   Entries whose time has no valid UTC period (not finite, or outside the Date range) are skipped. It only counts
 *   what it is given: scope it with the `AuditFilter` of the query (one tenant).
 *
 * Pure functions over `AuditRecord`s; the canonical form is the chain's (internal/AuditChain.ts).
 *
 * @since 0.1.0
 */
import type { AuditRecord, AuditStatus } from "./AuditEntry.ts"
import { canonicalJson } from "./internal/AuditChain.ts"

/** The length of a report period (UTC). */
export type ReportPeriod = "hour" | "day" | "month"

/** Counts of one period: by action, then by outcome. */
export interface PeriodCounts {
  /** ISO start of the period (UTC) */
  readonly period: string
  readonly total: number
  readonly byAction: Readonly<Record<string, Readonly<Record<AuditStatus, number>>>>
}

/** A compliance report over a set of audit entries. */
export interface ComplianceReport {
  readonly entries: number
  readonly periods: ReadonlyArray<PeriodCounts>
  /** entries per `metadata.keyId` */
  readonly keyUsage: Readonly<Record<string, number>>
  readonly denials: {
    readonly total: number
    readonly byActor: Readonly<Record<string, number>>
    readonly byAction: Readonly<Record<string, number>>
  }
}

/** One canonical JSON object per entry, one per line. */
export const exportJsonLines = (entries: ReadonlyArray<AuditRecord>): string =>
  entries.map((e) => `${canonicalJson(e)}\n`).join("")

/** The ISO start of the UTC period holding `at` (epoch ms); `undefined` when that start is not a valid date. */
export const periodStart = (at: number, period: ReportPeriod): string | undefined => {
  const d = new Date(at)
  const start = period === "month"
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
    : period === "day"
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours())
  return Number.isFinite(start) && Math.abs(start) <= 8.64e15 ? new Date(start).toISOString() : undefined
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1
}

/** Counts by action and outcome per period, key usage and access denials. Entries whose time has no valid period are skipped. */
export const report = (
  entries: ReadonlyArray<AuditRecord>,
  options: { readonly period?: ReportPeriod } = {}
): ComplianceReport => {
  const period = options.period ?? "day"
  const periods = new Map<string, { total: number; byAction: Map<string, Record<AuditStatus, number>> }>()
  const keyUsage: Record<string, number> = Object.create(null) as Record<string, number> // no prototype: ids are keys
  const byActor: Record<string, number> = Object.create(null) as Record<string, number>
  const deniedByAction: Record<string, number> = Object.create(null)
  let counted = 0
  let denials = 0
  for (const e of entries) {
    const p = Number.isFinite(e.at) ? periodStart(e.at, period) : undefined
    if (p === undefined) continue
    counted++
    const slot = periods.get(p) ?? { total: 0, byAction: new Map() }
    periods.set(p, slot)
    slot.total++
    const outcomes = slot.byAction.get(e.action) ?? { success: 0, failure: 0, denied: 0 }
    slot.byAction.set(e.action, outcomes)
    outcomes[e.status]++
    const keyId = e.metadata?.["keyId"]
    if (typeof keyId === "string") bump(keyUsage, keyId)
    if (e.status === "denied") {
      denials++
      bump(byActor, e.actor)
      bump(deniedByAction, e.action)
    }
  }
  return {
    entries: counted,
    periods: [...periods.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, slot]) => ({
      period: p,
      total: slot.total,
      byAction: Object.fromEntries(slot.byAction)
    })),
    keyUsage: { ...keyUsage },
    denials: { total: denials, byActor: { ...byActor }, byAction: { ...deniedByAction } }
  }
}

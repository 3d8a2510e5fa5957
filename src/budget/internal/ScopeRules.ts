/**
 * The per-scope rules shared by the in-process and PostgreSQL stores (the Redis store runs the same rules in Lua):
 * - periods roll forward only: a `now` in a later period than the stored start resets spend and alerts;
 * - alerts fire the `alertAt` fractions not yet fired this period — every one of them when the budget refused a
 *   reservation (`exhausted`), else those the spend reached.
 * @internal
 */
import { periodStart } from "../Budget.ts"
import type { StoreAlert, StoreSpec } from "./BudgetStore.ts"

/** The mutable part of a scope's state the rules read and advance. */
export interface ScopeState {
  readonly spec: StoreSpec
  start: number
  spent: number
  alerted: number
}

/** Rolls the scope's period forward to the one containing `now` (never backwards). */
export const rollPeriod = (s: ScopeState, now: number): void => {
  const start = periodStart(s.spec.period, now)
  if (start > s.start) {
    s.start = start
    s.spent = 0
    s.alerted = 0
  }
}

/** Appends to `out` (default: a new array) the alerts that fire now, and answers `out`. */
export const fireAlerts = (
  s: ScopeState,
  reason: StoreAlert["reason"],
  out: Array<StoreAlert> = []
): Array<StoreAlert> => {
  while (s.alerted < s.spec.alertAt.length) {
    const t = s.spec.alertAt[s.alerted] as number // alerted < length
    if (reason === "spend" && s.spent < t * s.spec.limit) break
    out.push({ scope: s.spec.scope, threshold: t, spent: s.spent, limit: s.spec.limit, reason })
    s.alerted++
  }
  return out
}

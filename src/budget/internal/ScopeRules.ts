/**
 * The per-scope rules shared by the in-process and PostgreSQL stores (the Redis store runs the same rules in Lua):
 * - periods roll forward only: a `now` in a later period than the stored start resets spend and alerts;
 * - the alert state is the highest fraction fired this period (`fired`, 0 when none): an alert fires for each
 *   fraction of `alertAt` above it — every one of them when the budget refused a reservation (`exhausted`), else
 *   those the spend reached — and `fired` becomes that fraction, so a fraction fires at most once per period;
 * - a changed spec keeps the state: a new `alertAt` is compared with the same `fired` (fractions at or below it do
 *   not fire this period, new ones above it fire when reached); a new limit re-bases it on the new limit, to the lower
 *   of `fired` and the highest fraction of the new `alertAt` the spend has already reached of the new limit;
 * - stores of an earlier version kept the state as an index into `alertAt` (`alerted`, how many fired); the stores
 *   write that index beside `fired` (the number of fractions at or below it), and read `fired` only while the two
 *   agree — a record without `fired`, or one whose `alerted` an earlier version wrote since, is read by its index.
 * @internal
 */
import { periodStart } from "../Budget.ts"
import type { StoreAlert, StoreSpec } from "./BudgetStore.ts"

/** The mutable part of a scope's state the rules read and advance. */
export interface ScopeState {
  spec: StoreSpec
  start: number
  spent: number
  /** the highest fraction of the limit fired this period (0: none) */
  fired: number
}

/** Rolls the scope's period forward to the one containing `now` (never backwards). */
export const rollPeriod = (s: ScopeState, now: number): void => {
  const start = periodStart(s.spec.period, now)
  if (start > s.start) {
    s.start = start
    s.spent = 0
    s.fired = 0
  }
}

/**
 * Appends to `out` the alerts that fire now (creating it on the first one) and answers it; `undefined` when none
 * fired and no `out` was given.
 */
export const fireAlerts = (
  s: ScopeState,
  reason: StoreAlert["reason"],
  out?: Array<StoreAlert>
): Array<StoreAlert> | undefined => {
  const alertAt = s.spec.alertAt
  for (let i = 0; i < alertAt.length; i++) {
    const t = alertAt[i] as number // i < length
    if (t <= s.fired) continue
    if (reason === "spend" && s.spent < t * s.spec.limit) break
    ;(out ??= []).push({ scope: s.spec.scope, threshold: t, spent: s.spent, limit: s.spec.limit, reason })
    s.fired = t
  }
  return out
}

/** The highest fraction of `spec.alertAt` that `spent` has reached of `spec.limit` (0: none). */
export const reachedFraction = (spec: StoreSpec, spent: number): number => {
  let reached = 0
  for (const t of spec.alertAt) if (spent >= t * spec.limit && t > reached) reached = t
  return reached
}

/**
 * Applies a changed spec (the state's holds already given back where lapsed): the period rolls forward by the new
 * spec, and a new limit re-bases the alert state.
 */
export const changeSpec = (s: ScopeState, spec: StoreSpec, now: number): void => {
  const limitChanged = s.spec.limit !== spec.limit
  s.spec = spec
  rollPeriod(s, now)
  if (limitChanged) s.fired = Math.min(s.fired, reachedFraction(spec, s.spent))
}

/** How many fractions of `alertAt` are at or below `fired`: the index an earlier version keeps as `alerted`. */
export const alertedIndex = (alertAt: ReadonlyArray<number>, fired: number): number => {
  let n = 0
  for (const t of alertAt) if (t <= fired) n++
  return n
}

/**
 * The alert state of a stored record: `fired` while its `alerted` agrees with it, else (a record of an earlier
 * version, or one an earlier version has written since) the fraction its index `alerted` names.
 */
export const firedOf = (alertAt: ReadonlyArray<number>, alerted: number, fired: number | undefined): number => {
  if (fired !== undefined && Number.isFinite(fired) && alertedIndex(alertAt, fired) === alerted) return fired
  const n = Math.min(alerted, alertAt.length)
  return n > 0 ? (alertAt[n - 1] as number) : 0 // 0 < n <= length
}

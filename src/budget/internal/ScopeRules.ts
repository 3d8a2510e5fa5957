/**
 * The alert rule shared by the in-process and PostgreSQL stores (the Redis store runs the same rule in Lua): fire
 * the `alertAt` fractions not yet fired this period — every one of them when the budget refused a reservation
 * (`exhausted`), else those the spend reached. @internal
 */
import type { StoreAlert, StoreSpec } from "./BudgetStore.ts"

/** The mutable part of a scope's state the rule reads and advances. */
export interface AlertState {
  readonly spec: StoreSpec
  readonly spent: number
  alerted: number
}

export const fireAlerts = (s: AlertState, reason: StoreAlert["reason"]): Array<StoreAlert> => {
  const out: Array<StoreAlert> = []
  while (s.alerted < s.spec.alertAt.length) {
    const t = s.spec.alertAt[s.alerted] as number // alerted < length
    if (reason === "spend" && s.spent < t * s.spec.limit) break
    out.push({ scope: s.spec.scope, threshold: t, spent: s.spent, limit: s.spec.limit, reason })
    s.alerted++
  }
  return out
}

/**
 * The values of the budget subsystem: a budget's definition (`BudgetSpec`), its state (`BudgetStatus`), a
 * reservation, and the rules for scopes, periods and amounts.
 *
 * - **Scopes** name who pays: `key:<id>`, `principal:<id>`, `tenant:<id>` or `project:<id>` (ids of 1–128
 *   characters of `[A-Za-z0-9_.:@-]`).
 * - **Periods** are calendar periods in UTC: `day` (from 00:00), `month` (from the 1st), or `total` (never resets).
 *   A period only rolls forward: a caller whose clock is behind the stored period start is counted in the stored
 *   period, never resets it.
 * - **Amounts** are USD, kept as whole micro-dollars (1e-6 USD) so every backend adds them exactly (Redis
 *   `HINCRBY`, PostgreSQL `bigint`); an amount is rounded up to the next micro-dollar, and a USD amount made of
 *   whole micro-dollars (what a reservation and a status report) converts back to exactly those micro-dollars.
 * - **Alerts** fire at the fractions of `alertAt` (default 0.5, 0.8 and 1.0) of the limit, each at most once per
 *   period and scope across every process: at a settlement whose spend reaches the fraction, and — for every
 *   fraction not yet fired — when a reservation is refused (the budget is exhausted). What a budget remembers is the
 *   highest fraction fired this period. A changed `alertAt` keeps it: fractions at or below it do not fire this
 *   period, fractions above it fire when the spend reaches them. A changed limit re-bases it on the new limit: it
 *   becomes the lower of the highest fraction fired and the highest fraction of `alertAt` the spend has already
 *   reached of the new limit. So a fraction the spend has not reached of the new limit fires when it does (once
 *   more in the period, if it fired under the old limit), and one that fired and that the spend has also passed of
 *   the new limit does not fire again this period. The same on every backend.
 * - **A change keeps the period's spend**; a budget changed to `total` reports `periodStart` 0 and keeps counting
 *   the spend since its last period start.
 */
import { Schema } from "effect"

/** The id part of a scope: 1–128 characters of `[A-Za-z0-9_.:@-]`. */
export const SCOPE_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/

/** A whole scope: `key:`, `principal:`, `tenant:` or `project:` and an id. */
export const SCOPE_PATTERN = new RegExp(`^(?:key|principal|tenant|project):${SCOPE_ID_PATTERN.source.slice(1)}`)

/** A budget scope: `key:…`, `principal:…`, `tenant:…` or `project:…`. */
export const BudgetScope = Schema.String.check(Schema.isPattern(SCOPE_PATTERN))
export type BudgetScope = typeof BudgetScope.Type

/** A budget period: `day` and `month` are UTC calendar periods; `total` never resets. */
export const BudgetPeriod = Schema.Literals(["day", "month", "total"])
export type BudgetPeriod = typeof BudgetPeriod.Type

const Usd = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1e9))
const Fraction = Schema.Finite.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1))

/** What `Budgets.set` takes. */
export const BudgetSpec = Schema.Struct({
  scope: BudgetScope,
  /** USD per period */
  limit: Usd,
  period: BudgetPeriod,
  /** fractions of the limit that raise an alert (default `[0.5, 0.8, 1]`), at most 8 */
  alertAt: Schema.optionalKey(Schema.Array(Fraction).check(Schema.isMaxLength(8)))
})
export type BudgetSpec = typeof BudgetSpec.Type

/** The default alert fractions. */
export const DEFAULT_ALERT_AT: ReadonlyArray<number> = [0.5, 0.8, 1]

/** A budget's state in its current period (USD). */
export interface BudgetStatus {
  readonly scope: string
  readonly limit: number
  readonly period: BudgetPeriod
  /** epoch ms of the current period's start (0 for `total`, also for a budget changed to `total`) */
  readonly periodStart: number
  readonly spent: number
  readonly reserved: number
  /** `limit - spent - reserved`, at least 0 */
  readonly remaining: number
  readonly alertAt: ReadonlyArray<number>
}

/** Money held on every budgeted scope of a call until it is settled or released (or it expires). */
export interface Reservation {
  readonly id: string
  /** the scopes that have a budget (the others were not charged) */
  readonly scopes: ReadonlyArray<string>
  /** USD held on each of `scopes` */
  readonly amount: number
  /** epoch ms after which the hold is released by the next operation on its scopes */
  readonly expiresAt: number
}

/** An alert: `scope`'s spend reached `threshold` × its limit (or the budget refused a reservation). */
export interface BudgetAlert {
  readonly scope: string
  readonly threshold: number
  readonly spent: number
  readonly limit: number
  /** `spend`: a settlement reached the threshold; `exhausted`: a reservation was refused */
  readonly reason: "spend" | "exhausted"
}

/**
 * Whole micro-dollars of `usd`, rounded up; a part below half a nano-dollar is float noise (`0.1 + 0.2` is 300,000
 * micro-dollars). Exact for every amount `fromMicros` answers: `toMicros(fromMicros(m)) === m` for each integer `m`
 * from 0 to 1e15 (1e9 USD), so a reservation's USD `amount` converts back to the very micro-dollars it holds.
 */
export const toMicros = (usd: number): number => {
  // rounded to micro-dollars, never through nano-dollars: from 2^22 USD (about $4.2M) doubles are nearly a
  // nano-dollar apart, so `usd * 1e9` could round to the nano-dollar above a whole micro-dollar and the ceiling then
  // added one (`fromMicros(4194304000005)` came back as 4194304000006). `usd * 1e6` stays within 1/8 of the true
  // product up to 1e15, and `usd - nearest / 1e6` is exact (or, below a micro-dollar, off by far less than the half
  // nano-dollar it is compared with)
  const nearest = Math.round(usd * 1e6)
  return usd - nearest / 1e6 >= 5e-10 ? nearest + 1 : nearest
}

/** USD of `micros`. */
export const fromMicros = (micros: number): number => micros / 1e6

/** The start of `period` containing `now` (epoch ms, UTC); 0 for `total`. The last month is memoised. */
export const periodStart = (period: BudgetPeriod, now: number): number => {
  switch (period) {
    case "day":
      return Math.floor(now / 86_400_000) * 86_400_000
    case "month": {
      if (now >= month.start && now < month.end) return month.start
      const d = new Date(now)
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
      month = { start, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) }
      return start
    }
    case "total":
      return 0
  }
}

let month = { start: 0, end: 0 }

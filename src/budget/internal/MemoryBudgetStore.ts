/**
 * The in-process budget store: one record per scope (spend, reserved, live holds) and one per open reservation,
 * updated synchronously, so every operation is atomic. Bounded: at most `maxBudgets` budgets (default 100,000) and
 * `maxReservations` open reservations (default 100,000); past either bound the operation fails with
 * `BudgetStoreError` rather than growing. @internal
 */
import { Effect } from "effect"
import { periodStart } from "../Budget.ts"
import { BudgetStoreError } from "../BudgetError.ts"
import type {
  BudgetStoreShape,
  ReserveOutcome,
  ReserveRequest,
  SettleRequest,
  StoreAlert,
  StoreSpec,
  StoreStatus
} from "./BudgetStore.ts"
import { fireAlerts, rollPeriod } from "./ScopeRules.ts"

export const DEFAULT_MAX_BUDGETS = 100_000
export const DEFAULT_MAX_RESERVATIONS = 100_000
const NO_ALERTS: ReadonlyArray<StoreAlert> = []

interface MemoryScope {
  spec: StoreSpec
  start: number
  spent: number
  reserved: number
  /** how many of `spec.alertAt` (sorted) fired this period */
  alerted: number
  /** live holds: reservation id → amount and expiry */
  readonly holds: Map<string, { readonly amount: number; readonly expiresAt: number }>
  nextExpiry: number
}

export const makeMemoryBudgetStore = (
  options: { readonly maxBudgets?: number; readonly maxReservations?: number } = {}
): BudgetStoreShape => {
  const maxBudgets = options.maxBudgets ?? DEFAULT_MAX_BUDGETS
  const maxReservations = options.maxReservations ?? DEFAULT_MAX_RESERVATIONS
  const scopes = new Map<string, MemoryScope>()
  /** open reservations (settle/release are once per id) */
  const open = new Map<string, number>()

  /** Expires lapsed holds and rolls the period forward: the normal form every operation starts from. */
  const touch = (s: MemoryScope, now: number): void => {
    if (now >= s.nextExpiry) {
      let next = Number.POSITIVE_INFINITY
      for (const [id, hold] of s.holds) {
        if (hold.expiresAt <= now) {
          s.holds.delete(id)
          s.reserved -= hold.amount
        } else if (hold.expiresAt < next) next = hold.expiresAt
      }
      s.nextExpiry = next
    }
    rollPeriod(s, now)
  }
  const sweepOpen = (now: number): void => {
    // reservations past their expiry by a day can no longer be settled: forget them
    for (const [id, expiresAt] of open) if (expiresAt + 86_400_000 <= now) open.delete(id)
  }
  const status = (s: MemoryScope): StoreStatus => ({
    ...s.spec,
    periodStart: s.start,
    spent: s.spent,
    reserved: s.reserved
  })
  const reserveSync = (request: ReserveRequest): ReserveOutcome | BudgetStoreError => {
    if (open.size >= maxReservations) sweepOpen(request.now)
    if (open.size >= maxReservations) {
      return new BudgetStoreError({
        operation: "reserve",
        detail: `at most ${maxReservations} open reservations in memory`
      })
    }
    const charged: Array<MemoryScope> = []
    for (const scope of request.scopes) {
      const s = scopes.get(scope)
      if (s === undefined) continue
      touch(s, request.now)
      if (s.spent + s.reserved + request.amount > s.spec.limit) {
        return {
          _tag: "Refused",
          scope,
          limit: s.spec.limit,
          spent: s.spent,
          reserved: s.reserved,
          alerts: fireAlerts(s, "exhausted")
        }
      }
      charged.push(s)
    }
    const hold = { amount: request.amount, expiresAt: request.expiresAt }
    const names: Array<string> = []
    for (const s of charged) {
      s.reserved += request.amount
      s.holds.set(request.id, hold)
      if (request.expiresAt < s.nextExpiry) s.nextExpiry = request.expiresAt
      names.push(s.spec.scope)
    }
    open.set(request.id, request.expiresAt)
    return { _tag: "Reserved", scopes: names }
  }
  const settleSync = (request: SettleRequest): ReadonlyArray<StoreAlert> => {
    if (!open.delete(request.id)) return NO_ALERTS
    let alerts: Array<StoreAlert> | undefined
    for (const scope of request.scopes) {
      const s = scopes.get(scope)
      if (s === undefined) continue
      touch(s, request.now)
      const hold = s.holds.get(request.id)
      if (hold !== undefined) {
        s.holds.delete(request.id)
        s.reserved -= hold.amount
      }
      s.spent += request.actual
      if (s.alerted < s.spec.alertAt.length) alerts = fireAlerts(s, "spend", alerts)
    }
    return alerts === undefined || alerts.length === 0 ? NO_ALERTS : alerts
  }
  return {
    set: (spec, now) =>
      Effect.suspend(() => {
        const current = scopes.get(spec.scope)
        if (current !== undefined) {
          touch(current, now)
          current.spec = spec
          current.alerted = Math.min(current.alerted, spec.alertAt.length)
          return Effect.void
        }
        if (scopes.size >= maxBudgets) {
          return Effect.fail(
            new BudgetStoreError({ operation: "set", detail: `at most ${maxBudgets} budgets in memory` })
          )
        }
        scopes.set(spec.scope, {
          spec,
          start: periodStart(spec.period, now),
          spent: 0,
          reserved: 0,
          alerted: 0,
          holds: new Map(),
          nextExpiry: Number.POSITIVE_INFINITY
        })
        return Effect.void
      }),
    get: (scope, now) =>
      Effect.sync(() => {
        const s = scopes.get(scope)
        if (s === undefined) return undefined
        touch(s, now)
        return status(s)
      }),
    remove: (scope) => Effect.sync(() => void scopes.delete(scope)),
    reserve: (request) =>
      Effect.suspend((): Effect.Effect<ReserveOutcome, BudgetStoreError> => {
        const outcome = reserveSync(request)
        return outcome instanceof BudgetStoreError ? Effect.fail(outcome) : Effect.succeed(outcome)
      }),
    settle: (request) => Effect.sync(() => settleSync(request)),
    reserveSync,
    settleSync,
    release: (request) =>
      Effect.sync(() => {
        if (!open.delete(request.id)) return
        for (const scope of request.scopes) {
          const s = scopes.get(scope)
          if (s === undefined) continue
          const hold = s.holds.get(request.id)
          if (hold !== undefined) {
            s.holds.delete(request.id)
            s.reserved -= hold.amount
          }
          touch(s, request.now)
        }
      })
  }
}

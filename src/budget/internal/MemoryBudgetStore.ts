/**
 * The in-process budget store: one record per scope (spend, reserved) and one per open reservation (its amount,
 * expiry and the scopes it holds), with live holds in a heap by expiry; updated synchronously, so every operation is
 * atomic. Settle and release end the hold recorded under the reservation's id (its own amount), and follow the
 * reservation life of `BudgetStore.ts` by the callers' clock: a settle after the hold expired still charges, one
 * from `expiresAt + LATE_SETTLE_MS` on does nothing (as on Redis and PostgreSQL), whether or not the record has been
 * swept yet. Bounded: at most `maxBudgets` budgets (default 100,000) and `maxReservations` open reservations
 * (default 100,000); past either bound the operation fails with `BudgetStoreError` rather than growing. @internal
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
import { LATE_SETTLE_MS } from "./BudgetStore.ts"
import { changeSpec, fireAlerts, rollPeriod } from "./ScopeRules.ts"

export const DEFAULT_MAX_BUDGETS = 100_000
export const DEFAULT_MAX_RESERVATIONS = 100_000
const NO_ALERTS: ReadonlyArray<StoreAlert> = []

interface MemoryScope {
  spec: StoreSpec
  start: number
  spent: number
  reserved: number
  /** the highest fraction of the limit fired this period (see ScopeRules) */
  fired: number
}

/** An open reservation: what it holds on which scope records, until it is settled, released or expires. */
interface Hold {
  readonly amount: number
  readonly expiresAt: number
  /** the scope records it holds `amount` on (emptied when the hold ends) */
  charged: ReadonlyArray<MemoryScope>
}

const NOTHING: ReadonlyArray<MemoryScope> = []

export const makeMemoryBudgetStore = (
  options: { readonly maxBudgets?: number; readonly maxReservations?: number } = {}
): BudgetStoreShape & { readonly heapEntries: () => number } => {
  const maxBudgets = options.maxBudgets ?? DEFAULT_MAX_BUDGETS
  const maxReservations = options.maxReservations ?? DEFAULT_MAX_RESERVATIONS
  const scopes = new Map<string, MemoryScope>()
  /**
   * open reservations by id (settle and release are once per id); an expired one is settled late for
   * `LATE_SETTLE_MS`, then forgotten (swept when the map is full, and ignored by `finish` until then)
   */
  const open = new Map<string, Hold>()
  /**
   * Live holds by expiry, a binary min-heap with lazy deletion: a settled or released hold stays until it reaches
   * the top or the heap is rebuilt from the live ones (when it is over twice their number), so the heap is bounded
   * by the open reservations and each operation costs O(1) amortised (O(log n) for a ttl shorter than an earlier one).
   */
  const heap: Array<Hold> = []
  let live = 0

  const siftUp = (i: number): void => {
    const h = heap[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p]!
      if (parent.expiresAt <= h.expiresAt) break
      heap[i] = parent
      i = p
    }
    heap[i] = h
  }
  const siftDown = (i: number): void => {
    const n = heap.length
    const h = heap[i]!
    for (;;) {
      let c = 2 * i + 1
      if (c >= n) break
      if (c + 1 < n && heap[c + 1]!.expiresAt < heap[c]!.expiresAt) c++
      const child = heap[c]!
      if (child.expiresAt >= h.expiresAt) break
      heap[i] = child
      i = c
    }
    heap[i] = h
  }
  const popTop = (): void => {
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      siftDown(0)
    }
  }
  /** Ends a hold: gives its amount back on every scope it was charged on. */
  const endHold = (hold: Hold): void => {
    for (const s of hold.charged) s.reserved -= hold.amount
    hold.charged = NOTHING
    live--
  }
  /** Expires lapsed holds (the normal form every operation starts from) and keeps the heap within bounds. */
  const expire = (now: number): void => {
    while (heap.length > 0) {
      const top = heap[0]!
      if (top.charged !== NOTHING && top.expiresAt > now) break
      if (top.charged !== NOTHING) endHold(top)
      popTop()
    }
    if (heap.length > 2 * live + 64) {
      let k = 0
      for (const h of heap) if (h.charged !== NOTHING) heap[k++] = h
      heap.length = k
      for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i)
    }
  }
  const sweepOpen = (now: number): void => {
    // reservations past their expiry by LATE_SETTLE_MS can no longer be settled: forget them
    for (const [id, hold] of open) if (hold.expiresAt + LATE_SETTLE_MS <= now) open.delete(id)
  }
  const status = (s: MemoryScope): StoreStatus => ({
    ...s.spec,
    periodStart: s.spec.period === "total" ? 0 : s.start,
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
    expire(request.now)
    const charged: Array<MemoryScope> = []
    for (const scope of request.scopes) {
      const s = scopes.get(scope)
      if (s === undefined) continue
      rollPeriod(s, request.now)
      if (s.spent + s.reserved + request.amount > s.spec.limit) {
        return {
          _tag: "Refused",
          scope,
          limit: s.spec.limit,
          spent: s.spent,
          reserved: s.reserved,
          alerts: fireAlerts(s, "exhausted") ?? NO_ALERTS
        }
      }
      charged.push(s)
    }
    const names: Array<string> = []
    for (const s of charged) {
      s.reserved += request.amount
      names.push(s.spec.scope)
    }
    const hold: Hold = { amount: request.amount, expiresAt: request.expiresAt, charged }
    open.set(request.id, hold)
    if (charged.length > 0) {
      live++
      heap.push(hold)
      siftUp(heap.length - 1)
    } else hold.charged = NOTHING
    return { _tag: "Reserved", scopes: names }
  }
  /**
   * Ends the hold of `request.id` once; true when the reservation may still be settled (it was open and is not yet
   * `LATE_SETTLE_MS` past its expiry), so the caller charges the spend.
   */
  const finish = (request: SettleRequest): boolean => {
    const hold = open.get(request.id)
    if (hold === undefined) return false
    open.delete(request.id)
    expire(request.now)
    if (hold.charged !== NOTHING) endHold(hold)
    // forgotten on Redis (its marker's deadline) and PostgreSQL (its row's) by now: nothing to settle
    return request.now < hold.expiresAt + LATE_SETTLE_MS
  }
  const settleSync = (request: SettleRequest): ReadonlyArray<StoreAlert> => {
    if (!finish(request)) return NO_ALERTS
    let alerts: Array<StoreAlert> | undefined
    for (const scope of request.scopes) {
      const s = scopes.get(scope)
      if (s === undefined) continue
      rollPeriod(s, request.now)
      s.spent += request.actual
      // fireAlerts runs only while a fraction above the highest fired one is left (alertAt is sorted)
      const alertAt = s.spec.alertAt
      if (alertAt.length > 0 && (alertAt[alertAt.length - 1] as number) > s.fired) {
        alerts = fireAlerts(s, "spend", alerts)
      }
    }
    return alerts === undefined ? NO_ALERTS : alerts
  }
  return {
    set: (spec, now) =>
      Effect.suspend(() => {
        const current = scopes.get(spec.scope)
        if (current !== undefined) {
          expire(now)
          // the period rolls by the new spec and a new limit re-bases the alerts, as on Redis and PostgreSQL
          changeSpec(current, spec, now)
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
          fired: 0
        })
        return Effect.void
      }),
    get: (scope, now) =>
      Effect.sync(() => {
        const s = scopes.get(scope)
        if (s === undefined) return undefined
        expire(now)
        rollPeriod(s, now)
        return status(s)
      }),
    remove: (scope) => Effect.sync(() => void scopes.delete(scope)),
    scopes: (limit) => Effect.sync(() => [...scopes.keys()].sort().slice(0, limit)),
    reserve: (request) =>
      Effect.suspend((): Effect.Effect<ReserveOutcome, BudgetStoreError> => {
        const outcome = reserveSync(request)
        return outcome instanceof BudgetStoreError ? Effect.fail(outcome) : Effect.succeed(outcome)
      }),
    settle: (request) => Effect.sync(() => settleSync(request)),
    reserveSync,
    /** entries in the expiry heap, live or not (for the bound's test) */
    heapEntries: () => heap.length,
    settleSync,
    release: (request) =>
      Effect.sync(() => {
        if (!finish({ ...request, actual: 0 })) return
        for (const scope of request.scopes) {
          const s = scopes.get(scope)
          if (s !== undefined) rollPeriod(s, request.now)
        }
      })
  }
}

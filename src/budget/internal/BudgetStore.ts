/**
 * The contract every budget backend implements, in whole micro-dollars. Each operation is atomic on its backend
 * (memory: synchronous; Redis: one Lua script; PostgreSQL: one transaction), so concurrent callers in any number of
 * processes see one order of reservations and settlements.
 *
 * A reservation's life, the same on every backend, by the callers' clocks:
 * - until its expiry, settle charges `actual` and gives the hold back; release gives it back;
 * - after its expiry (the hold given back by the next operation on its scopes) and for `LATE_SETTLE_MS` more, a
 *   late settle still charges `actual` (the money was spent) and gives nothing back twice; a release does nothing
 *   more;
 * - from `expiresAt + LATE_SETTLE_MS` on, the reservation is forgotten: settle and release do nothing;
 * - at every stage only the first settle or release of an id takes effect.
 * Settle and release end the hold each backend recorded at reserve (its own amount, by reservation id), never one
 * the request describes: a `SettleRequest`'s `amount` serves only Redis markers written by an earlier version.
 * @internal
 */
import type { Effect } from "effect"
import type { BudgetPeriod } from "../Budget.ts"
import type { BudgetStoreError } from "../BudgetError.ts"

/** How long past its expiry a reservation can still be settled (a day); after that it is forgotten. */
export const LATE_SETTLE_MS = 86_400_000

export interface StoreSpec {
  readonly scope: string
  readonly limit: number
  readonly period: BudgetPeriod
  readonly alertAt: ReadonlyArray<number>
}

export interface StoreStatus extends StoreSpec {
  readonly periodStart: number
  readonly spent: number
  readonly reserved: number
}

export interface StoreAlert {
  readonly scope: string
  readonly threshold: number
  readonly spent: number
  readonly limit: number
  readonly reason: "spend" | "exhausted"
}

export type ReserveOutcome =
  | { readonly _tag: "Reserved"; readonly scopes: ReadonlyArray<string> }
  | {
    readonly _tag: "Refused"
    readonly scope: string
    readonly limit: number
    readonly spent: number
    readonly reserved: number
    readonly alerts: ReadonlyArray<StoreAlert>
  }

export interface ReserveRequest {
  readonly id: string
  readonly scopes: ReadonlyArray<string>
  readonly amount: number
  readonly expiresAt: number
  readonly now: number
}

export interface SettleRequest {
  readonly id: string
  readonly scopes: ReadonlyArray<string>
  readonly amount: number
  /** the actual cost; 0 with `release` */
  readonly actual: number
  readonly now: number
}

export interface BudgetStoreShape {
  readonly set: (spec: StoreSpec, now: number) => Effect.Effect<void, BudgetStoreError>
  readonly get: (scope: string, now: number) => Effect.Effect<StoreStatus | undefined, BudgetStoreError>
  readonly remove: (scope: string) => Effect.Effect<void, BudgetStoreError>
  /** The scopes that have a budget, in order, at most `limit` of them. */
  readonly scopes: (limit: number) => Effect.Effect<ReadonlyArray<string>, BudgetStoreError>
  /** All or none: holds `amount` on every budgeted scope, or refuses naming the first scope that cannot hold it. */
  readonly reserve: (request: ReserveRequest) => Effect.Effect<ReserveOutcome, BudgetStoreError>
  /**
   * Once per reservation id (later calls do nothing): releases the hold and adds `actual` to the spend; nothing
   * from `expiresAt + LATE_SETTLE_MS` on.
   */
  readonly settle: (request: SettleRequest) => Effect.Effect<ReadonlyArray<StoreAlert>, BudgetStoreError>
  /** Once per reservation id: releases the hold, spends nothing. */
  readonly release: (request: Omit<SettleRequest, "actual">) => Effect.Effect<void, BudgetStoreError>
  /**
   * A backend that decides at once (memory) may also offer `reserve` and `settle` as plain functions: the same
   * operation, answered synchronously (a failure is returned, not thrown), so `Budgets` runs a whole reserve or
   * settle as one Effect step. Each must do exactly what its Effect form does (the memory store's Effect forms are
   * these functions wrapped).
   */
  readonly reserveSync?: (request: ReserveRequest) => ReserveOutcome | BudgetStoreError
  readonly settleSync?: (request: SettleRequest) => ReadonlyArray<StoreAlert>
}

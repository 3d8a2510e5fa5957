/**
 * Budgets that cannot be overspent: spend limits per key, principal, tenant or project, enforced by reserving
 * before a call and settling after it, atomically across every scope that applies and every process.
 *
 * The rules:
 * - **Reserve before, settle after.** `reserve` holds an amount (the call's estimated maximum cost: its counted
 *   prompt tokens at the input price plus `max_tokens` at the output price) on every scope of the call that has a
 *   budget — all or none: if one scope cannot hold it (`spent + reserved + amount > limit`) nothing is held and the
 *   call fails with `BudgetExceeded` before any provider is asked. `settle` then charges the actual cost and gives
 *   the rest back; `release` (a failure, an interruption) gives everything back. Settle and release take effect
 *   once per reservation; a second call does nothing.
 * - **Settled spend never passes the limit** when each call's actual cost is at most what it reserved (the
 *   estimate is a maximum); an actual cost above its reservation is still charged in full (the money was spent)
 *   and the next reservations are refused.
 * - **A reservation that is never settled expires** (a killed process): after `ttl` (default 15 minutes, longer
 *   than a call's deadline; at most 30 days, `MAX_RESERVATION_TTL`, so never infinite; kept in whole milliseconds,
 *   a fraction rounded up) its hold is released by the next operation on its scopes. A longer or infinite `ttl`
 *   fails with `InvalidOptions` (path `ttl`) before the store is asked, as a layer's default does when it is built.
 *   A settle that comes later still charges its actual cost (the money was spent; the hold is not given back twice)
 *   until a day past the expiry; from then on the reservation is forgotten and settle and release do nothing.
 *   Settle and release end what the store holds under the reservation's id, to the micro-dollar, on every backend.
 * - **Periods** are UTC days or months (or `total`), rolling forward only; **alerts** fire at the fractions of
 *   `alertAt` (default 0.5, 0.8, 1) once per period and scope across all processes (also when `alertAt` or the
 *   limit changes: see `Budget.ts`), as `troupe.budget.alert` telemetry events and, with an `audit` log, audit
 *   entries. The gauge `troupe_budget_used_ratio` (attribute `scope`) is the spend over the limit as of the scope's
 *   last alert or `get` (what the alert rules read).
 *
 * Backends: `layerMemory` (default, bounded), `layerRedis` (one Lua script per reserve / settle / release) and
 * `layerPostgres` (one transaction each), behind one conformance suite. Hand-rolled: effect has no budget or
 * reservation primitive (its `RateLimiter` admits counts per window and cannot hold and settle an amount).
 */
import {
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  FiberSet,
  Layer,
  Metric,
  Option,
  Result,
  Schema,
  type Scope
} from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import type { AuditShape } from "../identity/Audit.ts"
import * as InlineEffect from "../internal/InlineEffect.ts"
import type { InvalidOptions } from "../runtime/index.ts"
import * as Options from "../runtime/internal/Options.ts"
import { Events, TelemetryHub, type TelemetryHubShape } from "../telemetry/index.ts"
import type { BudgetAlert, BudgetStatus, Reservation } from "./Budget.ts"
import { BudgetScope, BudgetSpec, DEFAULT_ALERT_AT, fromMicros, toMicros } from "./Budget.ts"
import { BudgetExceeded, BudgetStoreError } from "./BudgetError.ts"
import type { BudgetStoreShape, ReserveOutcome, StoreAlert } from "./internal/BudgetStore.ts"
import { isPlainReserve, MAX_SCOPES } from "./internal/FastReserve.ts"
import { makeMemoryBudgetStore } from "./internal/MemoryBudgetStore.ts"
import { makePostgresBudgetStore } from "./internal/PostgresBudgetStore.ts"
import { makeRedisBudgetStore } from "./internal/RedisBudgetStore.ts"

/** What `reserve` takes. */
export interface ReserveInput {
  /** the scopes of the call (those without a budget are not charged) */
  readonly scopes: ReadonlyArray<string>
  /** USD to hold: the call's estimated maximum cost */
  readonly amount: number
  /** how long the hold lives unless settled (default 15 minutes, at most 30 days; whole milliseconds, rounded up) */
  readonly ttl?: Duration.Input
}

/** The budget service. */
export interface BudgetsShape {
  /**
   * Sets (or changes) a budget; a change keeps the period's spend and its alerts (a new limit re-bases the alerts,
   * see `Budget.ts`). Fails with `InvalidOptions` for a bad spec and `BudgetStoreError` when the store fails or is
   * full.
   */
  readonly set: (spec: BudgetSpec) => Effect.Effect<void, InvalidOptions | BudgetStoreError>
  /**
   * A budget's state in its current period; `None` without one. `InvalidOptions` for a malformed scope. Fails with
   * `BudgetStoreError` when the Redis or PostgreSQL store fails the read (the memory store never fails it).
   */
  readonly get: (scope: string) => Effect.Effect<Option.Option<BudgetStatus>, InvalidOptions | BudgetStoreError>
  /**
   * Removes a budget (its scope is no longer limited). Fails with `InvalidOptions` when `scope` is not a budget
   * scope (`tenant:acme`, `key:k_123`, …); with `BudgetStoreError` when the Redis or PostgreSQL store fails the
   * delete (the memory store never fails it).
   */
  readonly remove: (scope: string) => Effect.Effect<void, InvalidOptions | BudgetStoreError>
  /**
   * The budgets in their current periods, by scope (at most `limit`, default 100). Fails with `InvalidOptions` when
   * `limit` is not an integer from 1 to 1,000; with `BudgetStoreError` when the Redis or PostgreSQL store fails a read.
   */
  readonly list: (
    options?: { readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<BudgetStatus>, InvalidOptions | BudgetStoreError>
  /**
   * Holds `amount` on every budgeted scope, all or none. Fails with `BudgetExceeded` (the first scope that cannot
   * hold it), `InvalidOptions` (a malformed scope or amount) or `BudgetStoreError`.
   */
  readonly reserve: (
    input: ReserveInput
  ) => Effect.Effect<Reservation, BudgetExceeded | InvalidOptions | BudgetStoreError>
  /**
   * Charges `actual` USD and gives the rest of the hold back (once per reservation); returns the alerts it fired.
   * An `actual` that is not a number in [0, 1e9] is charged as the whole reservation, never an error. Fails with
   * `BudgetStoreError` when the Redis or PostgreSQL store fails the settle (the memory store never fails it).
   */
  readonly settle: (
    reservation: Reservation,
    actual: number
  ) => Effect.Effect<ReadonlyArray<BudgetAlert>, BudgetStoreError>
  /**
   * Gives the whole hold back (once per reservation). Fails with `BudgetStoreError` when the Redis or PostgreSQL
   * store fails the release (the memory store never fails it; an unreleased hold still expires after its `ttl`).
   */
  readonly release: (reservation: Reservation) => Effect.Effect<void, BudgetStoreError>
  /**
   * Runs `effect` under a reservation: reserve `amount`, run, settle at `actual(result)`; on failure or
   * interruption, release. Fails with `BudgetExceeded` before `effect` runs when a scope cannot hold `amount`.
   * Fails, also before `effect` runs, with `InvalidOptions` when a scope is malformed, there are more than 16
   * scopes, `amount` is not a finite number in [0, 1e9] or `ttl` is not a duration of at most 30 days, and with
   * `BudgetStoreError` when the store fails the reservation (or the memory store has 100,000 open ones); then with
   * `effect`'s `E`. A failing settle or release afterwards is ignored (the hold expires after its `ttl`).
   */
  readonly withBudget: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options: ReserveInput & { readonly actual: (a: A) => number }
  ) => Effect.Effect<A, E | BudgetExceeded | InvalidOptions | BudgetStoreError, R>
}

/** Options of every budget layer. */
export interface BudgetsOptions {
  /** default hold lifetime (15 minutes) */
  readonly ttl?: Duration.Input
  /** where alerts are also recorded as audit entries */
  readonly audit?: AuditShape
  /**
   * How `settle` waits on a Redis or PostgreSQL store (the memory store always settles at once):
   * - `"await"` (default): `settle` completes when the store has applied it, with the alerts it fired, and fails with
   *   `BudgetStoreError` when the store fails;
   * - `"background"`: `settle` sends the settlement at once and returns without waiting for the reply (no alerts in
   *   its result; they are still emitted and audited when the reply comes). On Redis the settlement is on the wire
   *   before `settle` returns, so this process's next operation on the same connection runs after it. A failed
   *   background settle is logged and its hold expires after its `ttl`, as a failed settle under `withBudget` does.
   *   At most 10,000 settlements wait in the background; past that `settle` waits as with `"await"`. Closing the
   *   layer waits up to 5 seconds for the ones in flight.
   */
  readonly settle?: "await" | "background"
}

/** Most settlements in flight in the background before `settle` waits (`settle: "background"`). */
export const MAX_BACKGROUND_SETTLES = 10_000

/** Default lifetime of an unsettled hold. */
export const DEFAULT_RESERVATION_TTL: Duration.Duration = Duration.minutes(15)

/** The longest `ttl` a reservation (or a layer's default) may have: 30 days. */
export const MAX_RESERVATION_TTL: Duration.Duration = Duration.days(30)

const MAX_TTL_MS = Duration.toMillis(MAX_RESERVATION_TTL)

/** A hold's lifetime: a duration of at most `MAX_RESERVATION_TTL` (so never infinite). */
const TtlInput = Options.DurationInput.check(
  Schema.makeFilter((d: Duration.Input) =>
    Duration.toMillis(Duration.fromInputUnsafe(d)) <= MAX_TTL_MS || "a duration of at most 30 days"
  )
)

/** A valid ttl in whole milliseconds, rounded up (at least 1): every store keeps times as integers. */
const ttlMillisOf = (ttl: Duration.Input): number =>
  Math.max(1, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(ttl))))

const ReserveSchema = Schema.Struct({
  scopes: Schema.Array(BudgetScope).check(Schema.isMaxLength(MAX_SCOPES)),
  amount: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1e9)),
  ttl: Schema.optionalKey(TtlInput)
})

const ListSchema = Schema.Struct({
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
})

const usedGauge = Metric.gauge("troupe_budget_used_ratio", {
  description: "a budget's spend over its limit in the current period, as of its last threshold alert or status read"
})
/** Sets `troupe_budget_used_ratio{scope}` (series exist only for budgets that were set, a bounded table). */
const usedRatio = (scope: string, spent: number, limit: number): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(usedGauge, { scope }), limit > 0 ? spent / limit : 1)

const usdAlert = (a: StoreAlert): BudgetAlert => ({ ...a, spent: fromMicros(a.spent), limit: fromMicros(a.limit) })

/** Builds the service over a store. */
const make = (
  store: BudgetStoreShape,
  clock: Clock.Clock,
  options: BudgetsOptions & {
    readonly telemetry?: TelemetryHubShape
    /** forks a settlement (settle: "background"): started at once, awaited when the layer closes */
    readonly background?: (effect: Effect.Effect<unknown>) => void
  } = {}
): BudgetsShape => {
  const ttlMillis = ttlMillisOf(options.ttl ?? DEFAULT_RESERVATION_TTL)
  const hub = options.telemetry
  const audit = options.audit
  let counter = 0
  const prefix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  const nextId = () => `${prefix}-${(counter++).toString(36)}`
  const noAlerts: Effect.Effect<ReadonlyArray<BudgetAlert>> = Exit.succeed([])
  const announce = (alerts: ReadonlyArray<StoreAlert>): Effect.Effect<ReadonlyArray<BudgetAlert>> => {
    if (alerts.length === 0) return noAlerts
    const out = alerts.map(usdAlert)
    return Effect.as(
      Effect.forEach(out, (a) =>
        Effect.gen(function*() {
          yield* usedRatio(a.scope, a.spent, a.limit)
          if (hub !== undefined) {
            yield* hub.emit(Events.budgetAlert, { threshold: a.threshold, spent: a.spent, limit: a.limit }, {
              scope: a.scope,
              reason: a.reason
            })
          }
          if (audit !== undefined) {
            const tenant = a.scope.startsWith("tenant:") ? a.scope.slice(7) : "budgets"
            yield* Effect.ignore(audit.record({
              tenant,
              actor: "troupe:budgets",
              action: "budget.alert",
              resource: a.scope,
              status: a.reason === "exhausted" ? "denied" : "success",
              metadata: { threshold: a.threshold, spent: a.spent, limit: a.limit, reason: a.reason }
            }))
          }
        }), { discard: true }),
      out
    )
  }
  const reserveSync = store.reserveSync
  const settleSync = store.settleSync
  const background = options.background
  let inBackground = 0
  const checkScope = (scope: string) => Effect.fromResult(Options.validate(BudgetScope, scope, "budget scope", "scope"))
  const refused = (
    outcome: Exclude<ReserveOutcome, { readonly _tag: "Reserved" }>,
    amount: number
  ): Effect.Effect<never, BudgetExceeded> =>
    Effect.andThen(
      announce(outcome.alerts),
      Effect.fail(
        new BudgetExceeded({
          scope: outcome.scope,
          limit: fromMicros(outcome.limit),
          spent: fromMicros(outcome.spent),
          reserved: fromMicros(outcome.reserved),
          requested: fromMicros(amount)
        })
      )
    )
  // `reserve` and `settle` are InlineEffects: on the memory store (which decides at once) each completes
  // synchronously under `yield*`, as the rate limiter's `check` does; on Redis or PostgreSQL they are ordinary
  // effects around the store's round trip. Time is read from the layer's `Clock` (a `TestClock` in tests).
  const reserveNow = (
    input: ReserveInput
  ): Effect.Effect<Reservation, BudgetExceeded | InvalidOptions | BudgetStoreError> => {
    // the common input skips the Schema decoder (FastReserve, property-tested against it)
    let checked: { readonly scopes: ReadonlyArray<string>; readonly amount: number; readonly ttl?: Duration.Input }
    if (isPlainReserve(input)) {
      checked = input
    } else {
      const decoded = Options.validate(ReserveSchema, input, "budget reservation")
      if (Result.isFailure(decoded)) return Exit.fail(decoded.failure)
      checked = decoded.success
    }
    const ttl = "ttl" in checked && checked.ttl !== undefined ? ttlMillisOf(checked.ttl) : ttlMillis
    const amount = toMicros(checked.amount)
    const given = checked.scopes
    // duplicates are charged once; two scopes (the gateway's usual key + tenant) skip the Set
    const scopes = given.length < 2
      ? given
      : given.length === 2
      ? (given[0] === given[1] ? [given[0]!] : given)
      : [...new Set(given)]
    const now = clock.currentTimeMillisUnsafe()
    const id = nextId()
    // whole milliseconds (the ttl is): every store keeps times as integers
    const expiresAt = Math.ceil(now) + ttl
    const request = { id, scopes, amount, expiresAt, now }
    // a store that decides at once (memory): the whole reservation is this one step
    if (reserveSync !== undefined) {
      const outcome = reserveSync(request)
      if (outcome instanceof BudgetStoreError) return Exit.fail(outcome)
      return outcome._tag === "Reserved"
        ? Exit.succeed({ id, scopes: outcome.scopes, amount: fromMicros(amount), expiresAt })
        : refused(outcome, amount)
    }
    return Effect.flatMap(store.reserve(request), (outcome) =>
      outcome._tag === "Reserved"
        ? Exit.succeed({ id, scopes: outcome.scopes, amount: fromMicros(amount), expiresAt })
        : refused(outcome, amount))
  }
  const settleNow = (
    reservation: Reservation,
    actual: number
  ): Effect.Effect<ReadonlyArray<BudgetAlert>, BudgetStoreError> => {
    // a hostile or broken cost (NaN, negative, not a number) is charged as the whole reservation: spend is never
    // under-counted
    const valid = typeof actual === "number" && actual >= 0 && actual <= 1e9
    const request = {
      id: reservation.id,
      scopes: reservation.scopes,
      amount: toMicros(reservation.amount),
      actual: toMicros(valid ? actual : reservation.amount),
      now: clock.currentTimeMillisUnsafe()
    }
    if (settleSync !== undefined) {
      const alerts = settleSync(request)
      return alerts.length === 0 ? noAlerts : announce(alerts)
    }
    const settled = Effect.flatMap(store.settle(request), announce)
    if (background === undefined || inBackground >= MAX_BACKGROUND_SETTLES) return settled
    inBackground++
    background(settled.pipe(
      Effect.catch((error) =>
        Effect.logWarning(`budget settle failed in the background; its hold expires after its ttl: ${error.detail}`)
      ),
      Effect.ensuring(Effect.sync(() => void inBackground--))
    ))
    return noAlerts
  }

  const shape: BudgetsShape = {
    set: (spec) =>
      Effect.gen(function*() {
        const decoded = yield* Effect.fromResult(Options.validate(BudgetSpec, spec, "budget"))
        const alertAt = [...new Set(decoded.alertAt ?? DEFAULT_ALERT_AT)].sort((a, b) => a - b)
        const now = yield* Clock.currentTimeMillis
        yield* store.set({ scope: decoded.scope, limit: toMicros(decoded.limit), period: decoded.period, alertAt }, now)
      }),
    get: (scope) =>
      Effect.gen(function*() {
        yield* checkScope(scope)
        const s = yield* store.get(scope, yield* Clock.currentTimeMillis)
        if (s === undefined) return Option.none()
        yield* usedRatio(s.scope, s.spent, s.limit)
        return Option.some({
          scope: s.scope,
          limit: fromMicros(s.limit),
          period: s.period,
          periodStart: s.periodStart,
          spent: fromMicros(s.spent),
          reserved: fromMicros(s.reserved),
          remaining: fromMicros(Math.max(0, s.limit - s.spent - s.reserved)),
          alertAt: s.alertAt
        })
      }),
    remove: (scope) => Effect.flatMap(checkScope(scope), () => store.remove(scope)),
    list: (options = {}) =>
      Effect.gen(function*() {
        const decoded = yield* Effect.fromResult(Options.validate(ListSchema, options, "budget list"))
        const scopes = yield* store.scopes(decoded.limit ?? 100)
        const found = yield* Effect.forEach(scopes, (scope) => shape.get(scope), { concurrency: 8 })
        return found.flatMap((s) => Option.isSome(s) ? [s.value] : [])
      }),
    reserve: (input) => InlineEffect.inline(reserveNow, input),
    settle: (reservation, actual) => InlineEffect.inline2(settleNow, reservation, actual),
    release: (reservation) =>
      Effect.suspend(() =>
        store.release({
          id: reservation.id,
          scopes: reservation.scopes,
          amount: toMicros(reservation.amount),
          now: clock.currentTimeMillisUnsafe()
        })
      ),
    withBudget: (effect, options) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(shape.reserve(options), (reservation) =>
          restore(effect).pipe(
            Effect.onExit((exit) =>
              exit._tag === "Success"
                ? Effect.ignore(shape.settle(reservation, actualOf(options.actual, exit.value, reservation.amount)))
                : Effect.ignore(shape.release(reservation))
            )
          ))
      )
  }
  return shape
}

/** The caller's actual cost; an `actual` that throws charges the whole reservation (spend is never under-counted). */
const actualOf = <A>(actual: (a: A) => number, value: A, reserved: number): number => {
  try {
    return actual(value)
  } catch {
    return reserved
  }
}

const OptionsSchema = Schema.Struct({
  ttl: Schema.optionalKey(TtlInput),
  settle: Schema.optionalKey(Schema.Literals(["await", "background"]))
})

const RedisOptionsSchema = Schema.Struct({ timeout: Schema.optionalKey(Options.DurationInput) })

/** How long a Redis budget operation waits for its reply before it fails with `BudgetStoreError` (5 seconds). */
export const DEFAULT_REDIS_TIMEOUT_MS = 5_000

const layerWith = <E, R>(
  store: Effect.Effect<BudgetStoreShape, E, R>,
  options: BudgetsOptions
): Layer.Layer<Budgets, E | InvalidOptions, Exclude<R, Scope.Scope>> =>
  Layer.effect(
    Budgets,
    Effect.gen(function*() {
      // untrusted options (config): a `ttl` that is not a duration, or an unknown `settle` mode, fails typed,
      // before the store is built
      yield* Effect.fromResult(
        Options.validate(
          OptionsSchema,
          {
            ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
            ...(options.settle === undefined ? {} : { settle: options.settle })
          },
          "budget options"
        )
      )
      const built = yield* store
      // optional, read once when the layer is built: alerts become telemetry events
      const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))
      const clock = yield* Clock.Clock
      let background: ((effect: Effect.Effect<unknown>) => void) | undefined
      if (options.settle === "background" && built.settleSync === undefined) {
        const fibers = yield* FiberSet.make<unknown>()
        const run = yield* FiberSet.runtime(fibers)<never>()
        background = (effect) => void run(effect)
        // added after the set, so it runs before the set's own finalizer interrupts what is left
        yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(fibers).pipe(Effect.timeout("5 seconds"), Effect.ignore))
      }
      return make(built, clock, {
        ...options,
        ...(hub !== undefined ? { telemetry: hub } : {}),
        ...(background !== undefined ? { background } : {})
      })
    })
  )

/**
 * The budget service.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const budgets = yield* Budgets
 *   yield* budgets.set({ scope: "tenant:acme", limit: 100, period: "month" })
 *   const answer = yield* budgets.withBudget(callModel, { scopes: ["tenant:acme"], amount: 0.02, actual: (r) => r.costUsd })
 * }).pipe(Effect.provide(Budgets.layerMemory()))
 * ```
 */
export class Budgets extends Context.Service<Budgets, BudgetsShape>()("troupe/budget/Budgets") {
  /**
   * Budgets in process memory (at most 100,000 budgets and 100,000 open reservations; past that `BudgetStoreError`).
   * Building fails with `InvalidOptions` (path `ttl`) when `ttl` is not a duration of at most 30 days.
   */
  static readonly layerMemory = (options: BudgetsOptions = {}): Layer.Layer<Budgets, InvalidOptions> =>
    layerWith(Effect.sync(() => makeMemoryBudgetStore()), options)

  /**
   * Budgets on Redis (`Redis` from `effect/persistence`), keys under `prefix` (default `troupe:budget:`). With
   * `NodeRedis` in context the scripts go over the store's own duplicate connection (as the rate limiter's do); an
   * operation Redis does not answer within `timeout` (default 5 seconds) fails with `BudgetStoreError`. Building
   * fails with `InvalidOptions` (path `ttl`, `timeout` or `settle`) when `ttl` is not a duration of at most 30 days,
   * `timeout` is not a duration or `settle` is not a mode. `list` reads an index of the scopes; the budgets an
   * earlier version made join it once per prefix, by one scan of the database at the first `list`.
   */
  static readonly layerRedis = (
    options: BudgetsOptions & { readonly prefix?: string; readonly timeout?: Duration.Input } = {}
  ): Layer.Layer<Budgets, InvalidOptions, Redis.Redis> =>
    layerWith(
      Effect.flatMap(
        Effect.fromResult(
          Options.validate(
            RedisOptionsSchema,
            options.timeout === undefined ? {} : { timeout: options.timeout },
            "budget options"
          )
        ),
        (decoded) =>
          makeRedisBudgetStore(
            options.prefix ?? "troupe:budget:",
            decoded.timeout === undefined
              ? DEFAULT_REDIS_TIMEOUT_MS
              : Duration.toMillis(Duration.fromInputUnsafe(decoded.timeout))
          )
      ),
      options
    )

  /**
   * Budgets on PostgreSQL through `SqlClient`; tables in `schema` (default `public`). Building fails with
   * `BudgetStoreError` (operation `init`) when `schema` is not a valid identifier (`[a-z_][a-z0-9_]*`), or when
   * creating the schema or a table fails (database unreachable, no privilege); with `InvalidOptions` (path `ttl`)
   * when `ttl` is not a duration of at most 30 days. Tables of an earlier version gain their new column at start.
   */
  static readonly layerPostgres = (
    options: BudgetsOptions & { readonly schema?: string } = {}
  ): Layer.Layer<Budgets, BudgetStoreError | InvalidOptions, SqlClient.SqlClient> =>
    layerWith(
      Effect.flatMap(SqlClient.SqlClient, (sql) => makePostgresBudgetStore(sql, options.schema ?? "public")),
      options
    )
}

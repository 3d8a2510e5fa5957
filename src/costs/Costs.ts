/**
 * `Costs`: the spend ledger. Each `record` adds a cost in USD, tagged with dimensions (tenant, principal, key,
 * project, agent, model, provider, cached, hedge, routed), to the UTC hour, day and month buckets of the current clock
 * time, with what the call's optimisations saved (`saved`). Queries read one period's bucket: `stats` gives the total
 * and, with `groupBy`, the total per value of one dimension; `savings` what the response cache and the router policy
 * saved; `forecast` projects the current month's spend.
 *
 * Rules:
 * - Periods are UTC calendar periods: an hour, a day (00:00 UTC) or a month (the 1st, 00:00 UTC).
 * - A cost that is not a finite non-negative number fails with `InvalidCost` naming the path `cost`; nothing is
 *   recorded; so does a `saved` that is not (path `saved`). A dimension of the wrong type (a string of at most 1,024
 *   characters without NUL; `cached`, `hedge` and `routed` booleans) fails the same way, naming the dimension.
 * - **Savings are split by cause**: a record with `cached: true` saved its `saved` through the response cache (what
 *   the answer would have cost from the provider); a record with `routed: true` and not cached saved it through the
 *   router policy (`RouterStep`: what the requested model would have cost minus what the cheaper one did).
 * - A store failure (Redis, PostgreSQL) is a `CostsStoreError`; the memory backend never fails.
 * - Forecast: linear on the last N days (default 7): the month-to-date total plus the mean daily spend of the last
 *   N complete or current days (fewer at the start of the month) times the days left in the month.
 * - `cached: false` and an absent `cached` are distinct values (`"false"` and `"-"` in `groups`); so for `hedge` and
 *   `routed`.
 * - `"-"` is the value of an absent dimension (in `groups` and `where`), so a string dimension of `"-"` fails with
 *   `InvalidCost` naming the dimension; nothing is recorded. Any other value, `__proto__` and `constructor`
 *   included, is a group like any other (`groups` has no prototype).
 *
 * Backends, behind one conformance suite (each gives the same answers for the same records):
 * - Every backend holds at most `maxRowsPerBucket` combinations of dimension values per bucket (default 10,000);
 *   past it, new combinations fold into one row with every dimension absent (`"-"`), totals stay exact.
 * - `layerMemory` (default): bounded, at most `maxBuckets` period buckets (default 10,000; the bucket of the oldest
 *   period dropped first, never the current hour, day or month while an older bucket remains) and
 *   `maxRowsPerBucket` rows per bucket.
 * - `layerRedis`: one hash per period bucket (`<prefix><period>:<start>`), a field per combination of dimension
 *   values; a record is one Lua script of `HINCRBYFLOAT` / `HINCRBY` on the three buckets, each bucket expiring its
 *   period's retention after its last write (hours 7 days, days 400, months 1,830 by default) and holding
 *   at most `maxRowsPerBucket` combinations.
 * - `layerPostgres`: a row per record (`troupe_costs`) plus a rollup row per bucket and combination
 *   (`troupe_cost_rollups`) upserted in the same statement (`ON CONFLICT … DO UPDATE`), so stats see a record as
 *   soon as it returns — a materialised view would lag until its next refresh; a new combination takes a
 *   transaction-scoped lock on its bucket so the row bound holds under concurrent records.
 *
 * Mirrors LiteLLM's spend logs / Portkey's cost analytics. Reuses the `Clock` for time (TestClock in tests), effect's
 * `Redis` and `SqlClient` services and the runtime's options decoder. Hand-rolled: effect has no per-period counter
 * store (its `RateLimiter` counts admissions per window and keeps no dimensions).
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import * as Invalid from "../internal/InvalidInput.ts"
import type { InvalidOptions } from "../runtime/index.ts"
import * as Options from "../runtime/internal/Options.ts"
import { CostsStoreError, InvalidCost } from "./CostsError.ts"
import type { CostsStoreShape } from "./internal/CostsStore.ts"
import { checkRecord, dimValue, periodStart } from "./internal/CostsStore.ts"
import { makeMemoryCostsStore } from "./internal/MemoryCostsStore.ts"
import { makePostgresCostsStore } from "./internal/PostgresCostsStore.ts"
import { makeRedisCostsStore } from "./internal/RedisCostsStore.ts"

export { CostsStoreError, InvalidCost } from "./CostsError.ts"
export { periodStart } from "./internal/CostsStore.ts"

/** The dimensions a cost is tagged with; each is optional. */
export interface CostDimensions {
  readonly tenant?: string
  readonly principal?: string
  readonly key?: string
  readonly project?: string
  readonly agent?: string
  readonly model?: string
  readonly provider?: string
  /** `true` when the answer was served from a cache. */
  readonly cached?: boolean
  /** `true` for the losing leg of a hedged call (`HedgeStep`): a request paid for beside the answer. */
  readonly hedge?: boolean
  /** `true` when the router policy (`RouterStep`) sent the call to a cheaper model than the one requested. */
  readonly routed?: boolean
}

/** A dimension name that `stats` can group by. */
export type CostDimension = keyof CostDimensions

/** The dimension names, in a fixed order. */
export const costDimensions = [
  "tenant",
  "principal",
  "key",
  "project",
  "agent",
  "model",
  "provider",
  "cached",
  "hedge",
  "routed"
] as const satisfies ReadonlyArray<CostDimension>

/** A UTC calendar period. */
export type CostPeriod = "hour" | "day" | "month"

/** One cost to record. */
export interface CostRecord extends CostDimensions {
  /** USD, finite and non-negative. */
  readonly cost: number
  /**
   * USD the call's optimisations saved, finite and non-negative: for a cache hit, what the answer would have cost;
   * for a routed call, what the requested model would have cost minus `cost`. Absent: nothing saved.
   */
  readonly saved?: number
}

/** A stats query. */
export interface CostQuery {
  readonly period: CostPeriod
  /** Any instant inside the period (default: now). */
  readonly at?: number
  /** Group the total by this dimension. */
  readonly groupBy?: CostDimension
  /** Only costs whose dimensions equal these. */
  readonly where?: Partial<Record<CostDimension, string>>
}

/** The answer of `stats`. */
export interface CostStats {
  readonly period: CostPeriod
  /** The start of the period, epoch ms. */
  readonly start: number
  readonly total: number
  readonly count: number
  /** USD saved by the optimisations of the counted records (see `savings` for the split by cause). */
  readonly saved: number
  /** Total per value of `groupBy` (absent dimension: `"-"`). */
  readonly groups: Readonly<Record<string, number>>
}

/** A savings query: one period, optionally filtered as `stats` is. */
export interface SavingsQuery {
  readonly period: CostPeriod
  /** Any instant inside the period (default: now). */
  readonly at?: number
  /** Only records whose dimensions equal these. */
  readonly where?: Partial<Record<CostDimension, string>>
}

/** The answer of `savings`: what the response cache and the router policy saved in one period, USD. */
export interface CostSavings {
  readonly period: CostPeriod
  /** The start of the period, epoch ms. */
  readonly start: number
  /** Saved by cache hits: what the answers served from the cache would have cost. */
  readonly cache: number
  /** Saved by the router policy: what the requested models would have cost minus what the routed calls cost. */
  readonly router: number
  /** `cache + router`. */
  readonly total: number
  /** Calls answered from the cache. */
  readonly cacheHits: number
  /** Calls the router sent to a cheaper model (and not answered from the cache). */
  readonly routedCalls: number
}

/** The answer of `forecast`. */
export interface CostForecast {
  readonly month: number
  readonly monthToDate: number
  readonly dailyMean: number
  readonly daysLeft: number
  readonly projected: number
  readonly method: string
}

/** The service interface. */
export interface CostsShape {
  /**
   * Records one cost at the current time. Fails with `InvalidCost` when `cost` is not finite and ≥ 0 or a
   * dimension is not of its type (or is `"-"`, the value of an absent one), and with `CostsStoreError` when the
   * store (Redis, PostgreSQL) fails.
   */
  readonly record: (entry: CostRecord) => Effect.Effect<void, InvalidCost | CostsStoreError>
  /** The total (and group totals) of one period. Fails with `CostsStoreError` when the store fails (memory: never). */
  readonly stats: (query: CostQuery) => Effect.Effect<CostStats, CostsStoreError>
  /**
   * What the response cache and the router policy saved in one period (the module doc's "savings are split by
   * cause"). Fails with `CostsStoreError` when the store fails (memory: never).
   */
  readonly savings: (query: SavingsQuery) => Effect.Effect<CostSavings, CostsStoreError>
  /**
   * The current month's projected total, linear on the last `days` days (default 7). Fails with `CostsStoreError`
   * when the store fails (memory: never).
   */
  readonly forecast: (options?: { readonly days?: number }) => Effect.Effect<CostForecast, CostsStoreError>
}

const DAY = 86_400_000

/** Options of `Costs.layerMemory`. */
export interface CostsMemoryOptions {
  /**
   * The most period buckets kept (default 10,000); the bucket of the oldest period is dropped first, never the
   * current hour, day or month while an older bucket remains.
   */
  readonly maxBuckets?: number
  /** The most distinct dimension rows per bucket (default 10,000); past it, rows fold into one `"-"` row. */
  readonly maxRowsPerBucket?: number
}

/** Options of `Costs.layerRedis`. */
export interface CostsRedisOptions {
  /** The key prefix (default `troupe:costs:`). */
  readonly prefix?: string
  /** The most distinct dimension rows per bucket (default 10,000); past it, rows fold into one `"-"` row. */
  readonly maxRowsPerBucket?: number
  /**
   * How long a bucket lives after its last write, per period (defaults: hour 7 days, day 400 days, month 1,830
   * days). Keep `day` above 31 days and `month` above a month for the forecast.
   */
  readonly retention?: {
    readonly hour?: Duration.Input
    readonly day?: Duration.Input
    readonly month?: Duration.Input
  }
}

/** Options of `Costs.layerPostgres`. */
export interface CostsPostgresOptions {
  /** The schema of the tables (default `public`; `[a-z_][a-z0-9_]*`, at most 63 characters). */
  readonly schema?: string
  /** The most distinct dimension rows per bucket (default 10,000); past it, rows fold into one `"-"` row. */
  readonly maxRowsPerBucket?: number
}

const RedisOptionsSchema = Schema.Struct({
  prefix: Schema.optionalKey(Schema.String),
  maxRowsPerBucket: Schema.optionalKey(Options.PositiveInt),
  retention: Schema.optionalKey(Schema.Struct({
    hour: Schema.optionalKey(Options.DurationInput),
    day: Schema.optionalKey(Options.DurationInput),
    month: Schema.optionalKey(Options.DurationInput)
  }))
})

const PostgresOptionsSchema = Schema.Struct({
  schema: Schema.optionalKey(Schema.String),
  maxRowsPerBucket: Schema.optionalKey(Options.PositiveInt)
})

const invalidCost = (path: string, detail: string) => new InvalidCost(Invalid.fields("cost record", path, detail))

/** The day starts the forecast reads: today and the days before it in this month, at most `days`. */
const forecastDays = (now: number, days: number): ReadonlyArray<number> => {
  const month = periodStart("month", now)
  const today = periodStart("day", now)
  const n = Math.max(1, Math.min(Math.floor(days), Math.floor((today - month) / DAY) + 1))
  return Array.from({ length: n }, (_, i) => today - i * DAY)
}

/** The `Costs` service over a store: the record check, the clock, grouping and filtering, the forecast. */
const makeWith = (store: CostsStoreShape): CostsShape => {
  /** The rows of the queried bucket that match `where`, with the bucket's start. */
  const matching = (query: SavingsQuery, now: number) => {
    const start = periodStart(query.period, query.at ?? now)
    const where = query.where === undefined ? [] : Object.entries(query.where)
    return Effect.map(store.rows(query.period, start), (rows) => ({
      start,
      // `where` keys are dimension names by the query type; Object.entries widens them to string.
      rows: rows.filter((row) =>
        where.every(([d, v]) => v === undefined || dimValue(row.dims, d as CostDimension) === v)
      )
    }))
  }
  const statsAt = (query: CostQuery, now: number) =>
    Effect.map(matching(query, now), ({ rows, start }): CostStats => {
      // no prototype: a value named `__proto__`, `constructor` or `toString` is a group like any other
      const groups: Record<string, number> = Object.create(null)
      let total = 0
      let count = 0
      let saved = 0
      for (const row of rows) {
        total += row.cost
        count += row.count
        saved += row.saved
        if (query.groupBy !== undefined) {
          const g = dimValue(row.dims, query.groupBy)
          groups[g] = (groups[g] ?? 0) + row.cost
        }
      }
      return { period: query.period, start, total, count, saved, groups }
    })
  const savingsAt = (query: SavingsQuery, now: number) =>
    Effect.map(matching(query, now), ({ rows, start }): CostSavings => {
      let cache = 0
      let router = 0
      let cacheHits = 0
      let routedCalls = 0
      for (const row of rows) {
        if (row.dims.cached === true) {
          cache += row.saved
          cacheHits += row.count
        } else if (row.dims.routed === true) {
          router += row.saved
          routedCalls += row.count
        }
      }
      return { period: query.period, start, cache, router, total: cache + router, cacheHits, routedCalls }
    })
  return {
    record: (entry) => {
      const bad = checkRecord(entry)
      return bad === undefined
        ? Effect.clockWith((clock) => store.add(entry, clock.currentTimeMillisUnsafe()))
        : Effect.fail(invalidCost(bad.path, bad.detail))
    },
    stats: (query) => Effect.flatMap(Clock.currentTimeMillis, (now) => statsAt(query, now)),
    savings: (query) => Effect.flatMap(Clock.currentTimeMillis, (now) => savingsAt(query, now)),
    forecast: (opts) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const requested = opts?.days
        const days = requested !== undefined && Number.isFinite(requested) ? requested : 7
        const starts = forecastDays(now, days)
        const [dayTotals, monthTotals] = yield* Effect.all([
          store.totals("day", starts),
          store.totals("month", [periodStart("month", now)])
        ], { concurrency: 2 })
        const byDay = new Map(starts.map((s, i) => [s, dayTotals[i]?.total ?? 0]))
        return forecastFrom(now, days, (at) => byDay.get(at) ?? 0, monthTotals[0]?.total ?? 0)
      })
  }
}

/** Builds the in-memory ledger (used by `Costs.layerMemory`; exported for benches). */
export const makeMemory = (options: CostsMemoryOptions = {}): Effect.Effect<CostsShape> =>
  Effect.sync(() => makeWith(makeMemoryCostsStore(options.maxBuckets ?? 10_000, options.maxRowsPerBucket ?? 10_000)))

/**
 * Builds the Redis ledger (used by `Costs.layerRedis`; exported for benches). Fails with `InvalidOptions` when an
 * option is not of its type (a non-positive `maxRowsPerBucket`, a negative retention).
 */
export const makeRedis = (options: CostsRedisOptions = {}): Effect.Effect<CostsShape, InvalidOptions, Redis.Redis> =>
  Effect.gen(function*() {
    const o = yield* Effect.fromResult(Options.validate(RedisOptionsSchema, options, "costs options"))
    const ms = (
      d: Duration.Input | undefined,
      fallback: number
    ) => (d === undefined ? fallback : Math.max(1, Duration.toMillis(Duration.fromInputUnsafe(d))))
    const store = yield* makeRedisCostsStore(o.prefix ?? "troupe:costs:", o.maxRowsPerBucket ?? 10_000, {
      hour: ms(o.retention?.hour, 7 * DAY),
      day: ms(o.retention?.day, 400 * DAY),
      month: ms(o.retention?.month, 1830 * DAY)
    })
    return makeWith(store)
  })

/**
 * Builds the PostgreSQL ledger (used by `Costs.layerPostgres`; exported for benches), creating the schema and its
 * tables when missing. Fails with `InvalidOptions` when `schema` is not a string or `maxRowsPerBucket` not a
 * positive integer, and with `CostsStoreError` when the schema name is not `[a-z_][a-z0-9_]*` or the tables cannot
 * be created.
 */
export const makePostgres = (
  options: CostsPostgresOptions = {}
): Effect.Effect<CostsShape, InvalidOptions | CostsStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const o = yield* Effect.fromResult(Options.validate(PostgresOptionsSchema, options, "costs options"))
    const sql = yield* SqlClient.SqlClient
    return makeWith(yield* makePostgresCostsStore(sql, o.schema ?? "public", o.maxRowsPerBucket ?? 10_000))
  })

/** The linear forecast from the month-to-date total and the daily totals of the last `days` days of this month. */
export const forecastFrom = (
  now: number,
  days: number,
  dayTotal: (at: number) => number,
  monthToDate: number
): CostForecast => {
  const month = periodStart("month", now)
  const d = new Date(now)
  const nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
  const today = periodStart("day", now)
  const n = Math.max(1, Math.min(Math.floor(days), Math.floor((today - month) / DAY) + 1))
  let sum = 0
  for (let i = 0; i < n; i++) sum += dayTotal(today - i * DAY)
  const dailyMean = sum / n
  const daysLeft = Math.round((nextMonth - today) / DAY) - 1
  return {
    month,
    monthToDate,
    dailyMean,
    daysLeft,
    projected: monthToDate + dailyMean * daysLeft,
    method: `linear: month-to-date + mean of the last ${n} day(s) × ${daysLeft} day(s) left`
  }
}

/**
 * The spend ledger service.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const costs = yield* Costs
 *   yield* costs.record({ cost: 0.002, tenant: "acme", model: "openai:gpt-4o-mini" })
 *   return yield* costs.stats({ period: "day", groupBy: "tenant" })
 * }).pipe(Effect.provide(Costs.layerMemory()))
 * ```
 */
export class Costs extends Context.Service<Costs, CostsShape>()("troupe/costs/Costs") {
  /** The in-memory ledger, bounded by `maxBuckets` / `maxRowsPerBucket`. */
  static readonly layerMemory = (options: CostsMemoryOptions = {}): Layer.Layer<Costs> =>
    Layer.effect(Costs, makeMemory(options))

  /**
   * The ledger in Redis (effect's `Redis` service): a hash per period bucket under `prefix`, bounded per bucket and
   * expiring. Building it fails with `InvalidOptions` when an option is not of its type.
   */
  static readonly layerRedis = (options: CostsRedisOptions = {}): Layer.Layer<Costs, InvalidOptions, Redis.Redis> =>
    Layer.effect(Costs, makeRedis(options))

  /**
   * The ledger in PostgreSQL (`SqlClient`): rows plus upserted rollups in `schema`. Building it fails with
   * `InvalidOptions` when an option is not of its type and with `CostsStoreError` when the schema name is invalid
   * or the tables cannot be created.
   */
  static readonly layerPostgres = (
    options: CostsPostgresOptions = {}
  ): Layer.Layer<Costs, InvalidOptions | CostsStoreError, SqlClient.SqlClient> =>
    Layer.effect(Costs, makePostgres(options))
}

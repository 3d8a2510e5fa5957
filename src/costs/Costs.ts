/**
 * `Costs`: the spend ledger. Each `record` adds a cost in USD, tagged with dimensions (tenant, principal, key,
 * project, agent, model, provider, cached, hedge), to the UTC hour, day and month buckets of the current clock time.
 * Queries read one period's bucket: `stats` gives the total and, with `groupBy`, the total per value of one
 * dimension; `forecast` projects the current month's spend.
 *
 * Rules:
 * - Periods are UTC calendar periods: an hour, a day (00:00 UTC) or a month (the 1st, 00:00 UTC).
 * - A cost that is not a finite non-negative number fails with `InvalidCost` naming the path `cost`; nothing is
 *   recorded.
 * - Forecast: linear on the last N days (default 7): the month-to-date total plus the mean daily spend of the last
 *   N complete or current days (fewer at the start of the month) times the days left in the month.
 * - The memory backend is bounded: it keeps at most `maxBuckets` period buckets (default 10,000), dropping the
 *   oldest first.
 *
 * Mirrors LiteLLM's spend logs / Portkey's cost analytics. Reuses the `Clock` for time (TestClock in tests).
 *
 * @since 0.1.0
 */
import * as Invalid from "../internal/InvalidInput.ts"
import { Clock, Context, Effect, Layer, Schema } from "effect"

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
}

/** A dimension name that `stats` can group by. */
export type CostDimension = keyof CostDimensions

/** The dimension names, in a fixed order. */
export const costDimensions: ReadonlyArray<CostDimension> = [
  "tenant", "principal", "key", "project", "agent", "model", "provider", "cached", "hedge"
]

/** A UTC calendar period. */
export type CostPeriod = "hour" | "day" | "month"

/** One cost to record. */
export interface CostRecord extends CostDimensions {
  /** USD, finite and non-negative. */
  readonly cost: number
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
  /** Total per value of `groupBy` (absent dimension: `"-"`). */
  readonly groups: Readonly<Record<string, number>>
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

/** A cost that is not a finite non-negative number (`path`: the offending field). */
export class InvalidCost extends Schema.TaggedError<InvalidCost>()("InvalidCost", Invalid.InvalidInputFields) {
  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** The service interface. */
export interface CostsShape {
  /** Records one cost at the current time. Fails with `InvalidCost` when `cost` is not finite and ≥ 0. */
  readonly record: (entry: CostRecord) => Effect.Effect<void, InvalidCost>
  /** The total (and group totals) of one period. Never fails. */
  readonly stats: (query: CostQuery) => Effect.Effect<CostStats>
  /** The current month's projected total, linear on the last `days` days (default 7). Never fails. */
  readonly forecast: (options?: { readonly days?: number }) => Effect.Effect<CostForecast>
}

/** The start (epoch ms) of the UTC `period` containing `at`. */
export const periodStart = (period: CostPeriod, at: number): number => {
  const d = new Date(at)
  if (period === "hour") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours())
  if (period === "day") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

const DAY = 86_400_000

interface Row {
  readonly dims: CostDimensions
  cost: number
  count: number
}

interface Bucket {
  total: number
  count: number
  /** False once evicted. */
  live: boolean
  /** Rows by a canonical key of their dimensions. */
  readonly rows: Map<string, Row>
}

const dimKey = (e: CostDimensions): string =>
  `${e.tenant ?? ""}\u0000${e.principal ?? ""}\u0000${e.key ?? ""}\u0000${e.project ?? ""}\u0000${e.agent ?? ""}\u0000${e.model ?? ""}\u0000${e.provider ?? ""}\u0000${e.cached === true ? "1" : ""}\u0000${e.hedge === true ? "1" : ""}`

const dimValue = (dims: CostDimensions, d: CostDimension): string => {
  const v = dims[d]
  return v === undefined ? "-" : String(v)
}

/** Options of `Costs.layerMemory`. */
export interface CostsMemoryOptions {
  /** The most period buckets kept (default 10,000); the oldest is dropped first. */
  readonly maxBuckets?: number
  /** The most distinct dimension rows per bucket (default 10,000); past it, rows fold into one `"-"` row. */
  readonly maxRowsPerBucket?: number
}

/** Builds the in-memory ledger (used by `Costs.layerMemory`; exported for benches). */
export const makeMemory = (options: CostsMemoryOptions = {}): Effect.Effect<CostsShape> =>
  Effect.sync(() => {
    const maxBuckets = options.maxBuckets ?? 10_000
    const maxRows = options.maxRowsPerBucket ?? 10_000
    const buckets = new Map<string, Bucket>()
    const bucketOf = (period: CostPeriod, start: number): Bucket => {
      const id = `${period}:${start}`
      let b = buckets.get(id)
      if (b === undefined) {
        if (buckets.size >= maxBuckets) {
          const oldest = buckets.keys().next()
          if (oldest.done !== true) {
            const dropped = buckets.get(oldest.value)
            if (dropped !== undefined) dropped.live = false
            buckets.delete(oldest.value)
          }
        }
        b = { total: 0, count: 0, live: true, rows: new Map() }
        buckets.set(id, b)
      }
      return b
    }
    const add = (b: Bucket, key: string, dims: CostDimensions, cost: number) => {
      b.total += cost
      b.count += 1
      let row = b.rows.get(key)
      if (row === undefined) {
        if (b.rows.size >= maxRows) {
          key = "overflow"
          row = b.rows.get(key)
          dims = {}
        }
        if (row === undefined) {
          row = { dims, cost: 0, count: 0 }
          b.rows.set(key, row)
        }
      }
      row.cost += cost
      row.count += 1
    }
    // the current bucket of each period, reused while `now` stays inside it (the hot path builds no Date or id)
    const current = { hour: { from: 0, to: -1, bucket: undefined as Bucket | undefined }, day: { from: 0, to: -1, bucket: undefined as Bucket | undefined }, month: { from: 0, to: -1, bucket: undefined as Bucket | undefined } }
    const currentBucket = (period: CostPeriod, now: number): Bucket => {
      const c = current[period]
      if (c.bucket !== undefined && now >= c.from && now < c.to && c.bucket.live) return c.bucket
      const from = periodStart(period, now)
      const d = new Date(from)
      c.from = from
      c.to = period === "hour" ? from + 3_600_000 : period === "day" ? from + DAY : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
      c.bucket = bucketOf(period, from)
      return c.bucket
    }
    const recordAt = (entry: CostRecord, now: number) => {
      const key = dimKey(entry)
      add(currentBucket("hour", now), key, entry, entry.cost)
      add(currentBucket("day", now), key, entry, entry.cost)
      add(currentBucket("month", now), key, entry, entry.cost)
    }
    const statsAt = (query: CostQuery, now: number): CostStats => {
      const start = periodStart(query.period, query.at ?? now)
      const b = buckets.get(`${query.period}:${start}`)
      const groups: Record<string, number> = {}
      let total = 0
      let count = 0
      if (b !== undefined) {
        const where = query.where === undefined ? [] : Object.entries(query.where)
        for (const row of b.rows.values()) {
          // `where` keys are dimension names by the query type; Object.entries widens them to string.
          if (!where.every(([d, v]) => v === undefined || dimValue(row.dims, d as CostDimension) === v)) continue
          total += row.cost
          count += row.count
          if (query.groupBy !== undefined) {
            const g = dimValue(row.dims, query.groupBy)
            groups[g] = (groups[g] ?? 0) + row.cost
          }
        }
      }
      return { period: query.period, start, total, count, groups }
    }
    return {
      record: (entry) =>
        Number.isFinite(entry.cost) && entry.cost >= 0
          ? Effect.clockWith((clock) => Effect.sync(() => recordAt(entry, clock.currentTimeMillisUnsafe())))
          : Effect.fail(new InvalidCost(Invalid.fields("cost record", "cost", `cost must be a finite number ≥ 0, got ${String(entry.cost)}`))),
      stats: (query) => Effect.map(Clock.currentTimeMillis, (now) => statsAt(query, now)),
      forecast: (opts) =>
        Effect.map(Clock.currentTimeMillis, (now) => forecastFrom(now, opts?.days ?? 7, (at) => statsAt({ period: "day", at }, now).total, statsAt({ period: "month" }, now).total))
    }
  })

/** The linear forecast from the month-to-date total and the daily totals of the last `days` days of this month. */
export const forecastFrom = (now: number, days: number, dayTotal: (at: number) => number, monthToDate: number): CostForecast => {
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
  static readonly layerMemory = (options: CostsMemoryOptions = {}): Layer.Layer<Costs> => Layer.effect(Costs, makeMemory(options))
}

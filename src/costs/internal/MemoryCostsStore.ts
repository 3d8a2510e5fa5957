/**
 * The in-memory `Costs` store: a map of period buckets (`<period>:<start>`), each with its total and its rows by
 * the canonical key of their dimensions. Bounded: at most `maxBuckets` buckets (the bucket of the oldest period
 * dropped first, never the current bucket of a period while an older one remains) and
 * `maxRowsPerBucket` rows per bucket (past it, new combinations fold into one row with every dimension absent;
 * totals stay exact). The current bucket of each period is reused while the clock stays inside it, so the hot
 * path builds no `Date` or id. @internal
 */
import { Effect } from "effect"
import type { CostDimensions, CostPeriod, CostRecord } from "../Costs.ts"
import type { CostRow, CostsStoreShape } from "./CostsStore.ts"
import { dimsOf, periodEnd, periodStart } from "./CostsStore.ts"

interface Row {
  readonly dims: CostDimensions
  cost: number
  count: number
  saved: number
}

interface Bucket {
  readonly period: CostPeriod
  /** The period's start, epoch ms: the eviction order. */
  readonly start: number
  total: number
  count: number
  /** False once evicted. */
  live: boolean
  /** Rows by a canonical key of their dimensions. */
  readonly rows: Map<string, Row>
}

const bool = (b: boolean | undefined): string => (b === undefined ? "-" : b ? "1" : "0")
const str = (v: string | undefined): string => (v === undefined ? "-" : `${v.length}:${v}`)

/**
 * A cheaper canonical key than the JSON field (the memory store never parses it back): each string dimension
 * length-prefixed (`-` when absent), so the concatenation is unambiguous for any values.
 */
const dimKey = (e: CostDimensions): string =>
  `${str(e.tenant)}${str(e.principal)}${str(e.key)}${str(e.project)}${str(e.agent)}${str(e.model)}${str(e.provider)}${
    bool(e.cached)
  }${bool(e.hedge)}${bool(e.routed)}`

const OVERFLOW = "overflow"

/** Shorter periods first: of two buckets starting together, the shorter one ended first. */
const LENGTH_RANK: Record<CostPeriod, number> = { hour: 0, day: 1, month: 2 }

interface Current {
  from: number
  to: number
  bucket: Bucket | undefined
}

export const makeMemoryCostsStore = (maxBuckets: number, maxRows: number): CostsStoreShape => {
  const buckets = new Map<string, Bucket>()
  /**
   * Drops the bucket of the oldest period (the earliest start; at equal starts the shorter period, which ended
   * first) that is not the current bucket of its period at `now`; only when every bucket is current, the oldest.
   */
  const evictOldest = (now: number) => {
    const currentStart: Record<CostPeriod, number> = {
      hour: periodStart("hour", now),
      day: periodStart("day", now),
      month: periodStart("month", now)
    }
    let oldest: [string, Bucket] | undefined
    let oldestCurrent: [string, Bucket] | undefined
    for (const entry of buckets) {
      const b = entry[1]
      const isCurrent = b.start === currentStart[b.period]
      const best = isCurrent ? oldestCurrent : oldest
      if (
        best === undefined || b.start < best[1].start ||
        (b.start === best[1].start && LENGTH_RANK[b.period] < LENGTH_RANK[best[1].period])
      ) {
        if (isCurrent) oldestCurrent = entry
        else oldest = entry
      }
    }
    const dropped = oldest ?? oldestCurrent
    if (dropped !== undefined) {
      dropped[1].live = false
      buckets.delete(dropped[0])
    }
  }
  const bucketOf = (period: CostPeriod, start: number, now: number): Bucket => {
    const id = `${period}:${start}`
    let b = buckets.get(id)
    if (b === undefined) {
      if (buckets.size >= maxBuckets) evictOldest(now)
      b = { period, start, total: 0, count: 0, live: true, rows: new Map() }
      buckets.set(id, b)
    }
    return b
  }
  const add = (b: Bucket, key: string, entry: CostRecord) => {
    b.total += entry.cost
    b.count += 1
    let row = b.rows.get(key)
    if (row === undefined) {
      let dims: CostDimensions = {}
      if (b.rows.size >= maxRows) {
        key = OVERFLOW
        row = b.rows.get(key)
      } else {
        dims = dimsOf(entry)
      }
      if (row === undefined) {
        row = { dims, cost: 0, count: 0, saved: 0 }
        b.rows.set(key, row)
      }
    }
    row.cost += entry.cost
    row.count += 1
    if (entry.saved !== undefined) row.saved += entry.saved
  }
  const current: Record<CostPeriod, Current> = {
    hour: { from: 0, to: -1, bucket: undefined },
    day: { from: 0, to: -1, bucket: undefined },
    month: { from: 0, to: -1, bucket: undefined }
  }
  const currentBucket = (period: CostPeriod, now: number): Bucket => {
    const c = current[period]
    if (c.bucket !== undefined && now >= c.from && now < c.to && c.bucket.live) return c.bucket
    const from = periodStart(period, now)
    c.from = from
    c.to = periodEnd(period, from)
    c.bucket = bucketOf(period, from, now)
    return c.bucket
  }
  const empty: ReadonlyArray<CostRow> = []
  return {
    add: (entry, now) =>
      Effect.sync(() => {
        const key = dimKey(entry)
        add(currentBucket("hour", now), key, entry)
        add(currentBucket("day", now), key, entry)
        add(currentBucket("month", now), key, entry)
      }),
    rows: (period, start) =>
      Effect.sync(() => {
        const b = buckets.get(`${period}:${start}`)
        return b === undefined
          ? empty
          : Array.from(b.rows.values(), (r) => ({ dims: r.dims, cost: r.cost, count: r.count, saved: r.saved }))
      }),
    totals: (period, starts) =>
      Effect.sync(() =>
        starts.map((start) => {
          const b = buckets.get(`${period}:${start}`)
          return b === undefined ? { total: 0, count: 0 } : { total: b.total, count: b.count }
        })
      )
  }
}

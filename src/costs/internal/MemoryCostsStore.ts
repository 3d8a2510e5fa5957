/**
 * The in-memory `Costs` store: a map of period buckets (`<period>:<start>`), each with its total and its rows by
 * the canonical key of their dimensions. Bounded: at most `maxBuckets` buckets (the oldest dropped first) and
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

interface Current {
  from: number
  to: number
  bucket: Bucket | undefined
}

export const makeMemoryCostsStore = (maxBuckets: number, maxRows: number): CostsStoreShape => {
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
    c.bucket = bucketOf(period, from)
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

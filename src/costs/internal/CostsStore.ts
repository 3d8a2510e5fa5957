/**
 * The contract every `Costs` backend implements, and the rules they share: UTC period starts, the canonical row of a
 * record's dimensions (its key, and the JSON field name the Redis and PostgreSQL backends store it under), and the
 * record check. A store adds one record to the hour, day and month buckets of `now` in one atomic step (memory:
 * synchronous; Redis: one Lua script; PostgreSQL: one statement), reads the rows of one bucket, and reads the
 * totals of several buckets (the forecast's days). The public service filters, groups and forecasts from these, so
 * every backend gives the same answers for the same records. @internal
 */
import type { Effect } from "effect"
import type { CostDimension, CostDimensions, CostPeriod, CostRecord } from "../Costs.ts"
import type { CostsStoreError } from "../CostsError.ts"

/** The string dimensions, then the boolean ones, in the canonical order. */
export const stringDimensions = ["tenant", "principal", "key", "project", "agent", "model", "provider"] as const
export const booleanDimensions = ["cached", "hedge", "routed"] as const

/** The longest dimension value a record may carry. */
export const MAX_DIMENSION_LENGTH = 1024

/** One bucket row: the spend of one combination of dimension values. */
export interface CostRow {
  readonly dims: CostDimensions
  readonly cost: number
  readonly count: number
  /** USD saved (`CostRecord.saved`) by the records of this row. */
  readonly saved: number
}

/** A bucket's total spend and record count. */
export interface CostTotal {
  readonly total: number
  readonly count: number
}

export interface CostsStoreShape {
  /** Adds `entry` (already checked) to the hour, day and month buckets containing `now`. */
  readonly add: (entry: CostRecord, now: number) => Effect.Effect<void, CostsStoreError>
  /** The rows of the `period` bucket starting at `start` (none when it does not exist). */
  readonly rows: (period: CostPeriod, start: number) => Effect.Effect<ReadonlyArray<CostRow>, CostsStoreError>
  /** The totals of the `period` buckets starting at `starts`, in that order. */
  readonly totals: (
    period: CostPeriod,
    starts: ReadonlyArray<number>
  ) => Effect.Effect<ReadonlyArray<CostTotal>, CostsStoreError>
}

/** The start (epoch ms) of the UTC `period` containing `at`. */
export const periodStart = (period: CostPeriod, at: number): number => {
  const d = new Date(at)
  if (period === "hour") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours())
  if (period === "day") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** The end (exclusive, epoch ms) of the UTC `period` starting at `start`. */
export const periodEnd = (period: CostPeriod, start: number): number => {
  if (period === "hour") return start + 3_600_000
  if (period === "day") return start + 86_400_000
  const d = new Date(start)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** The dimension values of a record in the canonical order (the string dimensions, then the boolean ones), `null` for an absent one. */
export const dimensionValues = (e: CostDimensions): Array<string | boolean | null> => [
  e.tenant ?? null,
  e.principal ?? null,
  e.key ?? null,
  e.project ?? null,
  e.agent ?? null,
  e.model ?? null,
  e.provider ?? null,
  e.cached ?? null,
  e.hedge ?? null,
  e.routed ?? null
]

/**
 * The canonical field of a record's dimensions: a JSON array of `dimensionValues` (so `cached: false` and an absent
 * `cached` are distinct rows). Any string round-trips.
 */
export const rowField = (e: CostDimensions): string => JSON.stringify(dimensionValues(e))

/** The field of the row past a bucket's row bound, where the rest fold (every dimension absent). */
export const OVERFLOW_FIELD = "overflow"

/** The dimensions of a stored field; `{}` for the overflow row or a field this version did not write. */
export const dimsOfField = (field: string): CostDimensions => {
  if (field === OVERFLOW_FIELD) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(field)
  } catch {
    return {}
  }
  if (!Array.isArray(parsed)) return {}
  const dims: Record<string, string | boolean> = {}
  stringDimensions.forEach((d, i) => {
    const v: unknown = parsed[i]
    if (typeof v === "string") dims[d] = v
  })
  booleanDimensions.forEach((d, i) => {
    const v: unknown = parsed[stringDimensions.length + i]
    if (typeof v === "boolean") dims[d] = v
  })
  return dims
}

/** The dimensions of `entry` alone (a record also carries `cost`, and callers may pass more). */
export const dimsOf = (e: CostDimensions): CostDimensions => dimsOfField(rowField(e))

/** The value `stats` gives an absent dimension (in `groups` and `where`); no record may carry it. */
export const ABSENT = "-"

/**
 * The first bad field of a record: `cost` (or `saved`) not a finite number ≥ 0, a string dimension not a string of at most
 * 1,024 characters without NUL or equal to `"-"` (`ABSENT`), a boolean dimension not a boolean; `undefined` when it is
 * well-formed.
 */
export const checkRecord = (entry: CostRecord): { readonly path: string; readonly detail: string } | undefined => {
  // untrusted callers may pass anything: look at the fields as unknown values
  const e = entry as unknown as Readonly<Record<string, unknown>>
  if (typeof e === "object" && e !== null) {
    const cost = e["cost"]
    if (typeof cost !== "number" || !Number.isFinite(cost) || cost < 0) {
      return {
        path: "cost",
        detail: `cost must be a finite number ≥ 0, got ${typeof cost === "number" ? String(cost) : typeof cost}`
      }
    }
    const saved = e["saved"]
    if (saved !== undefined && (typeof saved !== "number" || !Number.isFinite(saved) || saved < 0)) {
      return {
        path: "saved",
        detail: `saved must be a finite number ≥ 0, got ${typeof saved === "number" ? String(saved) : typeof saved}`
      }
    }
    for (const d of stringDimensions) {
      const v = e[d]
      if (v === undefined) continue
      if (typeof v !== "string") return { path: d, detail: `${d} must be a string, got ${typeof v}` }
      if (v.length > MAX_DIMENSION_LENGTH) {
        return { path: d, detail: `${d} must be at most ${MAX_DIMENSION_LENGTH} characters, got ${v.length}` }
      }
      // PostgreSQL text cannot hold NUL; refused on every backend so they all accept the same records
      if (v.includes("\u0000")) return { path: d, detail: `${d} must not contain a NUL character` }
      // `stats` names an absent dimension "-": a recorded "-" would merge with the records that lack it
      if (v === ABSENT) return { path: d, detail: `${d} must not be "${ABSENT}" (the value of an absent dimension)` }
    }
    for (const d of booleanDimensions) {
      const v = e[d]
      if (v !== undefined && typeof v !== "boolean") {
        return { path: d, detail: `${d} must be a boolean, got ${typeof v}` }
      }
    }
    return undefined
  }
  return { path: "", detail: `a cost record must be an object, got ${e === null ? "null" : typeof e}` }
}

/** The value of dimension `d` in a row, as `stats` groups and filters it (absent: `"-"`). */
export const dimValue = (dims: CostDimensions, d: CostDimension): string => {
  const v = dims[d]
  return v === undefined ? ABSENT : String(v)
}

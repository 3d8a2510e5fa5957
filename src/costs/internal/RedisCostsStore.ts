/**
 * The Redis `Costs` store. Layout under `prefix`: one hash per period bucket, `<prefix><period>:<start>` (`period`
 * `hour`, `day` or `month`, `start` its UTC start in epoch ms), with fields `t` (the bucket's total, USD, by
 * `HINCRBYFLOAT`), `n` (its record count), and per combination of dimension values `c:<field>` (its spend) and
 * `n:<field>` (its count), `<field>` being the canonical JSON array of the values (`CostsStore.rowField`); what a
 * record saved (`CostRecord.saved`, when above 0) goes to the same field of a second hash, `<bucket>:s`, so the row
 * bound can still count a bucket's rows by its length.
 * A record is one Lua script: on each of the three buckets two `HINCRBYFLOAT` and two `HINCRBY`, then `PEXPIRE`
 * with that period's retention, so a bucket lives `retention` after its last write (relative, so the server's
 * clock and the callers' never have to agree). Each bucket holds at most `maxRowsPerBucket` combinations; past it
 * new ones fold into the `overflow` row (totals stay exact). A query reads one bucket (`HGETALL`), the forecast the
 * totals of its days in one script. @internal
 */
import { Effect } from "effect"
import { Redis } from "effect/persistence"
import { luaScript } from "../../internal/RedisLua.ts"
import type { CostPeriod } from "../Costs.ts"
import { CostsStoreError } from "../CostsError.ts"
import type { CostRow, CostsStoreShape, CostTotal } from "./CostsStore.ts"
import { dimsOfField, OVERFLOW_FIELD, periodStart, rowField } from "./CostsStore.ts"

const ADD = `
local cost, field, maxRows, saved = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[7]
for i = 1, 3 do
  local k = KEYS[i]
  local f = field
  if redis.call('HEXISTS', k, 'c:' .. f) == 0 and (redis.call('HLEN', k) - 2) / 2 >= maxRows then f = '${OVERFLOW_FIELD}' end
  redis.call('HINCRBYFLOAT', k, 'c:' .. f, cost)
  redis.call('HINCRBY', k, 'n:' .. f, 1)
  redis.call('HINCRBYFLOAT', k, 't', cost)
  redis.call('HINCRBY', k, 'n', 1)
  redis.call('PEXPIRE', k, ARGV[3 + i])
  if saved ~= '0' then
    redis.call('HINCRBYFLOAT', KEYS[3 + i], f, saved)
    redis.call('PEXPIRE', KEYS[3 + i], ARGV[3 + i])
  end
end
return 1
`

const TOTALS = `
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 't', 'n')
  out[2 * i - 1] = v[1] or '0'
  out[2 * i] = v[2] or '0'
end
return out
`

const script = luaScript
const addScript = script(ADD)
const totalsScript = script(TOTALS)

const storeError = (operation: string) => (cause: unknown): CostsStoreError =>
  new CostsStoreError({ operation, detail: cause instanceof Error ? cause.message : String(cause) })

/** How long each period's buckets live after their last write, in ms. */
export interface RedisRetention {
  readonly hour: number
  readonly day: number
  readonly month: number
}

export const makeRedisCostsStore = (
  prefix: string,
  maxRows: number,
  retention: RedisRetention
): Effect.Effect<CostsStoreShape, never, Redis.Redis> =>
  Effect.map(Redis.Redis, (redis) => {
    const bucketKey = (period: CostPeriod, start: number) => `${prefix}${period}:${start}`
    const ttls = [String(retention.hour), String(retention.day), String(retention.month)]
    const max = String(maxRows)
    const hgetall = (key: string) =>
      Effect.map(
        redis.send<ReadonlyArray<string> | Record<string, string>>("HGETALL", key),
        (reply): ReadonlyArray<unknown> => (Array.isArray(reply) ? reply : Object.entries(reply).flat())
      )
    const shape: CostsStoreShape = {
      add: (entry, now) => {
        const hour = bucketKey("hour", periodStart("hour", now))
        const day = bucketKey("day", periodStart("day", now))
        const month = bucketKey("month", periodStart("month", now))
        const saved = entry.saved !== undefined && entry.saved > 0 ? String(entry.saved) : "0"
        return redis.eval(addScript)(
          [hour, day, month, `${hour}:s`, `${day}:s`, `${month}:s`],
          [String(entry.cost), rowField(entry), max, ...ttls, saved]
        ).pipe(Effect.asVoid, Effect.mapError(storeError("record")))
      },
      rows: (period, start) => {
        const key = bucketKey(period, start)
        return Effect.all([hgetall(key), hgetall(`${key}:s`)], { concurrency: 2 }).pipe(
          Effect.mapError(storeError("stats")),
          Effect.map(([flat, savedFlat]) => {
            const rows = new Map<string, { cost: number; count: number; saved: number }>()
            const rowOf = (field: string) => {
              let r = rows.get(field)
              if (r === undefined) {
                r = { cost: 0, count: 0, saved: 0 }
                rows.set(field, r)
              }
              return r
            }
            for (let i = 0; i + 1 < flat.length; i += 2) {
              const name = String(flat[i])
              const value = Number(flat[i + 1])
              if (name.startsWith("c:")) rowOf(name.slice(2)).cost = value
              else if (name.startsWith("n:")) rowOf(name.slice(2)).count = value
            }
            for (let i = 0; i + 1 < savedFlat.length; i += 2) {
              rowOf(String(savedFlat[i])).saved = Number(savedFlat[i + 1])
            }
            const out: Array<CostRow> = []
            for (const [field, r] of rows) {
              out.push({ dims: dimsOfField(field), cost: r.cost, count: r.count, saved: r.saved })
            }
            return out
          })
        )
      },
      totals: (period, starts) =>
        starts.length === 0 ?
          Effect.succeed([]) :
          redis.eval(totalsScript)(starts.map((s) => bucketKey(period, s)), []).pipe(
            Effect.mapError(storeError("forecast")),
            Effect.map((reply) => {
              const flat: ReadonlyArray<unknown> = Array.isArray(reply) ? reply : []
              return starts.map((_, i): CostTotal => ({
                total: Number(flat[2 * i] ?? 0),
                count: Number(flat[2 * i + 1] ?? 0)
              }))
            })
          )
    }
    return shape
  })

/**
 * The Redis `Costs` store. Layout under `prefix`: one hash per period bucket, `<prefix><period>:<start>` (`period`
 * `hour`, `day` or `month`, `start` its UTC start in epoch ms), with fields `t` (the bucket's total, USD, by
 * `HINCRBYFLOAT`), `n` (its record count), and per combination of dimension values `c:<field>` (its spend) and
 * `n:<field>` (its count), `<field>` being the canonical JSON array of the values (`CostsStore.rowField`).
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
local cost, field, maxRows = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 1, #KEYS do
  local k = KEYS[i]
  local f = field
  if redis.call('HEXISTS', k, 'c:' .. f) == 0 and (redis.call('HLEN', k) - 2) / 2 >= maxRows then f = '${OVERFLOW_FIELD}' end
  redis.call('HINCRBYFLOAT', k, 'c:' .. f, cost)
  redis.call('HINCRBY', k, 'n:' .. f, 1)
  redis.call('HINCRBYFLOAT', k, 't', cost)
  redis.call('HINCRBY', k, 'n', 1)
  redis.call('PEXPIRE', k, ARGV[3 + i])
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
    const shape: CostsStoreShape = {
      add: (entry, now) =>
        redis.eval(addScript)(
          [
            bucketKey("hour", periodStart("hour", now)),
            bucketKey("day", periodStart("day", now)),
            bucketKey("month", periodStart("month", now))
          ],
          [String(entry.cost), rowField(entry), max, ...ttls]
        ).pipe(Effect.asVoid, Effect.mapError(storeError("record"))),
      rows: (period, start) =>
        redis.send<ReadonlyArray<string> | Record<string, string>>("HGETALL", bucketKey(period, start)).pipe(
          Effect.mapError(storeError("stats")),
          Effect.map((reply) => {
            const flat = Array.isArray(reply) ? reply : Object.entries(reply).flat()
            const rows = new Map<string, { cost: number; count: number }>()
            const rowOf = (field: string) => {
              let r = rows.get(field)
              if (r === undefined) {
                r = { cost: 0, count: 0 }
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
            const out: Array<CostRow> = []
            for (const [field, r] of rows) out.push({ dims: dimsOfField(field), cost: r.cost, count: r.count })
            return out
          })
        ),
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

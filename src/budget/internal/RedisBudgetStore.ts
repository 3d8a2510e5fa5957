/**
 * The Redis budget store: one Lua script per operation, so a reservation across several scopes is all or none and
 * concurrent processes cannot read-then-write past a limit. Layout under `prefix`:
 * `b:<scope>` a hash (`limit`, `period`, `alertAt`, `start`, `spent`, `reserved`, `alerted`, micro-dollars);
 * `h:<scope>` a sorted set of live holds (`<id>:<amount>` scored by expiry, the amount in whole micro-dollars as the
 * caller wrote it: Lua's own number formatting would write `2e+14`); `r:<id>` marks an open reservation as
 * `<deadline>:<amount>` (settle and release are once per id). Settle and release end the hold the marker names —
 * the amount reserved, never the one the caller sends back — and follow the reservation life of `BudgetStore.ts`:
 * a marker is forgotten at its deadline (`expiresAt + LATE_SETTLE_MS`) by the caller's clock, as on memory and
 * PostgreSQL, and Redis deletes it by its own clock at about the same time. (A marker `1` of an earlier version
 * has no deadline or amount: its settle ends the hold of the amount the caller sends.) Expired holds are released by
 * the next script that touches their scope. Times are the callers' clocks (keep them in sync: a skew only moves
 * period boundaries, hold expiry and the late-settle deadline by that skew; periods never roll backwards).
 * @internal
 */
import { Effect, type Scope } from "effect"
import type { Redis } from "effect/persistence"
import { escapeGlob } from "../../internal/RedisGlob.ts"
// the rate limiter's script transport, shared: its own node-redis connection, EVALSHA by a local SHA-1, one
// `Effect.callback` per command and a real-time watchdog (see its module doc for why not effect's `Redis.eval`)
import { luaScript, makeRedisScriptRunner } from "../../ratelimit/internal/RedisScriptRunner.ts"
import type { RateLimitStoreError } from "../../ratelimit/RateLimitError.ts"
import type { BudgetPeriod } from "../Budget.ts"
import { periodStart } from "../Budget.ts"
import { BudgetStoreError } from "../BudgetError.ts"
import type { BudgetStoreShape, ReserveOutcome, StoreAlert } from "./BudgetStore.ts"
import { LATE_SETTLE_MS } from "./BudgetStore.ts"

/**
 * A scope's state in one `HMGET`, normalised (lapsed holds expired, the period rolled forward), and written back
 * in one `HSET`: the per-scope part of every script. `next` is a lower bound of the scope's earliest live hold
 * expiry, so the holds are scanned only when one may have lapsed (a bound, not exact: a settled hold leaves it
 * early, which costs one scan that recomputes it).
 */
const NORMALISE = `
local NONE = 9007199254740991
local function load(b, h, now, dayStart, monthStart)
  local f = redis.call('HMGET', b, 'limit', 'period', 'start', 'spent', 'reserved', 'alerted', 'alertAt', 'next')
  if not f[1] then return nil end
  local s = {
    limit = tonumber(f[1]), start = tonumber(f[3]), spent = tonumber(f[4]), reserved = tonumber(f[5]),
    alerted = tonumber(f[6]), alertAt = f[7] or '', next = tonumber(f[8] or '0')
  }
  if now >= s.next then
    local expired = redis.call('ZRANGEBYSCORE', h, '-inf', now)
    if #expired > 0 then
      local sum = 0
      -- the amount after the last ':' (also the 2e+14 form that earlier versions wrote)
      for _, m in ipairs(expired) do sum = sum + tonumber(string.match(m, ':([^:]+)$')) end
      redis.call('ZREMRANGEBYSCORE', h, '-inf', now)
      s.reserved = s.reserved - sum
    end
    local first = redis.call('ZRANGE', h, 0, 0, 'WITHSCORES')
    s.next = first[2] and tonumber(first[2]) or NONE
  end
  local period = f[2]
  local ps = 0
  if period == 'day' then ps = dayStart elseif period == 'month' then ps = monthStart end
  if ps > s.start then
    s.start = ps
    s.spent = 0
    s.alerted = 0
  end
  return s
end
local function save(b, s)
  redis.call('HSET', b, 'start', s.start, 'spent', s.spent, 'reserved', s.reserved, 'alerted', s.alerted, 'next', s.next)
end
-- fires the thresholds not yet fired: all of them when exhausted, else those the spend reached
local function fire(s, i, exhausted, out)
  local ts = {}
  for t in string.gmatch(s.alertAt, '[^,]+') do ts[#ts + 1] = tonumber(t) end
  while s.alerted < #ts do
    local t = ts[s.alerted + 1]
    if not exhausted and s.spent < t * s.limit then break end
    s.alerted = s.alerted + 1
    out[#out + 1] = i
    out[#out + 1] = tostring(t)
    out[#out + 1] = s.spent
    out[#out + 1] = s.limit
  end
end
`

// the hold's member is `<id>:<ARGV[2]>`, the amount as the caller wrote it (an integer, never an exponent), in
// RESERVE's ZADD and, through the marker `<deadline>:<ARGV[2]>`, in SETTLE's ZREM alike
const RESERVE = `${NORMALISE}
local now, amount, id, expiresAt = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local markerTtl, dayStart, monthStart = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local deadline = ARGV[8]
local n = (#KEYS - 1) / 2
local charged, states = {}, {}
for i = 1, n do
  local b, h = KEYS[2 * i - 1], KEYS[2 * i]
  local s = load(b, h, now, dayStart, monthStart)
  if s then
    if s.spent + s.reserved + amount > s.limit then
      local alerts = {}
      fire(s, i, true, alerts)
      save(b, s)
      for j, k in ipairs(charged) do save(KEYS[2 * k - 1], states[j]) end
      return {0, i, s.limit, s.spent, s.reserved, unpack(alerts)}
    end
    charged[#charged + 1] = i
    states[#states + 1] = s
  end
end
for j, i in ipairs(charged) do
  local s = states[j]
  s.reserved = s.reserved + amount
  if expiresAt < s.next then s.next = expiresAt end
  redis.call('ZADD', KEYS[2 * i], expiresAt, id .. ':' .. ARGV[2])
  save(KEYS[2 * i - 1], s)
end
redis.call('SET', KEYS[#KEYS], deadline .. ':' .. ARGV[2], 'PX', markerTtl)
return {1, unpack(charged)}
`

// the marker names the hold (`<deadline>:<amount>`); a marker past its deadline is forgotten (nothing to settle),
// and one without a deadline (`1`, an earlier version) falls back to the caller's amount ARGV[2]
const SETTLE = `${NORMALISE}
local now, actual, id = tonumber(ARGV[1]), tonumber(ARGV[3]), ARGV[4]
local dayStart, monthStart, withAlerts = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local marker = redis.call('GET', KEYS[#KEYS])
if not marker then return {} end
redis.call('DEL', KEYS[#KEYS])
local deadline, held = string.match(marker, '^(%d+):(%d+)$')
if not deadline then
  held = ARGV[2]
elseif now >= tonumber(deadline) then
  return {}
end
local amount = tonumber(held)
local n = (#KEYS - 1) / 2
local alerts = {}
for i = 1, n do
  local b, h = KEYS[2 * i - 1], KEYS[2 * i]
  local s = load(b, h, now, dayStart, monthStart)
  if s then
    if redis.call('ZREM', h, id .. ':' .. held) == 1 then s.reserved = s.reserved - amount end
    s.spent = s.spent + actual
    if withAlerts then fire(s, i, false, alerts) end
    save(b, s)
  end
end
return alerts
`

const SET = `
local b, h = KEYS[1], KEYS[2]
local limit, period, alertAt, start, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', b) == 0 then
  redis.call('HSET', b, 'limit', limit, 'period', period, 'alertAt', alertAt, 'start', start, 'spent', 0, 'reserved', 0, 'alerted', 0)
  return 1
end
redis.call('HSET', b, 'limit', limit, 'period', period, 'alertAt', alertAt)
if tonumber(redis.call('HGET', b, 'start')) < start then redis.call('HSET', b, 'start', start, 'spent', 0, 'alerted', 0) end
local count = 0
for _ in string.gmatch(alertAt, '[^,]+') do count = count + 1 end
if tonumber(redis.call('HGET', b, 'alerted')) > count then redis.call('HSET', b, 'alerted', count) end
return 0
`

const GET = `${NORMALISE}
local b, h = KEYS[1], KEYS[2]
local s = load(b, h, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if not s then return false end
save(b, s)
return redis.call('HMGET', b, 'limit', 'period', 'alertAt', 'start', 'spent', 'reserved')
`

const script = luaScript
const reserveScript = script(RESERVE)
const settleScript = script(SETTLE)
const setScript = script(SET)
const getScript = script(GET)

const storeError = (operation: string) => (cause: RateLimitStoreError): BudgetStoreError =>
  new BudgetStoreError({ operation, detail: cause.reason })

const num = (u: unknown): number => Number(u)
const asArray = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])

export const makeRedisBudgetStore = (
  prefix: string,
  timeoutMs: number
): Effect.Effect<BudgetStoreShape, never, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const runner = yield* makeRedisScriptRunner(timeoutMs)
    const redis = {
      eval: (script: ReturnType<typeof luaScript>) => (keys: ReadonlyArray<string>, args: ReadonlyArray<string>) =>
        runner.run<unknown>("budget", script, keys, args),
      send: (...args: ReadonlyArray<string>) => runner.send<unknown>("budget", args)
    }
    const budgetKey = (scope: string) => `${prefix}b:${scope}`
    const holdsKey = (scope: string) => `${prefix}h:${scope}`
    const scopeKeys = (scopes: ReadonlyArray<string>) => scopes.flatMap((s) => [budgetKey(s), holdsKey(s)])
    const starts = (now: number) => [String(periodStart("day", now)), String(periodStart("month", now))]
    const getStatus = (scope: string, now: number) =>
      redis.eval(getScript)([budgetKey(scope), holdsKey(scope)], [String(now), ...starts(now)]).pipe(
        Effect.map((reply) => {
          if (!Array.isArray(reply)) return undefined
          // an array (checked above); the get script replies these six fields in this order
          const [limit, period, alertAt, start, spent, reserved] = reply as ReadonlyArray<unknown>
          return {
            scope,
            limit: num(limit),
            // the store writes only BudgetPeriod values into this field
            period: String(period) as BudgetPeriod,
            alertAt: String(alertAt ?? "").split(",").filter((t) => t !== "").map(Number),
            periodStart: num(start),
            spent: num(spent),
            reserved: num(reserved)
          }
        }),
        Effect.mapError(storeError("get"))
      )
    /** Alerts from the scripts' flat `[scope index, threshold, spent, limit]` quadruples. */
    const describeAlerts = (
      scopes: ReadonlyArray<string>,
      flat: ReadonlyArray<unknown>,
      reason: StoreAlert["reason"]
    ): ReadonlyArray<StoreAlert> => {
      const out: Array<StoreAlert> = []
      for (let i = 0; i + 3 < flat.length; i += 4) {
        out.push({
          scope: scopes[num(flat[i]) - 1] ?? "",
          threshold: num(flat[i + 1]),
          spent: num(flat[i + 2]),
          limit: num(flat[i + 3]),
          reason
        })
      }
      return out
    }
    const shape: BudgetStoreShape = {
      set: (spec, now) =>
        redis.eval(setScript)(
          [budgetKey(spec.scope), holdsKey(spec.scope)],
          [String(spec.limit), spec.period, spec.alertAt.join(","), String(periodStart(spec.period, now)), String(now)]
        ).pipe(Effect.asVoid, Effect.mapError(storeError("set"))),
      get: getStatus,
      remove: (scope) =>
        redis.send("DEL", budgetKey(scope), holdsKey(scope)).pipe(Effect.asVoid, Effect.mapError(storeError("remove"))),
      // SCAN over `b:*` under the prefix (glob characters escaped), at most 100 batches of 500 keys looked at
      scopes: (limit) =>
        Effect.gen(function*() {
          const match = `${escapeGlob(prefix)}b:*`
          const found = new Set<string>()
          let cursor = "0"
          for (let i = 0; i < 100; i++) {
            const reply = yield* redis.send("SCAN", cursor, "MATCH", match, "COUNT", "500")
            // SCAN replies [next cursor, keys]
            const [next, keys] = reply as readonly [unknown, ReadonlyArray<unknown>]
            for (const k of keys) found.add(String(k).slice(prefix.length + 2))
            cursor = String(next)
            if (cursor === "0") break
          }
          return [...found].sort().slice(0, limit)
        }).pipe(Effect.mapError(storeError("list"))),
      reserve: (request) =>
        redis.eval(reserveScript)(
          [...scopeKeys(request.scopes), `${prefix}r:${request.id}`],
          [
            String(request.now),
            String(request.amount),
            request.id,
            String(request.expiresAt),
            String(Math.max(1, request.expiresAt - request.now) + LATE_SETTLE_MS),
            ...starts(request.now),
            String(request.expiresAt + LATE_SETTLE_MS)
          ]
        ).pipe(
          Effect.mapError(storeError("reserve")),
          Effect.flatMap((reply): Effect.Effect<ReserveOutcome, BudgetStoreError> => {
            const r = asArray(reply)
            if (num(r[0]) === 1) {
              return Effect.succeed({
                _tag: "Reserved",
                scopes: r.slice(1).map((i) => request.scopes[num(i) - 1] ?? "")
              })
            }
            const scope = request.scopes[num(r[1]) - 1] ?? ""
            return Effect.succeed({
              _tag: "Refused",
              scope,
              limit: num(r[2]),
              spent: num(r[3]),
              reserved: num(r[4]),
              alerts: describeAlerts(request.scopes, r.slice(5), "exhausted")
            })
          })
        ),
      settle: (request) =>
        redis.eval(settleScript)(
          [...scopeKeys(request.scopes), `${prefix}r:${request.id}`],
          [String(request.now), String(request.amount), String(request.actual), request.id, ...starts(request.now), "1"]
        ).pipe(
          Effect.mapError(storeError("settle")),
          Effect.map((reply) => describeAlerts(request.scopes, asArray(reply), "spend"))
        ),
      release: (request) =>
        redis.eval(settleScript)(
          [...scopeKeys(request.scopes), `${prefix}r:${request.id}`],
          [String(request.now), String(request.amount), "0", request.id, ...starts(request.now), "0"]
        ).pipe(Effect.asVoid, Effect.mapError(storeError("release")))
    }
    return shape
  })

/**
 * The Lua scripts of the Redis budget store (see `RedisBudgetStore.ts` for the key layout and the rules): one per
 * operation, each atomic on the server. Redis does not roll a script back, so in a script that writes, every step
 * that can fail comes before its first write.
 * @internal
 */
import { luaScript } from "../../ratelimit/internal/RedisScriptRunner.ts"

/**
 * A scope's state in one `HMGET`, normalised (lapsed holds expired, the period rolled forward), and written back
 * in one `HSET`: the per-scope part of every script. `next` is a lower bound of the scope's earliest live hold
 * expiry, so the holds are scanned only when one may have lapsed (a bound, not exact: a settled hold leaves it
 * early, which costs one scan that recomputes it). The alert state is `fired`, the highest fraction fired this
 * period, written with the index `alerted` of earlier versions beside it and read by the rules of `ScopeRules.ts`.
 */
const NORMALISE = `
local NONE = 9007199254740991
-- a whole number the stores keep (money, times): also false for nil, NaN and the infinities
local function whole(x) return x ~= nil and x >= 0 and x <= NONE and math.floor(x) == x end
local function finite(x) return x ~= nil and x > -NONE and x < NONE end
-- alertAt's fractions as numbers and as written (the text goes back in alerts: tostring would round it)
local function fractions(alertAt)
  local ts, tt = {}, {}
  for t in string.gmatch(alertAt, '[^,]+') do
    ts[#ts + 1] = tonumber(t)
    tt[#tt + 1] = t
  end
  return ts, tt
end
-- how many fractions are at or below fired: the index an earlier version keeps as alerted
local function alertedIndex(ts, fired)
  local n = 0
  for _, t in ipairs(ts) do if t <= fired then n = n + 1 end end
  return n
end
-- fired while alerted agrees with it, else (written by an earlier version) the fraction the index names
local function firedOf(ts, alerted, fired)
  if fired and alertedIndex(ts, fired) == alerted then return fired end
  local n = math.min(alerted, #ts)
  if n > 0 then return ts[n] end
  return 0
end
-- the highest fraction the spend has reached of the limit
local function reached(ts, spent, limit)
  local r = 0
  for _, t in ipairs(ts) do if spent >= t * limit and t > r then r = t end end
  return r
end
local function load(b, h, now, dayStart, monthStart)
  local f = redis.call('HMGET', b, 'limit', 'period', 'start', 'spent', 'reserved', 'alerted', 'alertAt', 'next', 'fired')
  if not f[1] then return nil end
  local s = {
    limit = tonumber(f[1]), start = tonumber(f[3]), spent = tonumber(f[4]), reserved = tonumber(f[5]),
    next = tonumber(f[8] or '0')
  }
  s.ts, s.tt = fractions(f[7] or '')
  s.fired = firedOf(s.ts, tonumber(f[6] or '0'), tonumber(f[9] or ''))
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
    s.fired = 0
  end
  return s
end
local function save(b, s)
  redis.call('HSET', b, 'start', s.start, 'spent', s.spent, 'reserved', s.reserved, 'next', s.next,
    'alerted', alertedIndex(s.ts, s.fired), 'fired', s.fired)
end
-- fires the fractions above the highest fired: all of them when exhausted, else those the spend reached
local function fire(s, i, exhausted, out)
  for k, t in ipairs(s.ts) do
    if t > s.fired then
      if not exhausted and s.spent < t * s.limit then break end
      s.fired = t
      out[#out + 1] = i
      out[#out + 1] = s.tt[k]
      out[#out + 1] = s.spent
      out[#out + 1] = s.limit
    end
  end
end
`

// the hold's member is `<id>:<ARGV[2]>`, the amount as the caller wrote it (an integer, never an exponent), in
// RESERVE's ZADD and, through the marker `<deadline>:<ARGV[2]>`, in SETTLE's ZREM alike. Redis does not roll a
// script back, so every check that can fail comes before the first write: the arguments are validated first, and
// the marker (a `PX` that only takes whole milliseconds) is written before the holds
const RESERVE = `${NORMALISE}
local now, amount, id, expiresAt = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local markerTtl, dayStart, monthStart = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local deadline = ARGV[8]
if not (finite(now) and whole(amount) and whole(expiresAt) and whole(markerTtl) and markerTtl >= 1
  and whole(dayStart) and whole(monthStart) and whole(tonumber(deadline))) then
  return redis.error_reply('ERR invalid budget reservation (not whole micro-dollars and milliseconds)')
end
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
redis.call('SET', KEYS[#KEYS], deadline .. ':' .. ARGV[2], 'PX', markerTtl)
for j, i in ipairs(charged) do
  local s = states[j]
  s.reserved = s.reserved + amount
  if expiresAt < s.next then s.next = expiresAt end
  redis.call('ZADD', KEYS[2 * i], expiresAt, id .. ':' .. ARGV[2])
  save(KEYS[2 * i - 1], s)
end
return {1, unpack(charged)}
`

// the marker names the hold (`<deadline>:<amount>`); a marker past its deadline is forgotten (nothing to settle),
// and one without a deadline (`1`, an earlier version) falls back to the caller's amount ARGV[2]
const SETTLE = `${NORMALISE}
local now, actual, id = tonumber(ARGV[1]), tonumber(ARGV[3]), ARGV[4]
local dayStart, monthStart, withAlerts = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
if not (finite(now) and whole(actual) and whole(dayStart) and whole(monthStart)) then
  return redis.error_reply('ERR invalid budget settlement (not whole micro-dollars and milliseconds)')
end
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

// a new budget, or a changed one: the period rolls by the new spec (spend and alerts kept within it), a new limit
// re-bases the alerts (ScopeRules.ts); the scope joins the index `list` reads
const SET = `${NORMALISE}
local b, index = KEYS[1], KEYS[2]
local limit, period, alertAt, start = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('ZADD', index, 0, ARGV[5])
local ts = fractions(alertAt)
if redis.call('EXISTS', b) == 0 then
  redis.call('HSET', b, 'limit', ARGV[1], 'period', period, 'alertAt', alertAt, 'start', start, 'spent', 0, 'reserved', 0, 'alerted', 0, 'fired', 0)
  return 1
end
local f = redis.call('HMGET', b, 'limit', 'start', 'spent', 'alerted', 'alertAt', 'fired')
local fired = firedOf(fractions(f[5] or ''), tonumber(f[4] or '0'), tonumber(f[6] or ''))
if tonumber(f[2]) < start then
  redis.call('HSET', b, 'start', start, 'spent', 0)
  fired = 0
elseif tonumber(f[1]) ~= limit then
  fired = math.min(fired, reached(ts, tonumber(f[3]), limit))
end
redis.call('HSET', b, 'limit', ARGV[1], 'period', period, 'alertAt', alertAt, 'alerted', alertedIndex(ts, fired), 'fired', fired)
return 0
`

const REMOVE = `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`

// the budgets an earlier version made (before the index): each key of a SCAN batch that is still a budget joins it
const BACKFILL = `
local n = 0
for i = 2, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'hash' then
    redis.call('ZADD', KEYS[1], 0, ARGV[i - 1])
    n = n + 1
  end
end
return n
`

const GET = `${NORMALISE}
local b, h = KEYS[1], KEYS[2]
local s = load(b, h, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if not s then return false end
save(b, s)
return redis.call('HMGET', b, 'limit', 'period', 'alertAt', 'start', 'spent', 'reserved')
`

export const reserveScript = luaScript(RESERVE)
export const settleScript = luaScript(SETTLE)
export const setScript = luaScript(SET)
export const getScript = luaScript(GET)
export const removeScript = luaScript(REMOVE)
export const backfillScript = luaScript(BACKFILL)

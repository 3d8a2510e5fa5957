/**
 * The Redis budget store: one Lua script per operation, so a reservation across several scopes is all or none and
 * concurrent processes cannot read-then-write past a limit. Layout under `prefix`:
 * `b:<scope>` a hash (`limit`, `period`, `alertAt`, `start`, `spent`, `reserved`, micro-dollars, and the alert state
 * `fired` beside the `alerted` index of earlier versions, see `ScopeRules.ts`); `index` a sorted set of the scopes
 * that have a budget (all scored 0, so in scope order), kept by `set` and `remove`, which `list` reads;
 * `h:<scope>` a sorted set of live holds (`<id>:<amount>` scored by expiry, the amount in whole micro-dollars as the
 * caller wrote it: Lua's own number formatting would write `2e+14`); `r:<id>` marks an open reservation as
 * `<deadline>:<amount>` (settle and release are once per id). Settle and release end the hold the marker names —
 * the amount reserved, never the one the caller sends back — and follow the reservation life of `BudgetStore.ts`:
 * a marker is forgotten at its deadline (`expiresAt + LATE_SETTLE_MS`) by the caller's clock, as on memory and
 * PostgreSQL, and Redis deletes it by its own clock at about the same time. (A marker `1` of an earlier version
 * has no deadline or amount: its settle ends the hold of the amount the caller sends.) Expired holds are released by
 * the next script that touches their scope. Times are the callers' clocks (keep them in sync: a skew only moves
 * period boundaries, hold expiry and the late-settle deadline by that skew; periods never roll backwards).
 *
 * Budgets an earlier version made (before `index`) join the index once per prefix: the first `list` on a prefix
 * without the marker `index:backfilled` scans the database for `b:*` keys under the prefix (SCAN, 1,000 keys a
 * batch, to its end), adds those that are still budget hashes, then writes the marker. A budget an earlier version
 * makes after that joins the index when it is next set by this version. The scripts are in `RedisBudgetScripts.ts`.
 * @internal
 */
import { Effect, type Scope } from "effect"
import type { Redis } from "effect/persistence"
import { escapeGlob } from "../../internal/RedisGlob.ts"
// the rate limiter's script transport, shared: its own node-redis connection, EVALSHA by a local SHA-1, one
// `Effect.callback` per command and a real-time watchdog (see its module doc for why not effect's `Redis.eval`)
import { type LuaScript, makeRedisScriptRunner } from "../../ratelimit/internal/RedisScriptRunner.ts"
import type { RateLimitStoreError } from "../../ratelimit/RateLimitError.ts"
import type { BudgetPeriod } from "../Budget.ts"
import { periodStart } from "../Budget.ts"
import { BudgetStoreError } from "../BudgetError.ts"
import type { BudgetStoreShape, ReserveOutcome, StoreAlert } from "./BudgetStore.ts"
import { LATE_SETTLE_MS } from "./BudgetStore.ts"
import {
  backfillScript,
  getScript,
  removeScript,
  reserveScript,
  setScript,
  settleScript
} from "./RedisBudgetScripts.ts"

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
      eval: (script: LuaScript) => (keys: ReadonlyArray<string>, args: ReadonlyArray<string>) =>
        runner.run<unknown>("budget", script, keys, args),
      send: (...args: ReadonlyArray<string>) => runner.send<unknown>("budget", args)
    }
    const budgetKey = (scope: string) => `${prefix}b:${scope}`
    const holdsKey = (scope: string) => `${prefix}h:${scope}`
    const indexKey = `${prefix}index`
    const backfilledKey = `${prefix}index:backfilled`
    let indexed = false
    /** Once per prefix (the marker records it): the budgets of an earlier version join the index (module doc). */
    const backfill = Effect.suspend(() =>
      indexed ? Effect.void : Effect.gen(function*() {
        if (num(yield* redis.send("EXISTS", backfilledKey)) === 0) {
          const match = `${escapeGlob(prefix)}b:*`
          let cursor = "0"
          do {
            // SCAN replies [next cursor, keys]
            const reply = yield* redis.send("SCAN", cursor, "MATCH", match, "COUNT", "1000")
            const [next, keys] = reply as readonly [unknown, ReadonlyArray<unknown>]
            const found = keys.map(String)
            if (found.length > 0) {
              yield* redis.eval(backfillScript)([indexKey, ...found], found.map((k) => k.slice(prefix.length + 2)))
            }
            cursor = String(next)
          } while (cursor !== "0")
          yield* redis.send("SET", backfilledKey, "1")
        }
        indexed = true
      })
    )
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
            periodStart: period === "total" ? 0 : num(start),
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
          [budgetKey(spec.scope), indexKey],
          [String(spec.limit), spec.period, spec.alertAt.join(","), String(periodStart(spec.period, now)), spec.scope]
        ).pipe(Effect.asVoid, Effect.mapError(storeError("set"))),
      get: getStatus,
      remove: (scope) =>
        redis.eval(removeScript)([budgetKey(scope), holdsKey(scope), indexKey], [scope]).pipe(
          Effect.asVoid,
          Effect.mapError(storeError("remove"))
        ),
      // the index, in scope order (every score is 0), after the one-time backfill
      scopes: (limit) =>
        Effect.andThen(backfill, redis.send("ZRANGE", indexKey, "0", String(limit - 1))).pipe(
          Effect.map((reply) => asArray(reply).map(String)),
          Effect.mapError(storeError("list"))
        ),
      reserve: (request) =>
        redis.eval(reserveScript)(
          [...scopeKeys(request.scopes), `${prefix}r:${request.id}`],
          [
            String(request.now),
            String(request.amount),
            request.id,
            String(request.expiresAt),
            String(Math.ceil(Math.max(1, request.expiresAt - request.now)) + LATE_SETTLE_MS),
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

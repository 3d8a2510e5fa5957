/**
 * Budget benchmarks (issue 15), each interleaved with its baseline in the same run:
 * - `budget.reserve-settle`: one `reserve` + `settle` pair on the memory backend (two scopes), beside
 *   `ratelimit.check.budget-baseline` (a memory token-bucket check, 1 key) — target ≤ 1.3×; and
 *   `budget.reserve-settle.floor-hold-maps`, the bookkeeping alone that expiry and once-only settle need (a fresh
 *   id set, read and deleted in the open-reservation `Map`, and the two clock reads of a reserve and a settle; no
 *   Effect), to show how much of the ratio no implementation can remove; and `budget.reserve-settle.floor-two-calls`,
 *   that bookkeeping plus the two Effect calls a reserve and a settle are at the least (`yield*` of a ready `Exit`
 *   each): the floor of a reserve/settle pair that returns Effects and
 *   keeps its holds by string id in a map (as the stores do, so that a hold can be settled by its id alone).
 * - `budget.reserve-settle.redis`: the same pair on Redis (two Lua scripts: one before the call, one after),
 *   beside `ratelimit.check.redis.budget-baseline` (a one-tier check, one script) on the same server; and
 *   `budget.reserve-settle.redis.background`, the pair with `settle: "background"` (the settle not awaited); and
 *   `budget.reserve-settle.redis.floor-two-round-trips`, two sequential round trips of the cheapest script
 *   (`return 1`) through the stores' script runner (own connection, `EVALSHA`): the floor of a reserve and a settle
 *   that each wait for Redis.
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { Redis } from "effect/persistence"
import { Budgets } from "../src/budget/index.ts"
import { RateLimiter } from "../src/ratelimit/index.ts"
import { trivialScript } from "../src/ratelimit/internal/RedisScript.ts"
import { makeRedisScriptRunner } from "../src/ratelimit/internal/RedisScriptRunner.ts"
import type { BenchRow, InterleavedBatch } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const BIG = 1e12
const bucket = {
  tiers: [{ _tag: "TokenBucket" as const, name: "b", capacity: BIG, refillTokens: BIG, refillEvery: 1000 }]
}
const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

const pair = (budgets: Budgets["Service"], ops: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const r = yield* budgets.reserve({ scopes: ["key:bench", "tenant:bench"], amount: 0.002 })
      yield* budgets.settle(r, 0.001)
    }
  })

let holdCounter = 0
const open = new Map<string, { readonly amount: number; readonly expiresAt: number }>()
let floorSink = 0

const memoryRows = async (): Promise<Array<BenchRow>> => {
  const OPS = 2_000
  const rt = ManagedRuntime.make(
    Layer.merge(Budgets.layerMemory(), RateLimiter.layerMemory({ policies: { default: bucket } }))
  )
  const rows = await timeInterleaved(Effect.gen(function*() {
    const budgets = yield* Effect.promise(() => rt.runPromise(Budgets.use(Effect.succeed)))
    const limiter = yield* Effect.promise(() => rt.runPromise(RateLimiter.use(Effect.succeed)))
    yield* budgets.set({ scope: "key:bench", limit: 1e9, period: "total" })
    yield* budgets.set({ scope: "tenant:bench", limit: 1e9, period: "month" })
    const batches: ReadonlyArray<InterleavedBatch> = [
      {
        id: "ratelimit.check.budget-baseline",
        ops: OPS,
        batch: Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) yield* limiter.check("bench")
        }),
        note: "memory token bucket, 1 key, sequential check() in one fiber (interleaved with budget.reserve-settle)"
      },
      {
        id: "budget.reserve-settle",
        ops: OPS,
        batch: pair(budgets, OPS),
        baseline: "ratelimit.check.budget-baseline",
        note: "memory: reserve on two scopes + settle, sequential in one fiber (target ratio <= 1.3)"
      },
      {
        id: "budget.reserve-settle.floor-hold-maps",
        ops: OPS,
        batch: Effect.sync(() => {
          for (let i = 0; i < OPS; i++) {
            const id = `hold-${(holdCounter++).toString(36)}`
            open.set(id, { amount: i, expiresAt: Date.now() + 900_000 })
            const hold = open.get(id)
            open.delete(id)
            floorSink += (hold?.amount ?? 0) + Date.now()
          }
        }),
        baseline: "ratelimit.check.budget-baseline",
        note:
          "the least a reservation with expiry and once-only settle does: one fresh id set, read and deleted in the open-reservation map, and the clock read of a reserve and of a settle; no Effect (what the memory store does besides its arithmetic)"
      },
      {
        id: "budget.reserve-settle.floor-two-calls",
        ops: OPS,
        batch: Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) {
            const id = `hold-${(holdCounter++).toString(36)}`
            open.set(id, { amount: i, expiresAt: Date.now() + 900_000 })
            const reserved = yield* Exit.succeed(id)
            const hold = open.get(reserved)
            open.delete(reserved)
            floorSink += yield* Exit.succeed((hold?.amount ?? 0) + Date.now())
          }
        }),
        baseline: "ratelimit.check.budget-baseline",
        note:
          "the bookkeeping above plus the two Effect calls of a reserve and a settle (yield* of a ready Exit each): the floor of a reserve/settle pair returning Effects"
      }
    ]
    return batches
  }))
  await rt.dispose()
  return rows
}

const redisRows = async (): Promise<Array<BenchRow>> => {
  const prefix = `troupe-bench:budget:${process.pid}:`
  const redisLayer = NodeRedis.layer({ url: redisUrl })
  const rt = ManagedRuntime.make(Layer.mergeAll(
    Budgets.layerRedis({ prefix }).pipe(Layer.provide(redisLayer)),
    RateLimiter.layerRedis({ prefix: `${prefix}rl:`, policies: { default: bucket }, onStoreError: "failClosed" }).pipe(
      Layer.provide(redisLayer)
    ),
    redisLayer
  ))
  const up = await rt.runPromise(Effect.exit(Redis.Redis.use((r) => r.send("PING"))))
  if (up._tag === "Failure") {
    process.stderr.write(`  (skipping Redis budget rows: no Redis at ${redisUrl})\n`)
    await rt.dispose()
    return []
  }
  // the same service with `settle: "background"`, on the runtime's Redis connection
  const bgScope = await rt.runPromise(Scope.make())
  const background = await rt.runPromise(
    Layer.buildWithScope(Budgets.layerRedis({ prefix: `${prefix}bg:`, settle: "background" }), bgScope).pipe(
      Effect.map(Context.get(Budgets))
    )
  )
  const runnerScope = await rt.runPromise(Scope.make())
  const OPS = 25
  const rows = await timeInterleaved(
    Effect.gen(function*() {
      const budgets = yield* Effect.promise(() => rt.runPromise(Budgets.use(Effect.succeed)))
      const limiter = yield* Effect.promise(() => rt.runPromise(RateLimiter.use(Effect.succeed)))
      // the floor runs through the stores' own transport: the script runner's connection, EVALSHA, its timeout
      const runner = yield* Effect.promise(() =>
        rt.runPromise(Scope.provide(makeRedisScriptRunner(5_000), runnerScope))
      )
      const floorKey = `${prefix}floor`
      yield* budgets.set({ scope: "key:bench", limit: 1e9, period: "total" })
      yield* budgets.set({ scope: "tenant:bench", limit: 1e9, period: "month" })
      yield* background.set({ scope: "key:bench", limit: 1e9, period: "total" })
      yield* background.set({ scope: "tenant:bench", limit: 1e9, period: "month" })
      const batches: ReadonlyArray<InterleavedBatch> = [
        {
          id: "ratelimit.check.redis.budget-baseline",
          ops: OPS,
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) yield* limiter.check("bench")
          }),
          note:
            "Redis, one token-bucket tier in one script, sequential in one fiber (interleaved with budget.reserve-settle.redis)"
        },
        {
          id: "budget.reserve-settle.redis",
          ops: OPS,
          batch: pair(budgets, OPS),
          baseline: "ratelimit.check.redis.budget-baseline",
          note: "Redis: reserve on two scopes (one script) + settle (one script), sequential in one fiber"
        },
        {
          id: "budget.reserve-settle.redis.background",
          ops: OPS,
          batch: pair(background, OPS),
          baseline: "ratelimit.check.redis.budget-baseline",
          note:
            "Redis, settle: \"background\": the same two scripts, the settle sent at once and not awaited (the next reserve runs after it on the same connection), sequential in one fiber (target ratio <= 1.3)"
        },
        {
          id: "budget.reserve-settle.redis.floor-two-round-trips",
          ops: OPS,
          batch: Effect.gen(function*() {
            for (let i = 0; i < OPS; i++) {
              yield* runner.run("floor", trivialScript, [floorKey], [])
              yield* runner.run("floor", trivialScript, [floorKey], [])
            }
          }),
          baseline: "ratelimit.check.redis.budget-baseline",
          note:
            "two sequential round trips of the cheapest script (return 1) through the stores' script runner (own connection, EVALSHA), sequential in one fiber: the floor of a reserve and a settle that each wait for Redis"
        }
      ]
      return batches
    }),
    { samples: 60, warmup: 5 }
  )
  await rt.runPromise(
    Redis.Redis.use((r) =>
      Effect.flatMap(
        r.send<ReadonlyArray<string>>("KEYS", `${prefix}*`),
        (keys) => (keys.length > 0 ? r.send("DEL", ...keys) : Effect.void)
      )
    )
  )
  await rt.runPromise(Scope.close(runnerScope, Exit.void))
  await rt.runPromise(Scope.close(bgScope, Exit.void))
  await rt.dispose()
  return rows
}

export default async (): Promise<ReadonlyArray<BenchRow>> => [...await memoryRows(), ...await redisRows()]

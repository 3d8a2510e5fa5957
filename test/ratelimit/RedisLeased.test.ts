/**
 * Leased mode (`LeaseTable.ts`): batches of tokens taken atomically from every tier, served in memory.
 * Rules tested: total admitted ≤ N always; ≥ N − outstanding leases when demand exceeds N (4 OS processes ×
 * 250 fibers); unused tokens go back on release; k adapts (grows with the rate, shrinks near the limit so the
 * last token is reachable); store failures follow the same policies (failClosed, insurance) as unleased.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { RateLimiter, type RedisRateLimiterOptionsInput } from "../../src/ratelimit/index.ts"
import { leaseExpiry, nextBatch } from "../../src/ratelimit/internal/LeaseTable.ts"
import { decodePolicy } from "../../src/ratelimit/RateLimitPolicy.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { startOwnRedis } from "./support/ownRedis.ts"

const runPrefix = uniquePrefix("rl-leased")

const cleanup = async (prefix: string): Promise<void> => {
  const client = createClient({ url: redisUrl })
  await client.connect()
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys)
  }
  await client.close()
}

const leased = (limit: number, maxTokens = 32) => ({
  default: {
    tiers: [{ _tag: "TokenBucket" as const, name: "a", capacity: limit, refillTokens: 1, refillEvery: "1 hour" }],
    lease: { maxTokens, ttl: "1 minute" }
  }
})

describe("lease batch size and expiry", () => {
  it.effect("k grows at most by doubling, is capped by maxTokens, and shrinks to the cost near the limit", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy("p", {
        tiers: [{ _tag: "FixedWindow", limit: 1000, window: 60_000 }],
        lease: { maxTokens: 100, ttl: 1000 }
      })
      assert.strictEqual(nextBatch(policy, { served: 0, takenAt: 0, k: 0, minRemaining: Infinity }, 1, 0, 4), 1)
      assert.strictEqual(nextBatch(policy, { served: 10, takenAt: 0, k: 4, minRemaining: Infinity }, 1, 1, 4), 8)
      assert.strictEqual(nextBatch(policy, { served: 1000, takenAt: 0, k: 80, minRemaining: 900 }, 1, 1, 4), 100)
      assert.strictEqual(nextBatch(policy, { served: 1000, takenAt: 0, k: 80, minRemaining: 12 }, 1, 1, 4), 3)
      assert.strictEqual(nextBatch(policy, { served: 1000, takenAt: 0, k: 80, minRemaining: 2 }, 1, 1, 4), 1)
      // a slow caller (1 check a second, ttl 1 s) leases nothing beyond its check
      assert.strictEqual(nextBatch(policy, { served: 1, takenAt: 0, k: 1, minRemaining: 900 }, 1, 1000, 4), 1)
    }))

  it.effect("a lease expires after ttl or at the next fixed-window boundary, whichever is first", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy("p", {
        tiers: [{ _tag: "FixedWindow", limit: 10, window: 1000 }],
        lease: { ttl: 300 }
      })
      assert.strictEqual(leaseExpiry(policy, 100), 400)
      assert.strictEqual(leaseExpiry(policy, 900), 1000)
      const defaults = yield* decodePolicy("p", { tiers: [{ _tag: "FixedWindow", limit: 10, window: 100 }], lease: {} })
      assert.deepStrictEqual(defaults.lease, { maxTokens: 100, ttlMs: 10, returnable: true })
      const sliding = yield* decodePolicy("p", {
        tiers: [{ _tag: "SlidingWindow", limit: 10, window: 60_000 }],
        lease: {}
      })
      assert.deepStrictEqual(sliding.lease, { maxTokens: 100, ttlMs: 1000, returnable: false })
    }))
})

describeRedis("RateLimiter (Redis) leased mode", () => {
  afterAll(() => cleanup(runPrefix))
  const layer = (options: RedisRateLimiterOptionsInput) =>
    RateLimiter.layerRedis({ onStoreError: "failClosed", ...options }).pipe(
      Layer.provide(NodeRedis.layer({ url: redisUrl }))
    )

  it.live(
    "one process, demand over N: admits exactly N, the last token included; unused tokens go back on release",
    () =>
      Effect.gen(function*() {
        const prefix = `${runPrefix}one:`
        const admitted = yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          const results = yield* Effect.forEach(Array.from({ length: 300 }), () => Effect.result(rl.check("k")), {
            concurrency: 64
          })
          const stats = yield* rl.stats
          assert.isBelow(stats.leases.requests, 300 / 2) // most checks served from leases
          return results.filter((r) => r._tag === "Success").length
        }).pipe(Effect.provide(layer({ prefix, policies: leased(200) })))
        assert.strictEqual(admitted, 200)
        // a fresh process with lease tokens left over: they go back when its layer is released
        yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.reset("r")
          for (let i = 0; i < 40; i++) yield* rl.check("r")
          const stats = yield* rl.stats
          assert.isAbove(stats.leases.outstanding, 0)
        }).pipe(Effect.provide(layer({ prefix, policies: leased(1000) })))
        const status = yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          return yield* rl.status("r")
        }).pipe(Effect.provide(layer({ prefix, policies: leased(1000) })))
        assert.closeTo(status.tiers[0]?.remaining ?? 0, 960, 0.5)
      }),
    30_000
  )

  it.live(
    "4 OS processes x 250 fibers, demand over N: total admitted <= N and >= N - outstanding leases; the rest goes back",
    () =>
      Effect.promise(async () => {
        const prefix = `${runPrefix}procs:`
        const limit = 2000
        const script = fileURLToPath(new URL("./fixtures/leased.ts", import.meta.url))
        const children = [0, 1, 2, 3].map(() =>
          spawn(process.execPath, [script], {
            env: {
              ...process.env,
              REDIS_URL: redisUrl,
              RL_PREFIX: prefix,
              RL_FIBERS: "250",
              RL_DURATION_MS: "1200",
              RL_LIMIT: String(limit)
            },
            stdio: ["pipe", "pipe", "inherit"]
          })
        )
        type Out = {
          admitted: number
          errors: number
          checks: number
          outstanding: number
          dropped: number
          requests: number
        }
        const lines = children.map((child) => {
          let out = ""
          const ready = new Promise<void>((resolve) => {
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString()
              if (out.startsWith("ready\n")) resolve()
            })
          })
          const done = new Promise<Out>((resolve, reject) => {
            child.on("exit", (code) => (code === 0
              ? resolve(JSON.parse(out.slice("ready\n".length)))
              : reject(new Error(`leased child exited ${code}`))))
          })
          return { ready, done }
        })
        await Promise.all(lines.map((l) => l.ready))
        const startAt = Date.now() + 200
        for (const child of children) child.stdin.end(`${startAt}\n`)
        const results = await Promise.all(lines.map((l) => l.done))
        const total = results.reduce((n, r) => n + r.admitted, 0)
        const outstanding = results.reduce((n, r) => n + r.outstanding, 0)
        const checks = results.reduce((n, r) => n + r.checks, 0)
        const requests = results.reduce((n, r) => n + r.requests, 0)
        console.log(
          `leased: admitted ${total} of ${limit}, outstanding ${outstanding}, checks ${checks}, lease requests ${requests}`
        )
        assert.strictEqual(results.reduce((n, r) => n + r.errors, 0), 0)
        assert.isAbove(checks, 2 * limit) // demand exceeded N
        assert.isAtMost(total, limit)
        assert.isAtLeast(total, limit - outstanding)
        assert.strictEqual(results.reduce((n, r) => n + r.dropped, 0), 0)
        // released layers gave their outstanding tokens back: Redis holds exactly N - admitted
        const client = createClient({ url: redisUrl })
        await client.connect()
        const status = await Effect.runPromise(
          Effect.gen(function*() {
            const rl = yield* RateLimiter
            return yield* rl.status("shared")
          }).pipe(Effect.provide(layer({ prefix, policies: leased(limit) })))
        )
        await client.close()
        assert.closeTo(status.tiers[0]?.remaining ?? 0, limit - total, 1)
      }),
    90_000
  )

  it.live(
    "store failures follow the same policies: failClosed fails, insurance admits its share",
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.promise(() => startOwnRedis())
        const at = (options: RedisRateLimiterOptionsInput) =>
          RateLimiter.layerRedis({ prefix: "leased:", storeTimeout: "300 millis", ...options }).pipe(
            Layer.provide(NodeRedis.layer({ url: server.url }))
          )
        const closed = yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.check("warm")
          yield* Effect.promise(() => server.kill())
          return yield* Effect.result(rl.check("k"))
        }).pipe(Effect.provide(at({ policies: leased(8), onStoreError: "failClosed" })))
        assert.strictEqual(closed._tag === "Failure" ? closed.failure._tag : "Success", "RateLimitStoreError")
        const server2 = yield* Effect.promise(() => startOwnRedis())
        const insured = yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.check("warm")
          yield* Effect.promise(() => server2.kill())
          const results = yield* Effect.forEach([1, 2, 3, 4], () => Effect.result(rl.check("k")))
          return results.map((r) => (r._tag === "Success" ? `ok:${r.success.degraded}` : r.failure._tag))
        }).pipe(
          Effect.provide(
            RateLimiter.layerRedis({
              prefix: "leased:",
              storeTimeout: "300 millis",
              policies: leased(8),
              expectedProcesses: 4
            }).pipe(
              Layer.provide(NodeRedis.layer({ url: server2.url }))
            )
          )
        )
        assert.deepStrictEqual(insured, ["ok:insurance", "ok:insurance", "RateLimited", "RateLimited"]) // 8 / 4 = 2
      }),
    30_000
  )
})

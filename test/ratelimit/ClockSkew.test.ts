/**
 * Exactness across processes whose clocks disagree: fixed windows only roll forward (a `now` from an earlier
 * window counts against the stored, newer one), in the memory store and in the Lua script alike; and keys are
 * not lost to Redis's own expiry while a caller's clock lags or a TestClock stands still.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { TestClock } from "effect/testing"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { MemoryStore } from "../../src/ratelimit/internal/MemoryStore.ts"
import { makeRedisBackend } from "../../src/ratelimit/internal/RedisBackend.ts"
import { EXPIRY_SLACK_MS } from "../../src/ratelimit/internal/RedisScript.ts"
import { decodePolicy } from "../../src/ratelimit/RateLimitPolicy.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { manualClock } from "./support/clocks.ts"

const runPrefix = uniquePrefix("rl-skew")
const fixed2 = { default: { tiers: [{ _tag: "FixedWindow" as const, name: "w", limit: 2, window: 1000 }] } }

describe("fixed windows only roll forward (memory store)", () => {
  it.effect("a check stamped in an earlier window counts against the stored, newer window", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy("default", fixed2.default)
      const store = new MemoryStore()
      assert.isDefined(store.decide("k", policy, 1, 1001)) // window 1
      assert.isDefined(store.decide("k", policy, 1, 999)) // a lagging caller: still window 1
      assert.isUndefined(store.decide("k", policy, 1, 998)) // window 1 is full; window 0 is not reopened
      assert.isUndefined(store.decide("k", policy, 1, 1500))
      assert.strictEqual(store.rejectRetryMillis, 500)
      assert.isDefined(store.decide("k", policy, 1, 2000)) // window 2: forward
    }))
})

const cleanup = async (prefix: string): Promise<void> => {
  const client = createClient({ url: redisUrl })
  await client.connect()
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys)
  }
  await client.close()
}

describeRedis("fixed windows only roll forward (Redis)", () => {
  afterAll(() => cleanup(runPrefix))

  it.live("two callers 1 ms either side of a boundary, limit 2: at most 2 per window ever stored", () =>
    Effect.gen(function*() {
      const prefix = `${runPrefix}boundary:`
      const redis = NodeRedis.layer({ url: redisUrl })
      const early = { now: 999 }
      const late = { now: 1001 }
      const build = (time: { now: number }) =>
        Layer.build(
          RateLimiter.layerRedis({ prefix, onStoreError: "failClosed", policies: fixed2 }).pipe(Layer.provide(redis))
        ).pipe(
          Effect.provideService(Clock.Clock, manualClock(time))
        )
      const a = yield* Effect.map(build(early), (ctx) => ctx.mapUnsafe.get(RateLimiter.key) as RateLimiter["Service"])
      const b = yield* Effect.map(build(late), (ctx) => ctx.mapUnsafe.get(RateLimiter.key) as RateLimiter["Service"])
      let admitted = 0
      for (let i = 0; i < 10; i++) {
        for (const limiter of [a, b]) {
          const r = yield* Effect.result(limiter.check("edge"))
          if (r._tag === "Success") admitted++
          else assert.strictEqual(r.failure._tag, "RateLimited")
        }
      }
      // windows 0 and 1 are the only ones either clock can see: at most 2 x 2
      assert.isAtMost(admitted, 4)
      // and once the lagging caller has seen window 1, window 0 never reopens: b's window took everything after
      assert.isAtLeast(admitted, 2)
    }).pipe(Effect.scoped))

  it.effect("under TestClock, a key outlives real time while virtual time stands still (no early expiry)", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      yield* rl.check("still", { cost: 2 })
      assert.strictEqual((yield* Effect.flip(rl.check("still")))._tag, "RateLimited")
      // 300 ms of real time pass; virtual time does not move, so the bucket must still be empty
      yield* Effect.promise(() =>
        new Promise((resolve) => {
          setTimeout(resolve, 300)
        })
      )
      const again = yield* Effect.flip(rl.check("still"))
      assert.strictEqual(again._tag, "RateLimited")
      yield* TestClock.adjust("100 millis")
      assert.strictEqual((yield* rl.check("still")).policy, "default")
    }).pipe(Effect.provide(
      RateLimiter.layerRedis({
        prefix: `${runPrefix}still:`,
        onStoreError: "failClosed",
        policies: {
          default: { tiers: [{ _tag: "TokenBucket", capacity: 2, refillTokens: 1, refillEvery: "100 millis" }] }
        }
      }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
    )))

  it.live(
    "4 OS processes x 250 fibers with skewed clocks (-30, -10, +10, +30 ms) on \"50 per 100 ms\": never over the limit per window",
    () =>
      Effect.promise(async () => {
        const prefix = `${runPrefix}procs:`
        const script = fileURLToPath(new URL("./fixtures/skewed.ts", import.meta.url))
        const children = [-30, -10, 10, 30].map((skew) =>
          spawn(process.execPath, [script], {
            env: {
              ...process.env,
              REDIS_URL: redisUrl,
              RL_PREFIX: prefix,
              RL_SKEW_MS: String(skew),
              RL_FIBERS: "250",
              RL_DURATION_MS: "800"
            },
            stdio: ["pipe", "pipe", "inherit"]
          })
        )
        const lines = children.map((child) => {
          let out = ""
          const ready = new Promise<void>((resolve) => {
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString()
              if (out.startsWith("ready\n")) resolve()
            })
          })
          const done = new Promise<{ admitted: number; errors: number; minWindow: number; maxWindow: number }>(
            (resolve, reject) => {
              child.on("exit", (code) => (code === 0
                ? resolve(JSON.parse(out.slice("ready\n".length)))
                : reject(new Error(`skewed child exited ${code}`))))
            }
          )
          return { ready, done }
        })
        await Promise.all(lines.map((l) => l.ready))
        const startAt = Date.now() + 200
        for (const child of children) child.stdin.end(`${startAt}\n`)
        const runs = lines.map((l) => l.done)
        const results = await Promise.all(runs)
        const total = results.reduce((n, r) => n + r.admitted, 0)
        const first = Math.min(...results.map((r) => r.minWindow))
        const last = Math.max(...results.map((r) => r.maxWindow))
        const bound = 50 * (last - first + 1)
        console.log(`skewed: admitted ${total}, windows ${first}..${last}, bound ${bound}`)
        assert.strictEqual(results.reduce((n, r) => n + r.errors, 0), 0)
        assert.isAtMost(total, bound, `admitted ${total} over windows ${first}..${last} (bound ${bound})`)
        assert.isAtLeast(total, 50 * 3) // and the demand was real: most windows filled
      }),
    90_000
  )
})

describeRedis("Redis expiry keeps a key 60 s of real time past its fresh point (fast path)", () => {
  const prefix = `${runPrefix}expiry:`
  const runtime = ManagedRuntime.make(NodeRedis.layer({ url: redisUrl }))
  const scope = Effect.runSync(Scope.make())
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
    await cleanup(prefix)
  })
  const backend = () =>
    runtime.runPromise(Scope.provide(
      makeRedisBackend({
        prefix,
        onStoreError: "failClosed",
        clock: "caller",
        storeTimeoutMs: 5_000,
        storeCooldownMs: 0,
        timeoutCircuit: 3,
        expectedProcesses: 1
      }, { failure: () => Effect.void, success: Effect.void }),
      scope
    ))
  // 1,000 per hour: a token refills in 3.6 s; no sliding tier, so `consume` runs the unrolled fast path
  const policy = Effect.runSync(decodePolicy("p", {
    tiers: [{ _tag: "TokenBucket", name: "b", capacity: 1000, refillTokens: 1000, refillEvery: 3_600_000 }]
  }))
  const pttl = async (key: string): Promise<number> => {
    const client = createClient({ url: redisUrl })
    await client.connect()
    const ms = await client.pTTL(`${prefix}{${key}}`)
    await client.close()
    return ms
  }
  /** real time that may pass between the script's write and the PTTL read */
  const tolerance = 1_000

  it("a draining bucket's key is re-expired before its margin past the fresh point falls under 60 s", async () => {
    const limiter = await backend()
    const now = Date.now()
    await runtime.runPromise(limiter.consume("drain", policy, 1, now)) // a new key: fresh in 3.6 s
    const second = await runtime.runPromise(limiter.consume("drain", policy, 10, now)) // fresh in 39.6 s
    const freshIn = second._tag === "Allowed" ? second.resetAfterMillis : 0
    assert.strictEqual(freshIn, 39_600)
    assert.isAtLeast(await pttl("drain"), freshIn + EXPIRY_SLACK_MS - tolerance)
  })

  it("two callers 30 s apart: the key outlives the lagging caller's fresh point by 60 s minus the skew", async () => {
    const limiter = await backend()
    const now = Date.now()
    const skew = 30_000
    await runtime.runPromise(limiter.consume("skew", policy, 1, now + skew)) // caller A, 30 s ahead
    const behind = await runtime.runPromise(limiter.consume("skew", policy, 20, now)) // caller B, on time
    const freshIn = behind._tag === "Allowed" ? behind.resetAfterMillis : 0
    assert.strictEqual(freshIn, 75_600)
    assert.isAtLeast(await pttl("skew"), freshIn + EXPIRY_SLACK_MS - skew - tolerance)
  })
})

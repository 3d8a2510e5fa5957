/**
 * Property tests (fast-check) on both backends, driven through the backend contract with explicit times:
 * for random arrival sequences (random gaps and costs) against a random three-tier policy,
 * - no sliding window (any window of its length) and no fixed window ever admits more than its limit,
 * - no bucket goes negative, and no bucket admits more than capacity + refill over any interval,
 * - a refused request changes no tier (all tiers consume or none do).
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import * as fc from "fast-check"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { makeMemoryBackend } from "../../src/ratelimit/internal/MemoryBackend.ts"
import type { RateLimitBackend } from "../../src/ratelimit/internal/RateLimitBackend.ts"
import { makeRedisBackend } from "../../src/ratelimit/internal/RedisBackend.ts"
import { type CompiledPolicy, decodePolicy } from "../../src/ratelimit/RateLimitPolicy.ts"
import type { Decision } from "../../src/ratelimit/RateLimitResult.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

interface Scenario {
  readonly capacity: number
  readonly refillTokens: number
  readonly refillEvery: number
  readonly interval: boolean
  readonly fixedLimit: number
  readonly fixedWindow: number
  readonly slidingLimit: number
  readonly slidingWindow: number
  readonly arrivals: ReadonlyArray<{ readonly gap: number; readonly cost: number }>
}

const scenario = (maxArrivals: number): fc.Arbitrary<Scenario> =>
  fc.record({
    capacity: fc.integer({ min: 1, max: 8 }),
    refillTokens: fc.integer({ min: 1, max: 4 }),
    refillEvery: fc.integer({ min: 100, max: 2000 }),
    interval: fc.boolean(),
    fixedLimit: fc.integer({ min: 1, max: 10 }),
    fixedWindow: fc.integer({ min: 200, max: 3000 }),
    slidingLimit: fc.integer({ min: 1, max: 10 }),
    slidingWindow: fc.integer({ min: 200, max: 3000 }),
    arrivals: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 700 }), cost: fc.integer({ min: 1, max: 3 }) }), {
      minLength: 1,
      maxLength: maxArrivals
    })
  })

const compileScenario = (s: Scenario): Promise<CompiledPolicy> =>
  Effect.runPromise(decodePolicy("prop", {
    tiers: [
      {
        _tag: "TokenBucket",
        name: "bucket",
        capacity: s.capacity,
        refillTokens: s.refillTokens,
        refillEvery: s.refillEvery,
        refill: s.interval ? "interval" : "continuous"
      },
      { _tag: "FixedWindow", name: "fixed", limit: s.fixedLimit, window: s.fixedWindow },
      { _tag: "SlidingWindow", name: "sliding", limit: s.slidingLimit, window: s.slidingWindow }
    ]
  }))

type Run = <A, E>(effect: Effect.Effect<A, E>) => Promise<A>

const checkScenario = async (backend: RateLimitBackend, run: Run, s: Scenario, key: string): Promise<void> => {
  const policy = await compileScenario(s)
  const admitted: Array<{ readonly t: number; readonly cost: number }> = []
  let t = 1_000_000
  for (const { gap, cost } of s.arrivals) {
    t += gap
    const before = await run(backend.status(key, policy, t))
    const decision = await run(backend.consume(key, policy, cost, t))
    if (decision._tag === "Allowed") {
      admitted.push({ t, cost })
      for (const r of decision.remainingList) assert.isAtLeast(r, 0, "a tier went negative")
    } else {
      const after = await run(backend.status(key, policy, t))
      assert.deepStrictEqual(
        after.tiers.map((x) => x.remaining),
        before.tiers.map((x) => x.remaining),
        "a refused request consumed a tier"
      )
      assert.isAbove(decision.retryAfterMillis, 0)
    }
  }
  for (const a of admitted) {
    const inSliding = admitted.filter((b) => b.t > a.t - s.slidingWindow && b.t <= a.t).reduce(
      (sum, b) => sum + b.cost,
      0
    )
    assert.isAtMost(inSliding, s.slidingLimit, "sliding window over-admitted")
    const index = Math.floor(a.t / s.fixedWindow)
    const inFixed = admitted.filter((b) => Math.floor(b.t / s.fixedWindow) === index).reduce(
      (sum, b) => sum + b.cost,
      0
    )
    assert.isAtMost(inFixed, s.fixedLimit, "fixed window over-admitted")
  }
  for (let i = 0; i < admitted.length; i++) {
    let sum = 0
    for (let j = i; j < admitted.length; j++) {
      sum += (admitted[j] as { cost: number }).cost
      const span = (admitted[j] as { t: number }).t - (admitted[i] as { t: number }).t
      const refill = s.interval
        ? (Math.floor(span / s.refillEvery) + 1) * s.refillTokens
        : (span * s.refillTokens) / s.refillEvery
      assert.isAtMost(sum, s.capacity + refill + 1e-6, "bucket admitted more than capacity + refill")
    }
  }
}

describe("RateLimiter properties (memory)", () => {
  it("random arrivals never over-admit, never go negative, never consume on refusal", async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(scenario(80), (s) => checkScenario(makeMemoryBackend(), Effect.runPromise, s, `k${n++}`)),
      { numRuns: 150 }
    )
  })
})

describeRedis("RateLimiter properties (redis)", () => {
  const prefix = uniquePrefix("rl-prop")
  const runtime = ManagedRuntime.make(NodeRedis.layer({ url: redisUrl }))
  const scope = Effect.runSync(Scope.make())
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const client = createClient({ url: redisUrl })
    await client.connect()
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys)
    }
    await client.close()
    await runtime.dispose()
  })

  it("the same properties hold through the Lua script", async () => {
    const backend = await runtime.runPromise(Scope.provide(
      makeRedisBackend(
        {
          prefix,
          onStoreError: "failClosed",
          clock: "caller",
          storeTimeoutMs: 5_000,
          storeCooldownMs: 0,
          timeoutCircuit: 3,
          expectedProcesses: 1
        },
        { failure: () => Effect.void, success: Effect.void }
      ),
      scope
    ))
    let n = 0
    await fc.assert(
      fc.asyncProperty(scenario(30), (s) => checkScenario(backend, (e) => runtime.runPromise(e), s, `k${n++}`)),
      { numRuns: 25 }
    )
  }, 30_000)

  // Differential: the Redis answers (the unrolled fast path for policies without a sliding tier, the generic
  // body otherwise) equal the memory store's, number for number, including fractional costs and refills.
  it("Redis answers exactly like memory (fast path and generic script)", async () => {
    const backend = await runtime.runPromise(Scope.provide(
      makeRedisBackend(
        {
          prefix: `${prefix}diff:`,
          onStoreError: "failClosed",
          clock: "caller",
          storeTimeoutMs: 5_000,
          storeCooldownMs: 0,
          timeoutCircuit: 3,
          expectedProcesses: 1
        },
        { failure: () => Effect.void, success: Effect.void }
      ),
      scope
    ))
    let n = 0
    await fc.assert(
      fc.asyncProperty(
        scenario(25),
        fc.boolean(),
        fc.array(fc.constantFrom(1, 0.5, 2.25), { minLength: 1, maxLength: 3 }),
        async (s, sliding, costs) => {
          const policy = await Effect.runPromise(decodePolicy("diff", {
            tiers: [
              {
                _tag: "TokenBucket",
                name: "bucket",
                capacity: s.capacity,
                refillTokens: s.refillTokens / 3,
                refillEvery: s.refillEvery,
                refill: s.interval ? "interval" : "continuous"
              },
              { _tag: "FixedWindow", name: "fixed", limit: s.fixedLimit, window: s.fixedWindow },
              ...(sliding
                ? [{ _tag: "SlidingWindow" as const, name: "sliding", limit: s.slidingLimit, window: s.slidingWindow }]
                : [])
            ]
          }))
          const memory = makeMemoryBackend()
          const key = `d${n++}`
          let t = 1_000_000
          for (let i = 0; i < s.arrivals.length; i++) {
            const { gap } = s.arrivals[i] as { gap: number }
            const cost = costs[i % costs.length] as number
            t += gap
            const [m, r] = [
              await Effect.runPromise(memory.consume(key, policy, cost, t)),
              await runtime.runPromise(backend.consume(key, policy, cost, t))
            ]
            const view = (d: typeof m) =>
              d._tag === "Allowed"
                ? ["allowed", d.remainingList, d.resetAfterMillis]
                : ["refused", d.tierIndex, d.retryAfterMillis]
            assert.deepStrictEqual(view(r), view(m), `arrival ${i} at ${t}, cost ${cost}`)
          }
        }
      ),
      { numRuns: 30 }
    )
  }, 30_000)

  // Differential across policy changes: both backends carry a key's state to the other policy by tier name
  // (`TierState.migrate` and the script's `migrate`: a bucket keeps its deficit, windows their hits and logs)
  it(
    "Redis migrates a key across policy changes exactly like memory (every operation, fast path and generic)",
    async () => {
      const backend = await runtime.runPromise(Scope.provide(
        makeRedisBackend(
          {
            prefix: `${prefix}switch:`,
            onStoreError: "failClosed",
            clock: "caller",
            storeTimeoutMs: 5_000,
            storeCooldownMs: 0,
            timeoutCircuit: 3,
            expectedProcesses: 1
          },
          { failure: () => Effect.void, success: Effect.void }
        ),
        scope
      ))
      const compile = (
        sliding: boolean,
        [cap, refill, every, fixed, slide]: ReadonlyArray<number>,
        interval: boolean
      ) =>
        Effect.runPromise(decodePolicy("switch", {
          tiers: [
            {
              _tag: "TokenBucket",
              name: "bucket",
              capacity: cap ?? 1,
              refillTokens: refill ?? 1,
              refillEvery: every ?? 1,
              refill: interval ? "interval" : "continuous"
            },
            { _tag: "FixedWindow", name: "fixed", limit: fixed ?? 1, window: 2000 },
            ...(sliding ? [{ _tag: "SlidingWindow" as const, name: "sliding", limit: slide ?? 1, window: 1500 }] : [])
          ]
        }))
      const op = fc.record({
        kind: fc.constantFrom("consume", "consume", "consume", "status", "adjust", "switch"),
        gap: fc.integer({ min: 0, max: 600 }),
        amount: fc.constantFrom(1, 0.5, 2, 3.25, -1, -0.5)
      })
      let n = 0
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.array(op, { minLength: 1, maxLength: 40 }), async (sliding, ops) => {
          const [a, b] = [
            await compile(sliding, [6, 2, 1000, 8, 5], false),
            await compile(sliding, [4, 1, 500, 5, 4], true)
          ]
          const memory = makeMemoryBackend()
          const key = `s${n++}`
          let t = 1_000_000
          let policy = a
          const statusView = async (limiter: RateLimitBackend, run: Run) => {
            const s = await run(limiter.status(key, policy, t))
            return [s.retryAfterMillis, s.tiers.map((x) => [x.remaining, x.resetAfterMillis])]
          }
          for (const [i, o] of ops.entries()) {
            t += o.gap
            if (o.kind === "switch") policy = policy === a ? b : a
            let m: unknown
            let r: unknown
            if (o.kind === "consume") {
              const view = (d: Decision) =>
                d._tag === "Allowed" ? [d.remainingList, d.resetAfterMillis] : [d.tierIndex, d.retryAfterMillis]
              const cost = Math.abs(o.amount)
              m = view(await Effect.runPromise(memory.consume(key, policy, cost, t)))
              r = view(await runtime.runPromise(backend.consume(key, policy, cost, t)))
            } else {
              if (o.kind === "adjust") {
                await Effect.runPromise(memory.adjust(key, policy, o.amount, t))
                await runtime.runPromise(backend.adjust(key, policy, o.amount, t))
              }
              m = await statusView(memory, Effect.runPromise)
              r = await statusView(backend, (e) => runtime.runPromise(e))
            }
            assert.deepStrictEqual(r, m, `op ${i} (${o.kind}) at ${t}`)
          }
        }),
        { numRuns: 60 }
      )
    },
    60_000
  )
})

/**
 * RateLimiter benchmarks (issue 3).
 *
 * How each side is measured: N sequential operations per sample, nothing batched or pipelined, all *in one
 * fiber* (`timeEffectBatch`) — the cost an Effect program pays to rate-limit a call with each library:
 * - troupe and Effect's RateLimiter: `yield* limiter.check(key)`.
 * - rate-limiter-flexible (promise-based): `yield* Effect.promise(() => limiter.consume(key))`.
 * For transparency the rlf rows are also measured in their native form (`*.awaited`: an async loop of
 * `await limiter.consume(key)`, no Effect); those rows carry no baseline.
 * Every request is admitted (limits far above the op count), so all rows measure the admit path.
 *
 * Rows: `ratelimit.check` (memory token bucket, 1 key) vs `peer.rlf-memory.consume`;
 * `ratelimit.check.10k-keys` (10,000 keys round-robin) vs `peer.rlf-memory.consume.10k-keys` (same keys);
 * `peer.effect-ratelimiter.memory` shown; `ratelimit.check.redis` (three tiers in one atomic script) vs
 * `floor.redis-evalsha` (a trivial `return 1` script through the same Effect Redis service and client);
 * `peer.rlf-redis.consume` shown; `ratelimit.bytes-per-key` (100k keys, memory).
 * Leased mode: `ratelimit.check.redis.leased` (sequential, vs `peer.rlf-redis.consume`) and throughput rows
 * (`ratelimit.throughput.redis.*.c{1,64,1000}`, checks/s, each beside the peer at the same concurrency from
 * the same interleaved rounds: one tier and leased beside `peer.rlf-redis.throughput.c<N>`, three tiers beside
 * `peer.rlf-redis-union.throughput.c<N>` — rlf's `RateLimiterUnion` of the same three tiers, the peer the issue
 * names for three tiers — with the ratio to the one-tier peer in the note; for checks/s a ratio above 1 is
 * better), with Redis round trips per 1,000 leased checks in the notes.
 */
import { NodeRedis } from "@effect/platform-node"
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { RateLimiter as EffectRateLimiter, Redis } from "effect/persistence"
import { RateLimiterMemory, RateLimiterRedis, RateLimiterUnion } from "rate-limiter-flexible"
import { createClient } from "redis"
import { RateLimiter } from "../src/ratelimit/index.ts"
import { DEFAULT_MAX_KEYS, MemoryStore } from "../src/ratelimit/internal/MemoryStore.ts"
import { trivialScript } from "../src/ratelimit/internal/RedisScript.ts"
import { luaScript, makeRedisScriptRunner } from "../src/ratelimit/internal/RedisScriptRunner.ts"
import { decodePolicy } from "../src/ratelimit/RateLimitPolicy.ts"
import { type BenchRow, bytesPer, timeBatch, timeEffectBatch } from "./harness.ts"

const OPS = 20_000
const BIG = 1e12
const bucketPolicy = {
  tiers: [{ _tag: "TokenBucket" as const, name: "b", capacity: BIG, refillTokens: BIG, refillEvery: 1000 }]
}
const keys10k = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)
const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

const memoryRows = async (): Promise<Array<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const rt = ManagedRuntime.make(RateLimiter.layerMemory({ policies: { default: bucketPolicy } }))
  const limiter = await rt.runPromise(RateLimiter.use(Effect.succeed))

  // rate-limiter-flexible, called the way an Effect program calls it (in the fiber, through Effect.promise):
  // the baseline; and, shown for transparency, its native async loop (no Effect around it).
  const rlf = new RateLimiterMemory({ points: BIG, duration: 1 })
  rows.push(
    await timeEffectBatch(
      "peer.rlf-memory.consume",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* Effect.promise(() => rlf.consume("bench"))
      }),
      {
        ops: OPS,
        note: "rate-limiter-flexible RateLimiterMemory, 1 key, N sequential consume() in one fiber (Effect.promise)"
      }
    )
  )
  rows.push(
    await timeBatch("peer.rlf-memory.consume.awaited", async (ops) => {
      for (let i = 0; i < ops; i++) await rlf.consume("bench")
    }, { ops: OPS, note: "same, native async loop of awaited consume() (no Effect)" })
  )

  rows.push(
    await timeEffectBatch(
      "ratelimit.check",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* limiter.check("bench")
      }),
      {
        ops: OPS,
        baseline: "peer.rlf-memory.consume",
        note: "memory token bucket, 1 key, N sequential check() in one fiber"
      }
    )
  )

  const rlf10k = new RateLimiterMemory({ points: BIG, duration: 60 })
  rows.push(
    await timeEffectBatch(
      "peer.rlf-memory.consume.10k-keys",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* Effect.promise(() => rlf10k.consume(keys10k[i % 10_000] as string))
      }),
      { ops: OPS, note: "RateLimiterMemory, 10,000 keys round-robin, in one fiber (Effect.promise)" }
    )
  )
  rows.push(
    await timeBatch("peer.rlf-memory.consume.10k-keys.awaited", async (ops) => {
      for (let i = 0; i < ops; i++) await rlf10k.consume(keys10k[i % 10_000] as string)
    }, { ops: OPS, note: "same, native async loop (no Effect)" })
  )

  rows.push(
    await timeEffectBatch(
      "ratelimit.check.10k-keys",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* limiter.check(keys10k[i % 10_000] as string)
      }),
      {
        ops: OPS,
        baseline: "peer.rlf-memory.consume.10k-keys",
        note: "memory token bucket, 10,000 keys round-robin, in one fiber"
      }
    )
  )

  const effectRl = await Effect.runPromise(
    EffectRateLimiter.make.pipe(Effect.provide(EffectRateLimiter.layerStoreMemory))
  )
  rows.push(
    await timeEffectBatch(
      "peer.effect-ratelimiter.memory",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) {
          yield* effectRl.consume({
            key: "bench",
            algorithm: "token-bucket",
            limit: BIG,
            window: "1 second",
            onExceeded: "fail"
          })
        }
      }),
      {
        ops: OPS,
        baseline: "ratelimit.check",
        note: "effect/persistence RateLimiter, memory store, token bucket, 1 key, in one fiber"
      }
    )
  )
  await rt.dispose()

  // bytes per key: the memory store holding 100k keys (state of a single-tier token bucket)
  const policy = await Effect.runPromise(decodePolicy("default", bucketPolicy))
  rows.push(
    await bytesPer(
      "ratelimit.bytes-per-key",
      100_000,
      async (count) => {
        const store = new MemoryStore()
        for (let i = 0; i < count; i++) {
          store.decide(`user-${i}`, policy, 1, 1_000)
        }
        return store
      },
      async () => undefined,
      { note: "memory store, 100k keys, token bucket; key strings included" }
    )
  )
  rows.push(
    await bytesPer(
      "ratelimit.bytes-per-key.at-bound",
      DEFAULT_MAX_KEYS,
      async () => {
        const store = new MemoryStore()
        for (let i = 0; i < DEFAULT_MAX_KEYS * 1.5; i++) {
          store.decide(`user-${i}`, policy, 1, 1_000)
        }
        return store
      },
      async () => undefined,
      {
        note: "memory store at its default bound (150k distinct keys offered to maxKeys 100,000), per key held"
      }
    )
  )
  rows.push(
    await bytesPer(
      "peer.rlf-memory.bytes-per-key",
      100_000,
      async (count) => {
        const limiter = new RateLimiterMemory({ points: BIG, duration: 60 })
        for (let i = 0; i < count; i++) {
          await limiter.consume(`user-${i}`)
        }
        return limiter
      },
      async () => undefined,
      { note: "RateLimiterMemory, 100k keys (a record and a timer per key)" }
    )
  )
  return rows
}

const redisRows = async (): Promise<Array<BenchRow>> => {
  const prefix = `troupe-bench:rl:${process.pid}:`
  const big = {
    default: {
      tiers: [
        { _tag: "TokenBucket" as const, name: "minute", capacity: BIG, refillTokens: BIG, refillEvery: 60_000 },
        { _tag: "FixedWindow" as const, name: "hour", limit: BIG, window: 3_600_000 },
        { _tag: "FixedWindow" as const, name: "day", limit: BIG, window: 86_400_000 }
      ]
    },
    one: {
      tiers: [{ _tag: "TokenBucket" as const, name: "minute", capacity: BIG, refillTokens: BIG, refillEvery: 60_000 }]
    },
    leased: {
      tiers: [{ _tag: "TokenBucket" as const, name: "minute", capacity: BIG, refillTokens: BIG, refillEvery: 60_000 }],
      lease: { maxTokens: 1000, ttl: "10 seconds" }
    }
  }
  const storeTimeoutMs = 1_000
  const redisLayer = NodeRedis.layer({ url: redisUrl })
  const rt = ManagedRuntime.make(Layer.merge(
    RateLimiter.layerRedis({ prefix, policies: big, onStoreError: "failClosed", storeTimeout: storeTimeoutMs }).pipe(
      Layer.provide(redisLayer)
    ),
    redisLayer
  ))
  const limiter = await rt.runPromise(RateLimiter.use(Effect.succeed))
  const redis = await rt.runPromise(Redis.Redis.use(Effect.succeed))
  // the floor runs through exactly the limiter's transport: same client, same runner, same command timeout
  const runnerScope = Effect.runSync(Scope.make())
  const runner = await rt.runPromise(Scope.provide(makeRedisScriptRunner(storeTimeoutMs), runnerScope))
  const effectEval = redis.eval(Redis.script((key: string) => [key], { lua: trivialScript.lua, numberOfKeys: 1 }))
  const client = createClient({ url: redisUrl })
  await client.connect()
  const rlf = new RateLimiterRedis({
    storeClient: client,
    useRedisPackage: true,
    keyPrefix: `${prefix}rlf`,
    points: BIG,
    duration: 60
  })
  // the peer of three tiers: rlf's RateLimiterUnion of a minute, an hour and a day limiter (three scripts, not atomic)
  const tierOf = (name: string, duration: number) =>
    new RateLimiterRedis({
      storeClient: client,
      useRedisPackage: true,
      keyPrefix: `${prefix}union-${name}`,
      points: BIG,
      duration
    })
  const union = new RateLimiterUnion(tierOf("minute", 60), tierOf("hour", 3_600), tierOf("day", 86_400))
  const floorKey = [`${prefix}floor`]
  // the least work any atomic stateful script can do: read the key, patch it in place, answer five integers
  const rmwScript = luaScript(
    "local v = redis.call('GET', KEYS[1]) redis.call('SETRANGE', KEYS[1], 0, struct.pack('<dddddddd', 1, 2, 3, 4, 5, 6, 7, 8)) return { 1, 2, 3, 4, 5 }"
  )
  const rmwKey = [`${prefix}rmw`]
  // a script that only reads the key (no write, `1` back): what a single redis.call costs over `return 1`
  const readScript = luaScript("redis.call('GET', KEYS[1]) return 1")

  // Interleaved sampling: each round times a small batch of every row in turn, so all rows see the same
  // background load (the machine and the Redis server are shared with other work).
  const OPS = 25
  const ROUNDS = 160
  const WARMUP = 10
  const batches: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
    [
      "floor",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* runner.run("floor", trivialScript, floorKey, [])
      })
    ],
    [
      "rmw",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* runner.run("rmw", rmwScript, rmwKey, ["consume", String(Date.now()), "1"])
      })
    ],
    [
      "read",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* runner.run("read", readScript, rmwKey, [])
      })
    ],
    [
      "check",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* limiter.check("bench")
      })
    ],
    [
      "check1",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* limiter.check("bench1", { policy: "one" })
      })
    ],
    [
      "rlf",
      Effect.promise(async () => {
        for (let i = 0; i < OPS; i++) await rlf.consume("bench")
      })
    ],
    [
      "leased",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* limiter.check("benchL", { policy: "leased" })
      })
    ],
    [
      "eval",
      Effect.gen(function*() {
        for (let i = 0; i < OPS; i++) yield* effectEval(`${prefix}floor`)
      })
    ]
  ]
  const samples = new Map<string, Array<number>>(batches.map(([id]) => [id, []]))
  await Effect.runPromise(
    Effect.gen(function*() {
      for (let round = 0; round < ROUNDS + WARMUP; round++) {
        for (const [id, batch] of batches) {
          const start = process.hrtime.bigint()
          yield* batch
          if (round >= WARMUP) samples.get(id)?.push(Number(process.hrtime.bigint() - start) / OPS)
        }
      }
    }).pipe(Effect.orDie)
  )
  const row = (id: string, key: string, extra: Partial<BenchRow>): BenchRow => {
    const sorted = [...(samples.get(key) ?? [])].sort((a, b) => a - b)
    const q = (p: number) =>
      Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN) * 1000) / 1000
    return { id, unit: "ns/op", median: q(0.5), p99: q(0.99), ...extra }
  }

  const leaseStats = await rt.runPromise(limiter.stats)
  const leasedChecks = (ROUNDS + WARMUP) * OPS
  const tripsSequential = Math.round((leaseStats.leases.requests / leasedChecks) * 1000 * 10) / 10

  // Throughput: `fibers` concurrent fibers (troupe) or promise chains (rlf), `TOTAL` checks in all (`TOTAL_LEASED` leased); checks/s
  // is the median over interleaved rounds, p99 the per-check latency over all rounds.
  const TOTAL = 20_000
  // leased checks run ~20x faster than a round trip: 20,000 of them would last ~10 ms, dominated by the first
  // lease requests and fiber start-up, so a leased run does 10x as many checks (~100 ms, like the others)
  const TOTAL_LEASED = 200_000
  const TROUNDS = 5
  type Side = "check" | "check1" | "leased" | "rlf" | "union"
  // latencies go to a preallocated Float64Array per run (off the JS heap, so the 200,000-check leased runs add
  // no garbage-collection work to the rows measured after them)
  const throughput = new Map<string, { rates: Array<number>; lat: Array<Float64Array> }>()
  const totalOf = (side: Side) => side === "leased" ? TOTAL_LEASED : TOTAL
  const runOnce = async (side: Side, fibers: number, tag: string) => {
    const per = Math.ceil(totalOf(side) / fibers)
    const lat = new Float64Array(per * fibers)
    let n = 0
    const start = process.hrtime.bigint()
    if (side === "rlf" || side === "union") {
      const peer = side === "rlf" ? rlf : union
      await Promise.all(Array.from({ length: fibers }, async (_, f) => {
        for (let i = 0; i < per; i++) {
          const t = process.hrtime.bigint()
          await peer.consume(`tp${f % 8}`)
          lat[n++] = Number(process.hrtime.bigint() - t) / 1000
        }
      }))
    } else {
      const policy = side === "check" ? undefined : side === "check1" ? "one" : "leased"
      await rt.runPromise(Effect.forEach(Array.from({ length: fibers }, (_, f) => f), (f) =>
        Effect.gen(function*() {
          for (let i = 0; i < per; i++) {
            const t = process.hrtime.bigint()
            yield* (policy === undefined ? limiter.check(`tp${f % 8}`) : limiter.check(`tp${side}${f % 8}`, { policy }))
            lat[n++] = Number(process.hrtime.bigint() - t) / 1000
          }
        }), { concurrency: "unbounded", discard: true }))
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const entry = throughput.get(tag) ?? { rates: [], lat: [] }
    entry.rates.push((per * fibers) / seconds)
    entry.lat.push(lat)
    throughput.set(tag, entry)
  }
  const plan: ReadonlyArray<readonly [Side, number, string]> = [
    ["rlf", 1, "rlf.c1"],
    ["leased", 1, "leased.c1"],
    ["rlf", 64, "rlf.c64"],
    ["union", 64, "union.c64"],
    ["check1", 64, "check1.c64"],
    ["check", 64, "check.c64"],
    ["leased", 64, "leased.c64"],
    ["rlf", 1000, "rlf.c1000"],
    ["union", 1000, "union.c1000"],
    ["check1", 1000, "check1.c1000"],
    ["check", 1000, "check.c1000"]
  ]
  const before = (await rt.runPromise(limiter.stats)).leases.requests
  let leasedTp = 0
  for (let round = 0; round < TROUNDS; round++) {
    for (const [side, fibers, tag] of plan) {
      await runOnce(side, fibers, tag)
      if (side === "leased") leasedTp += Math.ceil(TOTAL_LEASED / fibers) * fibers
    }
  }
  const tripsConcurrent =
    Math.round((((await rt.runPromise(limiter.stats)).leases.requests - before) / leasedTp) * 1000 * 10) / 10
  const tpRow = (id: string, tag: string, extra: Partial<BenchRow>): BenchRow => {
    const entry = throughput.get(tag) ?? { rates: [], lat: [] }
    const rates = [...entry.rates].sort((a, b) => a - b)
    const lat = new Float64Array(entry.lat.reduce((sum, run) => sum + run.length, 0))
    let at = 0
    for (const run of entry.lat) {
      lat.set(run, at)
      at += run.length
    }
    lat.sort()
    const p99 = lat[Math.min(lat.length - 1, Math.ceil(0.99 * lat.length) - 1)] ?? NaN
    const median = Math.round(rates[Math.floor(rates.length / 2)] ?? NaN)
    return { id, unit: "checks/s", median, ...extra, note: `${extra.note ?? ""}; p99 latency ${Math.round(p99)} µs` }
  }

  /** The median checks/s of `tag` over that of the peer's one tier (`peerTag`), for the three-tier notes. */
  const vsOneTier = (tag: string, peerTag: string): string => {
    const median = (t: string) => {
      const rates = [...(throughput.get(t)?.rates ?? [])].sort((a, b) => a - b)
      return rates[Math.floor(rates.length / 2)] ?? NaN
    }
    return `${(median(tag) / median(peerTag)).toFixed(2)}x the peer's one tier`
  }

  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys)
  }
  await client.close()
  await Effect.runPromise(Scope.close(runnerScope, Exit.void))
  await rt.dispose()
  return [
    row("floor.redis-evalsha", "floor", {
      note:
        "EVALSHA of `return 1` through the limiter's own script runner (same node-redis client, same per-command timeout), sequential in one fiber; interleaved with the next rows"
    }),
    row("ratelimit.check.redis", "check", {
      baseline: "floor.redis-rmw-script",
      note: "three tiers (minute bucket, hour and day windows) in one atomic EVALSHA, sequential in one fiber"
    }),
    row("floor.redis-rmw-script", "rmw", {
      note:
        "for reference: the least an atomic stateful script does (GET + SETRANGE of 64 bytes, 5 integers back), same runner; no baseline"
    }),
    row("floor.redis-read-script", "read", {
      note: "for reference: a script doing one GET and returning 1 (no write), same runner; no baseline"
    }),
    row("ratelimit.check.redis.1-tier", "check1", {
      baseline: "peer.rlf-redis.consume",
      note:
        "one token-bucket tier in one EVALSHA, sequential in one fiber, interleaved with peer.rlf-redis.consume (target ratio <= 1.0)"
    }),
    row("peer.rlf-redis.consume", "rlf", {
      note: "RateLimiterRedis (one tier), own node-redis client, sequential awaited consume()"
    }),
    row("floor.redis-evalsha.effect-eval", "eval", {
      note: "for reference: `return 1` through effect's Redis.eval (adds a script-cache lookup per call)"
    }),
    row("ratelimit.check.redis.leased", "leased", {
      baseline: "peer.rlf-redis.consume",
      note:
        `leased mode (one tier, maxTokens 1000), sequential in one fiber, interleaved with peer.rlf-redis.consume (target ratio <= 0.1); ${tripsSequential} Redis round trips per 1,000 checks`
    }),
    tpRow("peer.rlf-redis.throughput.c1", "rlf.c1", { note: "RateLimiterRedis consume(), 1 promise chain, 8 keys" }),
    tpRow("ratelimit.throughput.redis.leased.c1", "leased.c1", {
      baseline: "peer.rlf-redis.throughput.c1",
      note: "leased mode, 1 fiber (target >= 10x)"
    }),
    tpRow("peer.rlf-redis.throughput.c64", "rlf.c64", {
      note: "RateLimiterRedis consume(), 64 concurrent promise chains, 8 keys"
    }),
    tpRow("ratelimit.throughput.redis.1-tier.c64", "check1.c64", {
      baseline: "peer.rlf-redis.throughput.c64",
      note: "one tier, 64 fibers (target >= 1.0x)"
    }),
    tpRow("peer.rlf-redis-union.throughput.c64", "union.c64", {
      note:
        "RateLimiterUnion of three RateLimiterRedis (minute, hour, day; not atomic), 64 concurrent promise chains, 8 keys"
    }),
    tpRow("ratelimit.throughput.redis.c64", "check.c64", {
      baseline: "peer.rlf-redis-union.throughput.c64",
      note: `three atomic tiers, 64 fibers, beside the peer's three tiers (target >= 1.0x); ${
        vsOneTier("check.c64", "rlf.c64")
      }`
    }),
    tpRow("ratelimit.throughput.redis.leased.c64", "leased.c64", {
      baseline: "peer.rlf-redis.throughput.c64",
      note:
        `leased mode, 64 fibers (target >= 10x); ${tripsConcurrent} Redis round trips per 1,000 checks over the leased throughput runs`
    }),
    tpRow("peer.rlf-redis.throughput.c1000", "rlf.c1000", {
      note: "RateLimiterRedis consume(), 1,000 concurrent promise chains, 8 keys"
    }),
    tpRow("ratelimit.throughput.redis.1-tier.c1000", "check1.c1000", {
      baseline: "peer.rlf-redis.throughput.c1000",
      note: "one tier, 1,000 fibers (target >= 1.0x)"
    }),
    tpRow("peer.rlf-redis-union.throughput.c1000", "union.c1000", {
      note:
        "RateLimiterUnion of three RateLimiterRedis (minute, hour, day; not atomic), 1,000 concurrent promise chains, 8 keys"
    }),
    tpRow("ratelimit.throughput.redis.c1000", "check.c1000", {
      baseline: "peer.rlf-redis-union.throughput.c1000",
      note: `three atomic tiers, 1,000 fibers, beside the peer's three tiers (target >= 1.0x); ${
        vsOneTier("check.c1000", "rlf.c1000")
      }`
    })
  ]
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows = await memoryRows()
  try {
    rows.push(...await redisRows())
  } catch (error) {
    process.stderr.write(`  ratelimit redis rows skipped: ${String(error)}\n`)
  }
  return rows
}

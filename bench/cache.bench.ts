/**
 * Cache benchmarks (rows in `bench/results.json`; peers measured in the same run).
 *
 * - `cache.get-hit`: N in-fiber `yield* cache.get(key)` hits inside one Effect, vs `peer.lru-cache.get` (N plain
 *   `lru.get` calls): target ratio ≤ 3.
 * - `peer.effect-cache.get`: Effect's own `Cache` (`Cache.get` hits, same loop); its baseline is `cache.get-hit`,
 *   so its ratio is how many times slower it is than ours (target ≥ 3).
 * - `cache.put` (baseline `peer.lru-cache.set`).
 * - `cache.get-hit.l2`: a tiered cache whose L1 always misses (maxEntries 1, keys cycling) and Redis hits,
 *   vs `floor.redis-get`, a plain `GET` through the same client: target ratio ≤ 1.2. Skipped without Redis.
 * - `cache.bytes-per-entry` at 100k entries (baseline `peer.lru-cache.bytes-per-entry`).
 */
import { NodeRedis } from "@effect/platform-node"
import { Cache as EffectCache, Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { Redis } from "effect/persistence"
import { LRUCache } from "lru-cache"
import { makeMemory, makeTiered } from "../src/cache/Cache.ts"
import { DEFAULT_MAX_ENTRIES } from "../src/cache/CacheOptions.ts"
import { recommendedNodeRedisOptions } from "../src/cache/RedisTier.ts"
import type { BenchRow } from "./harness.ts"
import { bytesPer, timeBatch, timeEffectBatch } from "./harness.ts"

const N = 1000
const keys = Array.from({ length: N }, (_, i) => `key:${i}`)

const inScope = <A, E>(scope: Scope.Scope, effect: Effect.Effect<A, E, Scope.Scope>): A =>
  Effect.runSync(Scope.provide(effect, scope))

const memoryRows = async (): Promise<Array<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const lru = new LRUCache<string, string>({ max: 10_000 })
  for (const k of keys) lru.set(k, k)
  const scope = Effect.runSync(Scope.make())
  const cache = inScope(scope, makeMemory<string>({ maxEntries: 10_000 }))
  Effect.runSync(Effect.forEach(keys, (k) => cache.put(k, k), { discard: true }))
  const effectCache = Effect.runSync(EffectCache.make({ capacity: 10_000, lookup: (k: string) => Effect.succeed(k) }))
  Effect.runSync(Effect.forEach(keys, (k) => EffectCache.get(effectCache, k), { discard: true }))

  let sink = 0
  const lruGet = () =>
    timeBatch("peer.lru-cache.get", (ops) => {
      for (let i = 0; i < ops; i++) if (lru.get(keys[i % N] as string) !== undefined) sink++
    }, { ops: N * 10, samples: 40 })
  const ourGet = () =>
    timeEffectBatch(
      "cache.get-hit",
      Effect.gen(function*() {
        for (let i = 0; i < N * 10; i++) if ((yield* cache.get(keys[i % N] as string))._tag === "Some") sink++
      }),
      { ops: N * 10, samples: 40, baseline: "peer.lru-cache.get", note: "in-fiber yield* loop; target ratio <= 3" }
    )
  const effectGet = () =>
    timeEffectBatch(
      "peer.effect-cache.get",
      Effect.gen(function*() {
        for (let i = 0; i < N * 10; i++) if ((yield* EffectCache.get(effectCache, keys[i % N] as string)) !== "") sink++
      }),
      {
        ops: N * 10,
        samples: 40,
        baseline: "cache.get-hit",
        note: "Effect's Cache; ratio = times slower than cache.get-hit (target >= 3)"
      }
    )
  // Interleave the runs and keep the best median of each, to damp noise from other processes.
  const best = async (runs: Array<() => Promise<BenchRow>>) => {
    const results: Array<BenchRow> = []
    for (const run of runs) results.push(await run())
    return results.reduce((a, b) => (b.median < a.median ? b : a))
  }
  rows.push(await best([lruGet, lruGet, lruGet]))
  rows.push(await best([ourGet, ourGet, ourGet]))
  rows.push(await best([effectGet, effectGet]))

  let j = 0
  rows.push(
    await timeBatch("peer.lru-cache.set", (ops) => {
      for (let i = 0; i < ops; i++) lru.set(keys[j++ % N] as string, "value")
    }, { ops: N * 10, samples: 30 })
  )
  rows.push(
    await timeEffectBatch(
      "cache.put",
      Effect.gen(function*() {
        for (let i = 0; i < N * 10; i++) yield* cache.put(keys[j++ % N] as string, "value")
      }),
      { ops: N * 10, samples: 30, baseline: "peer.lru-cache.set", note: "memory layer, no TTL" }
    )
  )
  if (sink < 0) console.log(sink)
  Effect.runSync(Scope.close(scope, Exit.void))

  const COUNT = 100_000
  rows.push(
    await bytesPer("peer.lru-cache.bytes-per-entry", COUNT, async (count) => {
      const l = new LRUCache<string, string>({ max: count })
      for (let i = 0; i < count; i++) l.set(`entry:${i}`, `value:${i}`)
      return l
    }, async () => {})
  )
  rows.push(
    await bytesPer("cache.bytes-per-entry", COUNT, async (count) => {
      const s = Effect.runSync(Scope.make())
      const c = inScope(s, makeMemory<string>({ maxEntries: count }))
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < count; i++) yield* c.put(`entry:${i}`, `value:${i}`)
      }))
      return { s, c }
    }, async ({ s }) => {
      Effect.runSync(Scope.close(s, Exit.void))
    }, { baseline: "peer.lru-cache.bytes-per-entry", note: "100k entries, key+value strings, no TTL" })
  )
  rows.push(
    await bytesPer("cache.bytes-per-entry.at-bound", DEFAULT_MAX_ENTRIES, async () => {
      const s = Effect.runSync(Scope.make())
      const c = inScope(s, makeMemory<string>())
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < DEFAULT_MAX_ENTRIES * 1.5; i++) yield* c.put(`entry:${i}`, `value:${i}`)
      }))
      return { s, c }
    }, async ({ s }) => {
      Effect.runSync(Scope.close(s, Exit.void))
    }, { note: "Cache.layerMemory() defaults (10,000 entries) after 15,000 puts, per entry held" })
  )
  return rows
}

const redisRows = async (): Promise<Array<BenchRow>> => {
  const url = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
  const scope = Effect.runSync(Scope.make())
  const built = await Effect.runPromise(
    Effect.exit(Scope.provide(Layer.build(NodeRedis.layer({ url, ...recommendedNodeRedisOptions })), scope))
  )
  if (Exit.isFailure(built)) {
    process.stderr.write(`  (skipping Redis rows: no Redis at ${url})\n`)
    return []
  }
  const context = built.value
  const redis = Context.get(context, Redis.Redis)
  const prefix = `troupe-bench:cache:${process.pid}:`
  const COUNT = 1000
  const writer = await Effect.runPromise(
    Scope.provide(makeTiered({ redis: { value: Schema.String, prefix } }), scope).pipe(Effect.provide(context))
  )
  const value = "x".repeat(200)
  await Effect.runPromise(Effect.forEach(keys.slice(0, COUNT), (k) => writer.put(k, value), { discard: true }))
  const reader = await Effect.runPromise(
    Scope.provide(makeTiered({ maxEntries: 1, redis: { value: Schema.String, prefix } }), scope).pipe(
      Effect.provide(context)
    )
  )
  // Interleaved sampling: each round times a small batch of plain GETs, then a small batch of L2 hits, so both
  // rows see the same background load (the machine and the Redis server are shared with other work).
  const OPS = 25
  const ROUNDS = 120
  let i = 0
  let sink = 0
  const floorBatch = Effect.gen(function*() {
    for (let n = 0; n < OPS; n++) {
      const raw = yield* redis.send<string | null>("GET", `${prefix}${keys[i++ % COUNT]}`)
      if (raw !== null) sink++
    }
  })
  const l2Batch = Effect.gen(function*() {
    for (let n = 0; n < OPS; n++) {
      const hit = yield* reader.get(keys[i++ % COUNT] as string)
      if (hit._tag === "Some") sink++
    }
  })
  const floorSamples: Array<number> = []
  const l2Samples: Array<number> = []
  await Effect.runPromise(Effect.gen(function*() {
    for (let round = 0; round < ROUNDS + 10; round++) {
      let start = process.hrtime.bigint()
      yield* floorBatch
      const floorNs = Number(process.hrtime.bigint() - start) / OPS
      start = process.hrtime.bigint()
      yield* l2Batch
      const l2Ns = Number(process.hrtime.bigint() - start) / OPS
      if (round >= 10) {
        floorSamples.push(floorNs)
        l2Samples.push(l2Ns)
      }
    }
  }))
  const row = (id: string, samples: Array<number>, extra: Partial<BenchRow>): BenchRow => {
    const sorted = [...samples].sort((a, b) => a - b)
    const q = (p: number) =>
      Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN) * 1000) / 1000
    return { id, unit: "ns/op", median: q(0.5), p99: q(0.99), ...extra }
  }
  const stats = await Effect.runPromise(reader.stats())
  if (stats.l2.hits === 0 || sink === 0) throw new Error("cache.get-hit.l2 did not hit Redis")
  await Effect.runPromise(writer.clear())
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return [
    row("floor.redis-get", floorSamples, {
      note: "plain GET through the same node-redis client (interleaved with the next row)"
    }),
    row("cache.get-hit.l2", l2Samples, {
      baseline: "floor.redis-get",
      note: "L1 miss + Redis GET + decode + promote; target <= 1.2"
    })
  ]
}

export default async (): Promise<ReadonlyArray<BenchRow>> => [...(await memoryRows()), ...(await redisRows())]

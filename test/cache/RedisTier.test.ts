/**
 * Tests of the tiered cache (L1 memory over L2 Redis): the shared conformance suite against a real Redis, and
 * Redis-specific behaviour: promotion with the remaining TTL, write-through and clears on both tiers, undecodable
 * L2 values, and Redis going down mid-run (a `redis-server` this test starts itself) with automatic recovery.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Logger, Metric, Option, Schedule, Schema } from "effect"
import { Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { afterAll } from "vitest"
import { makeTiered } from "../../src/cache/Cache.ts"
import type { CacheOptions } from "../../src/cache/CacheOptions.ts"
import { recommendedNodeRedisOptions } from "../../src/cache/RedisTier.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { cacheConformance } from "./CacheConformance.ts"

const runPrefix = uniquePrefix("cache")
let counter = 0
const freshPrefix = () => `${runPrefix}${++counter}:`

const RedisLive = NodeRedis.layer({ url: redisUrl, ...recommendedNodeRedisOptions })
/** The Redis service, built in the test's Scope (so it outlives the effect that builds the cache). */
const redisContext = Layer.build(RedisLive)

const tiered = (prefix: string, options: CacheOptions<string> = {}) =>
  Effect.gen(function*() {
    const context = yield* redisContext
    return yield* makeTiered({ ...options, redis: { value: Schema.String, prefix } }).pipe(Effect.provide(context))
  })

const rawRedis = Effect.gen(function*() {
  const context = yield* redisContext
  return Context.get(context, Redis.Redis)
})

afterAll(async () => {
  await Effect.runPromise(
    cleanupRedisPrefix(runPrefix).pipe(Effect.provide(RedisLive), Effect.ignore)
  )
})

describeRedis("Cache (memory over Redis)", () => {
  cacheConformance("memory+redis", (options) =>
    Effect.mapError(tiered(freshPrefix(), options), (e) => {
      if (e._tag === "RedisError") throw e
      return e
    }))

  it.effect("an L1 miss is served from L2 and promoted with exactly the remaining TTL", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const writer = yield* tiered(prefix, { sweepInterval: "1 hour" })
      const reader = yield* tiered(prefix, { sweepInterval: "1 hour" })
      yield* writer.put("k", "v", { ttl: "10 seconds", tokens: 7 })
      yield* TestClock.adjust("4 seconds")
      assert.deepStrictEqual(yield* reader.get("k"), Option.some("v")) // L2 hit, promoted
      let stats = yield* reader.stats()
      assert.strictEqual(stats.l2.hits, 1)
      assert.strictEqual(stats.l1.misses, 1)
      assert.strictEqual(stats.tokensSaved, 7)
      yield* TestClock.adjust(5_999)
      assert.deepStrictEqual(yield* reader.get("k"), Option.some("v")) // L1 hit
      stats = yield* reader.stats()
      assert.strictEqual(stats.l1.hits, 1)
      assert.strictEqual(stats.l2.hits, 1)
      yield* TestClock.adjust(1)
      assert.isTrue(Option.isNone(yield* reader.get("k"))) // expired in L1 and in L2 (stored expiry)
      stats = yield* reader.stats()
      assert.strictEqual(stats.l1.evictions.ttl, 1)
      assert.strictEqual(stats.l2.evictions.ttl, 1)
      const redis = yield* rawRedis
      const pttl = yield* redis.send<number>("PTTL", `${prefix}k`)
      assert.isTrue(pttl > 0 && pttl <= 10_000, `PX is set on the key (PTTL ${pttl})`)
    }))

  it.effect("write-through, delete and namespace clear act on both tiers (SCAN by prefix)", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const cache = yield* tiered(prefix)
      const redis = yield* rawRedis
      yield* cache.put("llm:a", "1")
      yield* cache.put("llm:b", "2")
      yield* cache.put("emb:a", "3")
      assert.isString(yield* redis.send<string | null>("GET", `${prefix}llm:a`))
      yield* cache.delete("emb:a")
      assert.isNull(yield* redis.send<string | null>("GET", `${prefix}emb:a`))
      yield* cache.put("emb:a", "3")
      yield* cache.clear({ namespace: "llm" })
      assert.strictEqual(yield* redis.send<number>("EXISTS", `${prefix}llm:a`, `${prefix}llm:b`), 0)
      assert.strictEqual(yield* redis.send<number>("EXISTS", `${prefix}emb:a`), 1)
      yield* cache.clear()
      assert.strictEqual(yield* redis.send<number>("EXISTS", `${prefix}emb:a`), 0)
    }))

  it.effect("an undecodable L2 value is a miss plus a counter, never a crash", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const cache = yield* tiered(prefix)
      const redis = yield* rawRedis
      yield* redis.send("SET", `${prefix}bad`, "{not json", "PX", "60000")
      yield* redis.send("SET", `${prefix}wrong`, JSON.stringify({ v: 42, e: null }), "PX", "60000")
      assert.isTrue(Option.isNone(yield* cache.get("bad")))
      assert.isTrue(Option.isNone(yield* cache.get("wrong")))
      assert.strictEqual(yield* cache.getOrCompute("wrong", Effect.succeed("recomputed")), "recomputed")
      const stats = yield* cache.stats()
      assert.strictEqual(stats.l2.decodeFailures, 2) // each undecodable key is deleted once seen
      assert.strictEqual(yield* redis.send<number>("EXISTS", `${prefix}bad`), 0)
      assert.strictEqual(stats.l2.degraded, false)
      assert.deepStrictEqual(yield* cache.get("wrong"), Option.some("recomputed"))
    }))

  it.effect("an L2 read racing a delete never resurrects the value in L1", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const writer = yield* tiered(prefix)
      const reader = yield* tiered(prefix)
      yield* writer.put("k", "v")
      const inFlight = yield* Effect.forkChild(reader.get("k"), { startImmediately: true }) // GET sent
      yield* reader.delete("k") // UNLINK sent after the GET on the same connection
      assert.deepStrictEqual(yield* Fiber.join(inFlight), Option.some("v")) // the read linearises before the delete
      assert.deepStrictEqual(reader.l1Keys(), []) // ...but is not promoted
      assert.isTrue(Option.isNone(yield* reader.get("k")))
    }))

  it.effect("invalid Redis tier options name the field", () =>
    Effect.gen(function*() {
      const context = yield* redisContext
      const e1 = yield* Effect.flip(
        makeTiered({ redis: { value: Schema.String, timeout: "later" as never } }).pipe(Effect.provide(context))
      )
      assert.strictEqual(e1.path, "redis.timeout")
      const e2 = yield* Effect.flip(makeTiered({ redis: { value: "string" as never } }).pipe(Effect.provide(context)))
      assert.strictEqual(e2.path, "redis.value")
    }))

  it.effect("getOrCompute reads L2 before computing (single flight across instances)", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* tiered(prefix)
      const b = yield* tiered(prefix)
      assert.strictEqual(yield* a.getOrCompute("k", Effect.succeed("from-a")), "from-a")
      assert.strictEqual(yield* b.getOrCompute("k", Effect.succeed("from-b")), "from-a")
      assert.strictEqual((yield* b.stats()).computations, 0)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Redis down mid-run: a redis-server started by this test on a free port, killed, then restarted.

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const startRedisServer = (port: number): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn("redis-server", [
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no"
    ], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    child.once("error", reject)
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Ready to accept connections")) resolve(child)
    })
  })

const stopRedisServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve()
      return
    }
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const redisServerAvailable = await new Promise<boolean>((resolve) => {
  const probe = spawn("redis-server", ["--version"], { stdio: "ignore" })
  probe.once("error", () => resolve(false))
  probe.once("exit", (code) => resolve(code === 0))
})

const logs: Array<{ readonly level: string; readonly message: string }> = []
const captureLogger = Logger.make((options) => {
  const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
  logs.push({ level: options.logLevel, message })
})
const metric = (id: string) =>
  Effect.map(Metric.snapshot, (all) => all.find((m) => m.id === id && m.attributes?.["cache"] === "degradation")?.state)

describe.skipIf(!redisServerAvailable)("Cache (memory over Redis): Redis down mid-run", () => {
  it.live(
    "keeps serving from L1, counts and emits the degradation, and recovers by itself",
    () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(freePort)
        let server = yield* Effect.promise(() => startRedisServer(port))
        yield* Effect.addFinalizer(() => Effect.promise(() => stopRedisServer(server)))
        const layer = NodeRedis.layer({ url: `redis://127.0.0.1:${port}`, ...recommendedNodeRedisOptions })
        const context = yield* Layer.build(layer)
        const cache = yield* makeTiered({
          name: "degradation",
          redis: { value: Schema.String, prefix: "down-test:", timeout: "200 millis", probeInterval: "50 millis" }
        }).pipe(Effect.provide(context))
        yield* cache.put("a", "1")
        assert.strictEqual((yield* cache.stats()).l2.writes, 1)

        yield* Effect.promise(() => stopRedisServer(server))
        // Reads and writes keep working from L1 while Redis is gone.
        assert.deepStrictEqual(yield* cache.get("a"), Option.some("1"))
        yield* cache.put("b", "2")
        assert.deepStrictEqual(yield* cache.get("b"), Option.some("2"))
        assert.isTrue(Option.isNone(yield* cache.get("missing")))
        assert.strictEqual(yield* cache.getOrCompute("c", Effect.succeed("3")), "3")
        let stats = yield* cache.stats()
        assert.isTrue(stats.l2.degraded)
        assert.strictEqual(stats.l2.degradations, 1)
        assert.isAtLeast(stats.l2.errors, 1)
        assert.deepStrictEqual(yield* metric("troupe_cache_l2_degraded"), { value: 1 })
        assert.deepStrictEqual(yield* metric("troupe_cache_l2_degradations_total"), { count: 1, incremental: false })

        server = yield* Effect.promise(() => startRedisServer(port))
        // The probe notices the server (node-redis reconnects with back-off) and replays pending invalidations.
        for (let i = 0; i < 100 && (yield* cache.stats()).l2.degraded; i++) yield* Effect.sleep("50 millis")
        stats = yield* cache.stats()
        assert.isFalse(stats.l2.degraded, "recovered")
        assert.strictEqual(stats.l2.recoveries, 1)
        assert.strictEqual(stats.l2.degradations, 1)
        assert.deepStrictEqual(yield* metric("troupe_cache_l2_degraded"), { value: 0 })
        yield* cache.put("d", "4")
        const redis = Context.get(context, Redis.Redis)
        // the test's own client (the parent of the tier's connection) reconnects with its own back-off: wait for it
        const written = yield* redis.send<string | null>("GET", "down-test:d").pipe(
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
        )
        assert.isString(written)
        // One log line per transition.
        const warnings = logs.filter((l) => l.level === "Warn" && l.message.includes("Redis tier unavailable"))
        const recoveries = logs.filter((l) => l.level === "Info" && l.message.includes("Redis tier recovered"))
        assert.strictEqual(warnings.length, 1)
        assert.strictEqual(recoveries.length, 1)
      }).pipe(
        Effect.provide(Logger.layer([captureLogger])),
        Effect.provideService(Metric.MetricRegistry, new Map())
      ),
    30_000
  )

  it.live("a cache whose Redis answers nothing (closed port mid-run) never fails a call", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const server = yield* Effect.promise(() => startRedisServer(port))
      const context = yield* Layer.build(
        NodeRedis.layer({ url: `redis://127.0.0.1:${port}`, ...recommendedNodeRedisOptions })
      )
      const cache = yield* makeTiered({
        redis: { value: Schema.String, prefix: "closed:", timeout: "100 millis", probeInterval: "1 second" }
      }).pipe(Effect.provide(context))
      yield* Effect.promise(() => stopRedisServer(server))
      for (let i = 0; i < 20; i++) {
        yield* cache.put(`k${i}`, "v")
        yield* cache.get(`k${i}`)
        yield* cache.delete(`k${i}`)
      }
      yield* cache.clear({ namespace: "x" })
      const stats = yield* cache.stats()
      assert.isTrue(stats.l2.degraded)
      assert.strictEqual(stats.l2.degradations, 1)
    }), 30_000)
})

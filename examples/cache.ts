/**
 * The troupe cache in one small program: hits and misses, TTL expiry, single-flight `getOrCompute`, an LLM
 * response cache, and the statistics. Runs without Redis (`node examples/cache.ts`); when `REDIS_URL` answers,
 * the same program also runs on the tiered cache (L1 memory over L2 Redis).
 */
import { Effect, Layer, Option, Schema } from "effect"
import { Cache, ResponseCache } from "../src/cache/index.ts"

const program = (label: string) =>
  Effect.gen(function*() {
    const cache = yield* Cache
    const responses = yield* ResponseCache
    yield* Effect.log(`--- ${label}`)

    // Hits and misses.
    yield* cache.put("user:1", "Ada")
    yield* Effect.log("get user:1 ->", Option.getOrNull(yield* cache.get("user:1")))
    yield* Effect.log("get user:2 ->", Option.getOrNull(yield* cache.get("user:2")))

    // TTL expiry (a short real TTL here; tests use TestClock instead).
    yield* cache.put("session:abc", "token", { ttl: "50 millis" })
    yield* Effect.sleep("60 millis")
    yield* Effect.log("session:abc after its TTL ->", Option.getOrNull(yield* cache.get("session:abc")))

    // Single-flight: ten concurrent misses run the computation once.
    let computations = 0
    const slowLookup = Effect.sync(() => ++computations).pipe(Effect.delay("20 millis"), Effect.as("expensive value"))
    const results = yield* Effect.all(
      Array.from({ length: 10 }, () => cache.getOrCompute("report:q3", slowLookup, { ttl: "1 hour" })),
      { concurrency: "unbounded" }
    )
    yield* Effect.log(
      `10 concurrent getOrCompute -> ${new Set(results).size} distinct value, ${computations} computation`
    )

    // An LLM response cache: the second identical request (modulo whitespace and key order) is a hit.
    const request = {
      provider: "anthropic",
      model: "claude-sonnet",
      messages: [{ role: "user", content: "Hello  there" }]
    }
    const callModel = Effect.succeed({ text: "Hi! How can I help?", tokens: 42 }).pipe(Effect.delay("10 millis"))
    yield* responses.cached(request, callModel)
    yield* responses.cached({
      messages: [{ content: "Hello there", role: "user" }],
      model: "claude-sonnet",
      provider: "anthropic"
    }, callModel)

    const stats = yield* cache.stats()
    yield* Effect.log(
      `stats: hits=${stats.hits} misses=${stats.misses} hitRatio=${
        stats.hitRatio.toFixed(2)
      } entries=${stats.entries}` +
        ` evictions=${JSON.stringify(stats.evictions)} tokensSaved=${stats.tokensSaved} l2=${
          stats.l2.enabled ? "on" : "off"
        }`
    )
    yield* cache.clear()
  })

// this example's cache stores responses with a token count
const responseLayer = ResponseCache.layer({
  normalizeWhitespace: true,
  tokensOf: (r) => (r as { tokens: number }).tokens
})

const main = Effect.gen(function*() {
  yield* program("memory cache").pipe(
    Effect.provide(responseLayer.pipe(Layer.provideMerge(Cache.layerMemory({ maxEntries: 1000, name: "example" }))))
  )
  const url = process.env["REDIS_URL"]
  if (url === undefined) {
    yield* Effect.log("(set REDIS_URL to also run on the tiered cache: L1 memory over L2 Redis)")
    return
  }
  const tiered = Cache.layerNodeRedis({
    url,
    name: "example-tiered",
    redis: { value: Schema.Unknown, prefix: `troupe-example:${process.pid}:` }
  })
  yield* program("tiered cache (memory over Redis)").pipe(
    Effect.provide(responseLayer.pipe(Layer.provideMerge(tiered))),
    Effect.catchTag(
      "RedisError",
      (e) => Effect.logWarning("Redis not reachable; skipped the tiered run", String(e.cause))
    )
  )
})

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

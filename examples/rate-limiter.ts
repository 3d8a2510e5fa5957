/**
 * RateLimiter tour (`node examples/rate-limiter.ts`, no Redis needed): a burst of calls waits its turn on
 * the limiter (FIFO `acquire`, sleeping exactly until tokens are due), a multi-tier policy refuses with the
 * binding tier and an exact `retryAfter`, and per-provider defaults are picked from scoped keys.
 */
import { Clock, Effect } from "effect"
import { RateLimiter, RateLimitKey } from "../src/ratelimit/index.ts"

const program = Effect.gen(function*() {
  const limiter = yield* RateLimiter
  const start = yield* Clock.currentTimeMillis
  const elapsed = Effect.map(Clock.currentTimeMillis, (now) => `${String(now - start).padStart(4)} ms`)

  // 1. A burst of 6 calls against a bucket of 3 (refilling 1 token per 100 ms): 3 pass at once, 3 wait in order.
  yield* Effect.log("burst: 6 calls, bucket of 3 refilling 1 per 100 ms")
  yield* Effect.forEach(
    [1, 2, 3, 4, 5, 6],
    (i) =>
      limiter.acquire("agent-1", { policy: "burst", timeout: "1 second" }).pipe(
        Effect.andThen(elapsed),
        Effect.tap((t) => Effect.log(`  call ${i} admitted at ${t}`))
      ),
    { concurrency: "unbounded", discard: true }
  )

  // 2. Multi-tier: 5 per second and 8 per minute, checked atomically; refusals name the binding tier.
  yield* Effect.log("multi-tier: 5/second and 8/minute")
  for (let i = 1; i <= 7; i++) {
    const result = yield* Effect.result(limiter.check("agent-2", { policy: "tiers" }))
    yield* Effect.log(
      result._tag === "Success"
        ? `  check ${i}: allowed, remaining ${JSON.stringify(result.success.remaining)}`
        : `  check ${i}: ${result.failure.message}`
    )
  }

  // 3. Weighted costs (e.g. LLM tokens) and per-provider defaults from scoped keys.
  const key = RateLimitKey.make({ provider: "anthropic", user: "alice", apiKey: "sk-never-stored" })
  const status = yield* limiter.status(key)
  yield* Effect.log(
    `key ${key} -> policy "${status.policy}": ${status.tiers.map((t) => `${t.name} ${t.limit}`).join(", ")}`
  )
  const allowed = yield* limiter.check(key, { cost: 10 })
  yield* Effect.log(
    `  cost 10 allowed, remaining ${JSON.stringify(allowed.remaining)}, full again in ${allowed.resetAfterMillis} ms`
  )
})

const layer = RateLimiter.layerMemory({
  policies: {
    default: { tiers: [{ _tag: "TokenBucket", capacity: 60, refillTokens: 60, refillEvery: "1 minute" }] },
    anthropic: {
      tiers: [
        { _tag: "TokenBucket", name: "minute", capacity: 50, refillTokens: 50, refillEvery: "1 minute" },
        { _tag: "FixedWindow", name: "hour", limit: 1000, window: "1 hour" },
        { _tag: "FixedWindow", name: "day", limit: 10000, window: "1 day" }
      ]
    },
    burst: {
      tiers: [{ _tag: "TokenBucket", name: "bucket", capacity: 3, refillTokens: 1, refillEvery: "100 millis" }]
    },
    tiers: {
      tiers: [
        { _tag: "SlidingWindow", name: "second", limit: 5, window: "1 second" },
        { _tag: "FixedWindow", name: "minute", limit: 8, window: "1 minute" }
      ]
    }
  }
})

await Effect.runPromise(program.pipe(Effect.provide(layer)))

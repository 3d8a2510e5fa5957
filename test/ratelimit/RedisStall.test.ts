/**
 * Slow is not down, and a stalled Redis never hangs a caller or a shutdown (a private redis-server, frozen with
 * SIGSTOP or killed): one timed-out call does not divert the next ones; a connection error, or
 * `timeoutCircuit` timeouts in a row, trips the cooldown; the insurance limiter admits only its share
 * (limit / expectedProcesses); and releasing the layer while the server is stopped completes within the
 * store timeout.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { RateLimiter, type RedisRateLimiterOptionsInput } from "../../src/ratelimit/index.ts"
import { describeRedis } from "../support/redis.ts"
import { type OwnRedis, startOwnRedis } from "./support/ownRedis.ts"

const withServer = <A, E>(f: (server: OwnRedis) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(Effect.promise(() => startOwnRedis()), f, (server) => Effect.promise(() => server.kill()))

const limiterAt = (url: string, options: RedisRateLimiterOptionsInput) =>
  RateLimiter.layerRedis({ prefix: "stall:", ...options }).pipe(Layer.provide(NodeRedis.layer({ url })))

const policies = { default: { tiers: [{ _tag: "FixedWindow" as const, name: "w", limit: 8, window: "1 hour" }] } }
const sleepReal = (ms: number) =>
  Effect.promise(() =>
    new Promise((resolve) => {
      setTimeout(resolve, ms)
    })
  )
const elapsed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const value = yield* effect
    return [value, Date.now() - start] as const
  })

describeRedis("RateLimiter (Redis) when the server stalls", () => {
  it.live(
    "slow is not down: one timed-out call is answered by insurance and the next call goes to Redis",
    () =>
      withServer((server) =>
        Effect.gen(function*() {
          const rl = yield* RateLimiter
          assert.strictEqual((yield* rl.check("k")).degraded, undefined)
          server.stop()
          const slow = yield* rl.check("k")
          assert.strictEqual(slow.degraded, "insurance")
          server.resume()
          yield* sleepReal(50)
          const next = yield* rl.check("k")
          assert.strictEqual(next.degraded, undefined) // no cooldown after a single timeout
          assert.strictEqual((yield* rl.stats).storeErrors, 1)
        }).pipe(
          Effect.provide(limiterAt(server.url, { policies, storeTimeout: "200 millis", storeCooldown: "10 seconds" }))
        )
      ),
    20_000
  )

  it.live(
    "a circuit of 3 consecutive timeouts trips the cooldown: the 4th call does not wait",
    () =>
      withServer((server) =>
        Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.check("k")
          server.stop()
          for (let i = 0; i < 3; i++) {
            const [r, ms] = yield* elapsed(rl.check("k"))
            assert.strictEqual(r.degraded, "failOpen")
            assert.isAtLeast(ms, 150)
          }
          const [fourth, ms] = yield* elapsed(rl.check("k"))
          assert.strictEqual(fourth.degraded, "failOpen")
          assert.isBelow(ms, 100)
          server.resume()
        }).pipe(
          Effect.provide(
            limiterAt(server.url, {
              policies,
              onStoreError: "failOpen",
              storeTimeout: "200 millis",
              storeCooldown: "10 seconds"
            })
          )
        )
      ),
    20_000
  )

  it.live(
    "Redis down (connection error): insurance takes over at once and admits its share, limit / expectedProcesses",
    () =>
      withServer((server) =>
        Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.check("warm")
          yield* Effect.promise(() => server.kill())
          const results = yield* Effect.forEach([1, 2, 3, 4], () => Effect.result(rl.check("k")))
          const tags = results.map((r) => (r._tag === "Success" ? `ok:${r.success.degraded}` : r.failure._tag))
          assert.deepStrictEqual(tags, ["ok:insurance", "ok:insurance", "RateLimited", "RateLimited"]) // 8 / 4 = 2
        }).pipe(Effect.provide(limiterAt(server.url, { policies, storeTimeout: "300 millis", expectedProcesses: 4 })))
      ),
    20_000
  )

  it.live(
    "releasing the layer while the server is stopped (a command in flight) completes within the store timeout",
    () =>
      withServer((server) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(
            limiterAt(server.url, { policies, onStoreError: "failOpen", storeTimeout: "200 millis" }),
            scope
          )
          const rl = context.mapUnsafe.get(RateLimiter.key) as RateLimiter["Service"]
          yield* rl.check("k")
          server.stop()
          assert.strictEqual((yield* rl.check("k")).degraded, "failOpen") // written, never answered
          const [exit, ms] = yield* elapsed(Effect.timeoutOption(Scope.close(scope, Exit.void), "3 seconds"))
          assert.strictEqual(exit._tag, "Some", "release hung")
          assert.isBelow(ms, 1_000)
          server.resume()
        })
      ),
    20_000
  )
})

import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import { afterAll } from "vitest"
import { Abuse } from "../../src/identity/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { abuseConformance } from "./AbuseConformance.ts"

abuseConformance({ label: "memory", shares: false, make: (options) => Abuse.make(options) })

describeRedis("Abuse on Redis", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(
        Effect.provide(NodeRedis.layer({ url: redisUrl }))
      )
    )
  })
  const byName = new Map<string, string>()
  abuseConformance({
    label: "redis",
    shares: true,
    make: (options, shared) =>
      Effect.gen(function*() {
        let prefix = shared === undefined ? undefined : byName.get(shared)
        if (prefix === undefined) {
          prefix = uniquePrefix("abuse")
          prefixes.push(prefix)
          if (shared !== undefined) byName.set(shared, prefix)
        }
        const context = yield* Layer.build(NodeRedis.layer({ url: redisUrl })).pipe(Effect.orDie)
        return yield* Abuse.makeRedis({ ...options, prefix }).pipe(Effect.provideContext(context))
      })
  })
})

describeRedis("Abuse on Redis: the blocked-target index", () => {
  const prefix = uniquePrefix("abuse-index")
  afterAll(async () => {
    await Effect.runPromise(cleanupRedisPrefix(prefix).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl }))))
  })

  it.effect("every table is bounded: expired blocks leave the index at the next block, and it keeps at most maxTracked", () =>
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const abuse = yield* Abuse.makeRedis({
        prefix,
        maxTracked: 20,
        policy: { rules: [{ signal: "auth_failure", target: "ip", threshold: 1, windowMs: 1_000, blockMs: 1_000 }] }
      })
      for (let i = 0; i < 50; i++) {
        yield* abuse.signal("auth_failure", { ip: `expired-${i}` })
        yield* TestClock.adjust("2 seconds")
      }
      assert.strictEqual(yield* redis.send<number>("ZCARD", `${prefix}i`), 1)
      for (let i = 0; i < 50; i++) yield* abuse.signal("auth_failure", { ip: `active-${i}` })
      assert.strictEqual(yield* redis.send<number>("ZCARD", `${prefix}i`), 20)
      assert.strictEqual((yield* abuse.check({ ip: "active-0" }))._tag, "Some") // the block itself stays
    }).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl }))))
})

describe("Abuse on Redis: a store failure", () => {
  // a Redis whose every command fails (the detector uses only send and eval)
  const down = Layer.succeed(
    Redis.Redis,
    {
      send: () => Effect.fail(new Redis.RedisError({ cause: new Error("connection refused") })),
      eval: () => () => Effect.fail(new Redis.RedisError({ cause: new Error("connection refused") }))
    } as unknown as Redis.Redis["Service"]
  )

  it.effect("counts as no block (fails open): signal, check and list answer, lift fails KeyNotFound", () =>
    Effect.gen(function*() {
      const abuse = yield* Abuse.makeRedis({
        prefix: "unused:",
        policy: { rules: [{ signal: "auth_failure", target: "ip", threshold: 1, windowMs: 1_000, blockMs: 1_000 }] }
      })
      assert.isTrue(Option.isNone(yield* abuse.signal("auth_failure", { ip: "a" })))
      assert.isTrue(Option.isNone(yield* abuse.check({ ip: "a" })))
      assert.deepStrictEqual(yield* abuse.list(), [])
      const lift = yield* Effect.flip(abuse.lift("ip", "a"))
      assert.strictEqual(lift._tag, "KeyNotFound")
    }).pipe(Effect.provide(down)))

  it.effect("Abuse.layerRedis and Abuse.layerMemory provide the Detector service", () =>
    Effect.gen(function*() {
      const detector = yield* Abuse.Detector
      assert.isTrue(Option.isNone(yield* detector.check({ ip: "a" })))
    }).pipe(Effect.provide(Abuse.layerRedis({ prefix: "unused:" }).pipe(Layer.provide(down)))))

  it.effect("Abuse.layerMemory provides the Detector service", () =>
    Effect.gen(function*() {
      const detector = yield* Abuse.Detector
      assert.deepStrictEqual(yield* detector.list(), [])
    }).pipe(Effect.provide(Abuse.layerMemory())))
})

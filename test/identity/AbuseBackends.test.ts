import { NodeRedis } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { Abuse } from "../../src/identity/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { abuseConformance } from "./AbuseConformance.ts"

abuseConformance({ label: "memory", shares: false, make: (options) => Abuse.make(options) })

describeRedis("Abuse on Redis", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl })))
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

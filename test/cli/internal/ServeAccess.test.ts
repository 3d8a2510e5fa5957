/**
 * `troupe serve`'s access services (src/cli/internal/ServeAccess.ts): with Redis, blocks are shared between the
 * gateway processes on one Redis (two instances stand for two processes: separate detectors, one prefix); without
 * it, each keeps its own.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Effect, FileSystem, Layer, Option } from "effect"
import * as ServeAccess from "../../../src/cli/internal/ServeAccess.ts"
import { ConfigStore } from "../../../src/config/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../../support/redis.ts"

const config = ConfigStore.layer({ env: () => ({}) }).pipe(Layer.provide(FileSystem.layerNoop({})))

describeRedis("serve access with Redis", () => {
  it.live("with Redis, blocks are shared between the gateway processes on one Redis", () => {
    const prefix = uniquePrefix("serve-access")
    return Effect.gen(function*() {
      const a = yield* ServeAccess.make({ redis: { url: redisUrl, prefix } })
      const b = yield* ServeAccess.make({ redis: { url: redisUrl, prefix } })
      const alone = yield* ServeAccess.make()
      const ip = "203.0.113.9"
      for (let i = 0; i < 100; i++) yield* a.access.abuse!.signal("auth_failure", { ip })
      assert.isTrue(Option.isSome(yield* b.access.abuse!.check({ ip })))
      assert.isTrue(Option.isNone(yield* alone.access.abuse!.check({ ip })))
      yield* cleanupRedisPrefix(prefix).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl })), Effect.ignore)
    }).pipe(Effect.scoped, Effect.provide(config))
  }, 30_000)
})

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

it.live("serve's erasure runs over the same in-memory stores: erasing a principal shreds its audited fields and deletes its keys", () =>
  Effect.gen(function*() {
    const { access } = yield* ServeAccess.make()
    const created = yield* access.keys!.create({
      principal: { kind: "user", id: "erin", tenant: "acme" },
      name: "laptop",
      scopes: []
    })
    yield* access.audit!.record({
      tenant: "acme",
      actor: "user:erin",
      action: "chat",
      resource: "/v1/chat/completions",
      status: "success",
      ip: "198.51.100.7",
      subject: "erin"
    })
    const report = yield* access.privacy!.erase({ tenant: "acme", principal: "erin" })
    assert.deepStrictEqual(report.items.map((i) => [i.where, i.count]).slice(0, 2), [["audit", 1], ["keys", 1]])
    const [entry] = yield* access.audit!.query({ tenant: "acme", action: "chat" })
    assert.strictEqual(entry!.ip, "[erased]")
    assert.strictEqual((yield* Effect.flip(access.keys!.validate(created.key)))._tag, "KeyRejected")
    assert.strictEqual((yield* access.audit!.verify())._tag, "Intact")
  }).pipe(Effect.scoped, Effect.provide(config)))

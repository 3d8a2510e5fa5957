/**
 * ResilientRedis against a real server through a TCP proxy that can stall a connection (packets held, the socket
 * left open: a partition or a blocked server): every command fails fast with `RedisError`, also once sent.
 * Real time (`it.live`): the bound is node-redis's and the socket's, not the Effect clock's.
 */
import { assert, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Scope } from "effect"
import { Redis } from "effect/persistence"
import net from "node:net"
import * as ResilientRedis from "../../../src/app/internal/ResilientRedis.ts"
import { InvalidTroupeOptions } from "../../../src/app/TroupeOptions.ts"
import { describeRedis, redisUrl } from "../../support/redis.ts"

/** A TCP proxy to the Redis server whose client→server direction can be stalled (held, then delivered in order). */
const stallingProxy = () => {
  const target = new URL(redisUrl)
  const sockets = new Set<net.Socket>()
  const held: Array<[net.Socket, Buffer]> = []
  let stalled = false
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname || "127.0.0.1")
    sockets.add(client).add(upstream)
    client.on("data", (data) => {
      if (stalled) held.push([upstream, data])
      else upstream.write(data)
    })
    upstream.on("data", (data) => client.write(data))
    const done = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    for (const socket of [client, upstream]) socket.on("error", done).on("close", done)
  })
  return {
    start: Effect.promise(() =>
      new Promise<number>((resolve) => {
        // the cast: a TCP server's address is an AddressInfo once it listens
        server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
      })
    ),
    stall: (on: boolean) =>
      Effect.sync(() => {
        stalled = on
        if (!on) { for (const [socket, data] of held.splice(0)) socket.write(data) }
      }),
    stop: Effect.promise(() =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
    )
  }
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - start }
  })

describeRedis("ResilientRedis", () => {
  it.live(
    "every command fails fast with RedisError, also one already sent on a stalled connection",
    () =>
      Effect.gen(function*() {
        const proxy = stallingProxy()
        const port = yield* proxy.start
        const scope = yield* Scope.make()
        const redis = Context.get(
          yield* Layer.buildWithScope(ResilientRedis.layer(`redis://127.0.0.1:${port}`), scope),
          Redis.Redis
        )
        assert.strictEqual(yield* redis.send("PING"), "PONG")
        yield* proxy.stall(true)
        // the 3 s guard only keeps a hang from stalling the suite
        const stalled = yield* timed(redis.send("PING").pipe(Effect.timeout("3 seconds")))
        yield* proxy.stall(false)
        assert.isTrue(Exit.isFailure(stalled.exit))
        assert.isBelow(stalled.ms, 1000, `a command on a stalled connection took ${stalled.ms} ms`)
        const error = yield* Effect.flip(Exit.isFailure(stalled.exit) ? stalled.exit : Effect.void)
        assert.instanceOf(error, Redis.RedisError)
        // once the stall clears, the held replies are skipped and replies stay matched to their commands
        assert.strictEqual(yield* redis.send("ECHO", "after the stall"), "after the stall")
        yield* Scope.close(scope, Exit.void)
        yield* proxy.stop
      }),
    10_000
  )
})

it.effect("a URL the Redis client refuses: checkUrl fails with InvalidTroupeOptions at redis.url, never echoing the password; the layer still starts and every command fails with RedisError", () =>
  Effect.gen(function*() {
    for (
      const url of ["redis://127.0.0.1:abc", "redis://u:secretpw@127.0.0.1:6379/notadb", "redis://:p%ZZsecretpw@h"]
    ) {
      const exit = yield* Effect.exit(ResilientRedis.checkUrl(url))
      assert.isTrue(Exit.isFailure(exit), url)
      if (Exit.isFailure(exit)) {
        assert.isFalse(Cause.hasDies(exit.cause), Cause.pretty(exit.cause))
        const error = exit.cause.reasons.find(Cause.isFailReason)?.error
        assert.instanceOf(error, InvalidTroupeOptions, url)
        assert.strictEqual(error?.path, "redis.url")
        assert.notInclude(error?.message, "secretpw")
      }
      const sent = yield* Effect.scoped(Effect.gen(function*() {
        const redis = Context.get(yield* Layer.build(ResilientRedis.layer(url)), Redis.Redis)
        return yield* Effect.flip(redis.send("PING"))
      }))
      assert.strictEqual(sent._tag, "RedisError")
    }
    yield* ResilientRedis.checkUrl("redis://127.0.0.1:6379/2")
  }))

/**
 * Redis backend against the real server (`test/support/redis.ts`): the same conformance suite under
 * TestClock (the caller's clock is passed to the Lua script, so virtual time drives Redis too), 1,000
 * concurrent fibers, several OS processes hammering one key, and a redis-server killed mid-run under each
 * store-error policy. Keys live under a unique prefix per run and are deleted afterwards (SCAN + DEL).
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { type ChildProcess, spawn } from "node:child_process"
import { connect, createServer, type Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { RateLimiter, type RateLimiterEvent, type RateLimiterHooks } from "../../src/ratelimit/index.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { policyChangeConformance } from "./PolicyChangeConformance.ts"
import { rateLimiterConformance } from "./RateLimiterConformance.ts"
import { startOwnRedis } from "./support/ownRedis.ts"

const runPrefix = uniquePrefix("rl")
let layers = 0
const redisLayer = (url: string = redisUrl) => NodeRedis.layer({ url })
const layerAt = (options: Parameters<typeof RateLimiter.layerRedis>[0], hooks?: RateLimiterHooks, url?: string) =>
  RateLimiter.layerRedis({ prefix: `${runPrefix}${layers++}:`, ...options, ...(hooks === undefined ? {} : { hooks }) })
    .pipe(Layer.provide(redisLayer(url)))

const cleanup = async (prefix: string): Promise<void> => {
  const client = createClient({ url: redisUrl })
  await client.connect()
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys)
  }
  await client.close()
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const startRedisServer = async (port: number): Promise<ChildProcess> => {
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--bind",
    "127.0.0.1"
  ], { stdio: "ignore" })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } })
      client.on("error", () => undefined)
      client.connect().then(() => client.close().then(() => resolve(true)), () => resolve(false))
    })
    if (ok) return child
    await new Promise((r) => {
      setTimeout(r, 50)
    })
  }
  throw new Error("redis-server did not start")
}

/**
 * A TCP proxy in front of the test Redis that can be frozen: while frozen it forwards nothing in either
 * direction (a hung server: the connection stays open, no reply comes); thawing forwards what was held back.
 */
const freezableProxy = async (): Promise<
  { readonly url: string; freeze: () => void; thaw: () => void; close: () => Promise<void> }
> => {
  const upstream = new URL(redisUrl)
  let frozen = false
  const held: Array<() => void> = []
  const sockets = new Set<Socket>()
  const relay = (from: Socket, to: Socket) =>
    from.on("data", (chunk) => {
      if (frozen) held.push(() => to.write(chunk))
      else to.write(chunk)
    })
  const server = createServer((client) => {
    const server = connect(Number(upstream.port || 6379), upstream.hostname || "127.0.0.1")
    for (const socket of [client, server]) {
      sockets.add(socket)
      socket.on("error", () => undefined)
      socket.on("close", () => sockets.delete(socket))
    }
    relay(client, server)
    relay(server, client)
    client.on("close", () => server.destroy())
    server.on("close", () => client.destroy())
  })
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve)
  })
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => {
      frozen = true
    },
    thaw: () => {
      frozen = false
      for (const write of held.splice(0)) write()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

describeRedis("RateLimiter (redis)", () => {
  afterAll(() => cleanup(runPrefix))

  rateLimiterConformance("redis", (policies) => layerAt({ policies }))
  policyChangeConformance("redis", (policies) => layerAt({ policies }))

  it.live("1,000 concurrent fibers on one key never over-admit (three tiers, one script call each)", () =>
    Effect.gen(function*() {
      const rl = yield* RateLimiter
      const results = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        () => Effect.result(rl.check("hot")),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Success").length, 100)
    }).pipe(Effect.provide(layerAt({
      policies: {
        default: {
          tiers: [
            { _tag: "SlidingWindow", limit: 100, window: "1 hour" },
            { _tag: "FixedWindow", limit: 500, window: "1 day" },
            { _tag: "TokenBucket", capacity: 300, refillTokens: 1, refillEvery: "1 hour" }
          ]
        }
      }
    }))))

  it.live(
    "several OS processes sharing Redis hammer one key: total admitted never exceeds the limit",
    () =>
      Effect.promise(async () => {
        const prefix = `${runPrefix}procs:`
        const script = fileURLToPath(new URL("./fixtures/hammer.ts", import.meta.url))
        const runs = Array.from({ length: 4 }, () =>
          new Promise<number>((resolve, reject) => {
            const child = spawn(process.execPath, [script], {
              env: { ...process.env, REDIS_URL: redisUrl, RL_PREFIX: prefix, RL_ATTEMPTS: "150" },
              stdio: ["ignore", "pipe", "inherit"]
            })
            let out = ""
            child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
            child.on(
              "exit",
              (
                code
              ) => (code === 0 ? resolve(Number(JSON.parse(out).admitted)) : reject(new Error(`hammer exited ${code}`)))
            )
          }))
        const admitted = await Promise.all(runs)
        const total = admitted.reduce((a, b) => a + b, 0)
        assert.strictEqual(total, 200) // the sliding window's limit; 600 attempts in all
        assert.isTrue(admitted.every((n) => n >= 0 && n <= 150))
      }),
    90_000
  )

  const hourly = { default: { tiers: [{ _tag: "FixedWindow" as const, limit: 1, window: "1 hour" }] } }

  it.live(
    "one compiled Lua script per policy, run by SHA and reloaded on NOSCRIPT: after SCRIPT FLUSH the call succeeds",
    () =>
      Effect.gen(function*() {
        // a private server: SCRIPT FLUSH on the shared one would pull the scripts from under other test runs
        const server = yield* Effect.acquireRelease(Effect.promise(() => startOwnRedis()), (own) =>
          Effect.promise(own.kill))
        const admin = createClient({ url: server.url })
        yield* Effect.acquireRelease(
          Effect.promise(() =>
            admin.connect()
          ),
          () => Effect.promise(() => admin.close())
        )
        const cachedScripts = Effect.promise(async () =>
          Number(/number_of_cached_scripts:(\d+)/.exec(await admin.info("memory"))?.[1] ?? "-1")
        )
        const events: Array<RateLimiterEvent> = []
        yield* Effect.gen(function*() {
          const rl = yield* RateLimiter
          expect((yield* rl.check("k")).remainingList).toStrictEqual([4])
          expect(yield* cachedScripts).toBe(1)
          yield* Effect.promise(() => admin.scriptFlush())
          expect(yield* cachedScripts).toBe(0)
          // EVALSHA answers NOSCRIPT; the backend loads the script and retries: the call succeeds on the kept state
          const after = yield* rl.check("k")
          expect(after.remainingList).toStrictEqual([3])
          expect(after.degraded).toBeUndefined()
          expect(yield* cachedScripts).toBe(1)
          expect((yield* rl.stats).storeErrors).toBe(0)
          expect(events.filter((e) => e._tag === "StoreFallback")).toStrictEqual([])
        }).pipe(Effect.provide(layerAt(
          {
            onStoreError: "failClosed",
            policies: { default: { tiers: [{ _tag: "FixedWindow", limit: 5, window: "1 hour" }] } }
          },
          { onEvent: (e) => events.push(e) },
          server.url
        )))
      }).pipe(Effect.scoped),
    20_000
  )

  it.effect("clock: server uses Redis TIME, not the caller's clock", () =>
    Effect.gen(function*() {
      const windowMs = 3_600_000
      const refusalAfterTwoHours = (clock: "caller" | "server") =>
        Effect.gen(function*() {
          const rl = yield* RateLimiter
          yield* rl.check("k")
          const refused = yield* Effect.flip(rl.check("k"))
          yield* TestClock.adjust("2 hours") // the caller's clock moves two windows on; Redis's does not
          const later = yield* Effect.result(rl.check("k"))
          return { refused, later: later._tag === "Success" ? "allowed" : later.failure._tag }
        }).pipe(Effect.provide(layerAt({ clock, policies: hourly })))
      // TestClock stands at 0 (1970): the caller's clock puts the request at the start of its hour
      const caller = yield* refusalAfterTwoHours("caller")
      expect(caller.refused).toMatchObject({ _tag: "RateLimited", retryAfterMillis: windowMs })
      expect(caller.later).toBe("allowed")
      // Redis TIME is the real time: the refusal waits for the end of the server's current hour, and the
      // caller's clock jumping two hours changes nothing
      const server = yield* refusalAfterTwoHours("server")
      const untilServerHour = windowMs - (Date.now() % windowMs)
      expect(server.refused._tag).toBe("RateLimited")
      const retryAfter = server.refused._tag === "RateLimited" ? server.refused.retryAfterMillis : Number.NaN
      expect(Math.abs(retryAfter - untilServerHour)).toBeLessThan(2_000)
      expect(server.later).toBe("RateLimited")
    }))

  const killScenario = (onStoreError: "failOpen" | "failClosed" | "insurance") =>
    it.live(`redis-server killed mid-run: ${onStoreError} holds and nothing crashes`, () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(freePort)
        const server = yield* Effect.promise(() => startRedisServer(port))
        const events: Array<RateLimiterEvent> = []
        let restarted: ChildProcess | undefined
        const program = Effect.gen(function*() {
          const rl = yield* RateLimiter
          const watcher = yield* rl.events.pipe(
            Stream.take(2),
            Stream.runCollect,
            Effect.forkChild({ startImmediately: true })
          )
          yield* rl.check("k")
          assert.strictEqual((yield* rl.check("k")).degraded, undefined)
          server.kill("SIGKILL")
          yield* Effect.promise(() =>
            new Promise((r) => {
              server.once("exit", r)
            })
          )
          const after = yield* Effect.forEach([1, 2, 3, 4], () => Effect.result(rl.check("k")))
          const stats = yield* rl.stats
          const tags = after.map((r) => (r._tag === "Success" ? `ok:${r.success.degraded}` : r.failure._tag))
          if (onStoreError === "failOpen") {
            assert.deepStrictEqual(tags, ["ok:failOpen", "ok:failOpen", "ok:failOpen", "ok:failOpen"])
          }
          if (onStoreError === "failClosed") {
            assert.deepStrictEqual(tags, Array(4).fill("RateLimitStoreError"))
          }
          // insurance: a fresh in-memory limiter with the same policy (limit 3, one expected process) takes over
          if (onStoreError === "insurance") {
            assert.deepStrictEqual(tags, ["ok:insurance", "ok:insurance", "ok:insurance", "RateLimited"])
          }
          assert.strictEqual(stats.storeErrors, 4)
          assert.strictEqual(stats.fallbacks[onStoreError], 4)
          const seen = yield* Fiber.join(watcher)
          assert.strictEqual(seen[0]?._tag, "StoreFallback")
          assert.strictEqual(
            events.filter((e) => e._tag === "StoreFallback").length,
            4
          )
          // bring the server back on the same port: the limiter recovers by itself
          restarted = yield* Effect.promise(() => startRedisServer(port))
          yield* Effect.sleep("250 millis") // past the store cooldown
          let recovered = false
          for (let i = 0; i < 40 && !recovered; i++) {
            const r = yield* Effect.result(rl.check("k2"))
            recovered = r._tag === "Success" && r.success.degraded === undefined
            if (!recovered) yield* Effect.sleep("100 millis")
          }
          assert.isTrue(recovered)
          assert.isTrue(events.some((e) => e._tag === "StoreRecovered"))
        })
        yield* program.pipe(
          Effect.provide(layerAt(
            {
              onStoreError,
              storeTimeout: "300 millis",
              storeCooldown: "200 millis",
              expectedProcesses: 1,
              policies: {
                default: {
                  tiers: [{ _tag: "FixedWindow", limit: 3, window: "1 hour" }, {
                    _tag: "SlidingWindow",
                    limit: 3,
                    window: "1 hour"
                  }]
                }
              }
            },
            { onEvent: (e) => events.push(e) },
            `redis://127.0.0.1:${port}`
          )),
          Effect.ensuring(Effect.sync(() => {
            server.kill("SIGKILL")
            restarted?.kill("SIGKILL")
          }))
        )
      }), 20_000)

  killScenario("failOpen")
  killScenario("failClosed")
  killScenario("insurance")

  it.live(
    "hung connection (open, never answers), circuit of 1 timeout: the store timeout fires, the policy holds, recovery is automatic",
    () =>
      Effect.gen(function*() {
        const proxy = yield* Effect.promise(freezableProxy)
        const events: Array<RateLimiterEvent> = []
        const program = Effect.gen(function*() {
          const rl = yield* RateLimiter
          assert.strictEqual((yield* rl.check("h")).degraded, undefined)
          proxy.freeze()
          const started = Date.now()
          const first = yield* rl.check("h")
          const waited = Date.now() - started
          assert.strictEqual(first.degraded, "failOpen")
          assert.isAtLeast(waited, 150) // the 200 ms store timeout (watchdog granularity: up to 1.25 x)
          assert.isBelow(waited, 1_000)
          const during = Date.now()
          assert.strictEqual((yield* rl.check("h")).degraded, "failOpen") // cooling down: no new wait
          assert.isBelow(Date.now() - during, 100)
          const stats = yield* rl.stats
          assert.strictEqual(stats.storeErrors, 2)
          assert.strictEqual(stats.fallbacks.failOpen, 2)
          const fallback = events.find((e) => e._tag === "StoreFallback")
          assert.include(fallback?._tag === "StoreFallback" ? fallback.reason : "", "no reply within 200 ms")
          proxy.thaw()
          yield* Effect.sleep("250 millis") // past the cooldown
          let recovered = false
          for (let i = 0; i < 20 && !recovered; i++) {
            const r = yield* rl.check("h2")
            recovered = r.degraded === undefined
            if (!recovered) yield* Effect.sleep("100 millis")
          }
          assert.isTrue(recovered)
          assert.isTrue(events.some((e) => e._tag === "StoreRecovered"))
        })
        yield* program.pipe(
          Effect.provide(layerAt({
            onStoreError: "failOpen",
            storeTimeout: "200 millis",
            storeCooldown: "200 millis",
            timeoutCircuit: 1,
            policies: { default: { tiers: [{ _tag: "FixedWindow", limit: 100, window: "1 hour" }] } }
          }, {
            onEvent: (e) => events.push(e)
          }, proxy.url)),
          Effect.ensuring(Effect.promise(() => proxy.close()))
        )
      }),
    20_000
  )
})

/**
 * Issue 11 §6: every configuration field is honoured by `Troupe.layer` (a test per field), and
 * `rateLimiter.policies` merge over the provider defaults unless `replaceDefaultPolicies`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Option } from "effect"
import { TestClock } from "effect/testing"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { connect, createServer as netServer } from "node:net"
import { createClient } from "redis"
import { Troupe } from "../../src/app/index.ts"
import { ConfigStore } from "../../src/config/index.ts"
import { Llm, type LlmCallInput } from "../../src/pipeline/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const ask = (content: string, model = "fast"): LlmCallInput => ({ model, messages: [{ role: "user", content }] })
const withApp = <A, E>(
  env: Record<string, string>,
  body: Effect.Effect<A, E, Troupe.Services>,
  options: Parameters<typeof Troupe.layerTest>[0] = {}
) =>
  Effect.scoped(
    Effect.flatMap(Layer.build(Troupe.layerTest({ ...options, config: { env } })), (context) =>
      Effect.provide(body, context))
  )

describe("configuration fields honoured by Troupe.layer (issue 11 §6)", () => {
  it.effect("cache.enabled=false: a repeated question is not served from the cache (and it is live)", () =>
    Effect.gen(function*() {
      yield* withApp(
        { TROUPE_CACHE__ENABLED: "false" },
        Effect.gen(function*() {
          const llm = yield* Llm
          yield* llm.generate(ask("q"))
          assert.isFalse((yield* llm.generate(ask("q"))).meta.cached)
        })
      )
      yield* withApp(
        {},
        Effect.gen(function*() {
          const llm = yield* Llm
          yield* llm.generate(ask("live"))
          assert.isTrue((yield* llm.generate(ask("live"))).meta.cached)
          yield* (yield* ConfigStore).update("cache.enabled", false)
          yield* Effect.repeat(Effect.yieldNow, { times: 10 })
          assert.isFalse((yield* llm.generate(ask("live"))).meta.cached)
        })
      )
    }))

  it.effect("cache.maxEntries bounds the response cache", () =>
    withApp(
      { TROUPE_CACHE__MAX_ENTRIES: "1" },
      Effect.gen(function*() {
        const llm = yield* Llm
        yield* llm.generate(ask("one"))
        yield* llm.generate(ask("two")) // evicts "one"
        assert.isFalse((yield* llm.generate(ask("one"))).meta.cached)
      })
    ))

  it.effect("cache.ttl: an answer older than the ttl is not served", () =>
    withApp(
      { TROUPE_CACHE__TTL: "1000" },
      Effect.gen(function*() {
        const llm = yield* Llm
        yield* llm.generate(ask("q"))
        assert.isTrue((yield* llm.generate(ask("q"))).meta.cached)
        yield* TestClock.adjust("1001 millis")
        assert.isFalse((yield* llm.generate(ask("q"))).meta.cached)
      })
    ))

  it.effect("cache.backend=redis without a Redis server fails at start-up naming the field", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(withApp({ TROUPE_CACHE__BACKEND: "redis" }, Effect.void))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.strictEqual(error?._tag, "ConfigValidationError")
      assert.include(error?.message ?? "", "cache.backend")
    }))

  it.effect("telemetry.reporterWindow sizes the reporter's window", () =>
    withApp(
      { TROUPE_TELEMETRY__REPORTER_WINDOW: "2" },
      Effect.gen(function*() {
        const llm = yield* Llm
        for (let i = 0; i < 5; i++) yield* llm.generate({ ...ask(`w${i}`), options: { cache: "bypass" } })
        const stats = (yield* (yield* TelemetryHub).stats()).find((c) => c.component.startsWith("llm:"))
        assert.strictEqual(stats?.calls, 2)
      })
    ))

  it.effect("telemetry.enabled=false: no LLM metrics are recorded", () =>
    withApp(
      { TROUPE_TELEMETRY__ENABLED: "false" },
      Effect.gen(function*() {
        yield* (yield* Llm).generate(ask("q", "openai:telemetry-off-model"))
        assert.notInclude(yield* (yield* TelemetryHub).prometheus(), "telemetry-off-model")
      })
    ))

  it.live("telemetry.otlp.{enabled,endpoint,headers} and serviceName: spans reach the endpoint with the headers", () =>
    Effect.gen(function*() {
      const received: Array<{ url: string; auth: string; body: string }> = []
      const server = createServer((req: IncomingMessage, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          received.push({
            url: req.url ?? "",
            auth: String(req.headers["x-otlp-token"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8")
          })
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      const port = yield* Effect.promise(() =>
        new Promise<number>((r) => {
          server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port))
        })
      )
      yield* withApp({
        TROUPE_TELEMETRY__SERVICE_NAME: "svc-issue-11b",
        TROUPE_TELEMETRY__OTLP__ENABLED: "true",
        TROUPE_TELEMETRY__OTLP__ENDPOINT: `http://127.0.0.1:${port}`,
        TROUPE_TELEMETRY__OTLP__HEADERS: JSON.stringify({ "x-otlp-token": "token-0123456789" })
      }, Effect.asVoid(Llm.use((llm) => llm.generate(ask("traced")))))
      yield* Effect.promise(() =>
        new Promise<void>((r) => {
          server.close(() => r())
        })
      )
      const traces = received.filter((r) => r.url === "/v1/traces")
      assert.isAbove(traces.length, 0)
      assert.strictEqual(traces[0]?.auth, "token-0123456789")
      assert.include(traces.map((t) => t.body).join(""), "svc-issue-11b")
    }))
})

describe("rateLimiter.policies (issue 11 §6)", () => {
  const groq = {
    tiers: [{ _tag: "TokenBucket", name: "burst", capacity: 3, refillTokens: 3, refillEvery: "1 second" }]
  } as const

  it.effect("given policies merge over the provider defaults (default and the other providers stay)", () =>
    withApp(
      {},
      Effect.gen(function*() {
        const policies = yield* (yield* RateLimiter).policies
        assert.isTrue(policies.has("default"))
        assert.isTrue(policies.has("openai"))
        assert.strictEqual(policies.get("groq")?.tiers[0]?.name, "burst")
        assert.isFalse((yield* (yield* Llm).generate(ask("q"))).meta.cached)
      }),
      { rateLimiter: { policies: { groq } } }
    ))

  it.effect("replaceDefaultPolicies: true installs exactly the given policies", () =>
    withApp(
      {},
      Effect.gen(function*() {
        const policies = yield* (yield* RateLimiter).policies
        assert.isFalse(policies.has("openai"))
        assert.isTrue(policies.has("default"))
      }),
      { replaceDefaultPolicies: true, rateLimiter: { policies: { default: groq } } }
    ))
})

const keysUnder = (prefix: string) =>
  Effect.promise(async () => {
    const client = createClient({ url: redisUrl })
    await client.connect()
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(keys)
    await client.close()
    return keys
  })
describeRedis("cache.redisPrefix and cache.backend over Redis (issue 11 §6)", () => {
  const real = (env: Record<string, string>, prefix: string) =>
    Troupe.layer({ redis: { url: redisUrl, prefix }, config: { env }, providers: { scripted: {} } })

  it.live("cache.redisPrefix names the Redis tier's keys; cache.backend=memory keeps answers out of Redis", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("troupe-cfg")
      const cachePrefix = `${prefix}answers:`
      yield* Effect.scoped(
        Effect.flatMap(
          Layer.build(real({ TROUPE_CACHE__REDIS_PREFIX: cachePrefix }, prefix)),
          (context) =>
            Effect.provide(
              Llm.use((llm) => llm.generate(ask("redis prefix"))),
              context
            )
        )
      )
      assert.isAbove((yield* keysUnder(cachePrefix)).length, 0)
      yield* Effect.scoped(
        Effect.flatMap(
          Layer.build(real({ TROUPE_CACHE__BACKEND: "memory", TROUPE_CACHE__REDIS_PREFIX: cachePrefix }, prefix)),
          (context) => Effect.provide(Llm.use((llm) => llm.generate(ask("memory only"))), context)
        )
      )
      assert.lengthOf(yield* keysUnder(cachePrefix), 0)
      yield* keysUnder(prefix)
    }))
})

describe("Redis down at start-up (issue 11 §6)", () => {
  it.live(
    "the application starts degraded (cache from memory, limiter on its failure policy) and answers",
    () =>
      Effect.gen(function*() {
        const server = createServer()
        const port = yield* Effect.promise(() =>
          new Promise<number>((r) => {
            server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port))
          })
        )
        yield* Effect.promise(() =>
          new Promise<void>((r) => {
            server.close(() => r())
          })
        ) // nothing listens there now
        const app = Troupe.layer({
          redis: { url: `redis://127.0.0.1:${port}` },
          config: { env: {} },
          providers: { scripted: {} } // the Redis limiter's default store-failure policy: insurance (in memory)
        })
        const [first, second] = yield* Effect.scoped(Effect.flatMap(Layer.build(app), (context) =>
          Effect.provide(
            Effect.all([
              Llm.use((llm) => llm.generate(ask("degraded"))),
              Llm.use((llm) => llm.generate(ask("degraded")))
            ]),
            context
          )))
        assert.isFalse(first.meta.cached)
        assert.isTrue(second.meta.cached) // served from L1
      }),
    20_000
  )
})

describeRedis("Redis coming back (issue 11 §6)", () => {
  it.live(
    "after a degraded start, the cache's Redis tier is used once Redis is reachable; one log line says so",
    () =>
      Effect.gen(function*() {
        // a TCP proxy to the real Redis, closed at start-up and opened later on the same port
        const target = new URL(redisUrl)
        const probe = createServer()
        const port = yield* Effect.promise(() =>
          new Promise<number>((r) => {
            probe.listen(0, "127.0.0.1", () => r((probe.address() as AddressInfo).port))
          })
        )
        yield* Effect.promise(() =>
          new Promise<void>((r) => {
            probe.close(() => r())
          })
        )
        const proxy = netServer((socket) => {
          const upstream = connect(Number(target.port || 6379), target.hostname)
          socket.pipe(upstream).pipe(socket)
          socket.on("error", () => upstream.destroy())
          upstream.on("error", () => socket.destroy())
        })
        const prefix = uniquePrefix("troupe-recover")
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => {
          logs.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
        const app = Troupe.layer({
          redis: { url: `redis://127.0.0.1:${port}`, prefix },
          config: { env: {} },
          providers: { scripted: {} }
        })
        const keys = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(app)
          const llm = Context.get(context, Llm)
          yield* llm.generate(ask("before"))
          yield* Effect.promise(() =>
            new Promise<void>((r) => {
              proxy.listen(port, "127.0.0.1", () => r())
            })
          )
          let found: Array<string> = []
          for (let i = 0; i < 40 && found.length === 0; i++) {
            yield* Effect.sleep("150 millis")
            yield* llm.generate(ask(`after ${i}`))
            found = yield* keysUnder(`${prefix}cache:`)
          }
          return found
        })).pipe(Effect.provide(Logger.layer([logger])))
        yield* Effect.promise(() =>
          new Promise<void>((r) => {
            proxy.close(() => r())
          })
        )
        assert.isAbove(keys.length, 0)
        assert.lengthOf(logs.filter((l) => l.includes("is unreachable: starting degraded")), 1)
        assert.lengthOf(logs.filter((l) => l.includes("is reachable")), 1)
        yield* keysUnder(prefix)
      }),
    30_000
  )
})

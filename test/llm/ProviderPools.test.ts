/** `ProviderPools`: one undici pool per provider from `providers.<name>.pool`, its stats as gauges; fuzzed with fast-check. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Schema } from "effect"
import { HttpClientRequest } from "effect/http"
import fc from "fast-check"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ConnectionPool } from "../../src/config/ProviderConfig.ts"
import { agentOptions, ProviderPoolMetricNames, ProviderPools } from "../../src/llm/index.ts"

const decodePool = Schema.decodeUnknownSync(ConnectionPool)

/** A loopback server answering `{}` to every request. */
const server = Effect.acquireRelease(
  Effect.promise(async () => {
    const s = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
    await new Promise<void>((resolve) => {
      s.listen(0, "127.0.0.1", resolve)
    })
    return { s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/` } // listening on TCP: an AddressInfo
  }),
  ({ s }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        s.closeAllConnections()
        s.close(() => resolve())
      })
    )
)

const gauge = (id: string, provider: string) =>
  Effect.map(Metric.snapshot, (all) => {
    const found = all.find((m) => m.id === id && m.attributes?.["provider"] === provider)
    return found === undefined ? undefined : (found.state as { readonly value: number }).value // a gauge's state
  })

describe("ProviderPools", () => {
  it.effect("keep-alive pool: connections stay open and are counted in troupe_provider_pool_connected", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const pools = yield* ProviderPools
      const client = yield* pools.clientFor("p-keep", decodePool({ connections: 4 }))
      yield* Effect.forEach(
        Array.from({ length: 8 }),
        () => Effect.flatMap(client.execute(HttpClientRequest.get(url)), (r) => r.text),
        {
          concurrency: 4
        }
      )
      const stats = pools.stats("p-keep")
      assert.isAtLeast(stats.connected, 1)
      assert.isAtMost(stats.connected, 4)
      assert.strictEqual(stats.running, 0)
      assert.strictEqual(yield* gauge(ProviderPoolMetricNames.connected, "p-keep"), stats.connected)
      assert.strictEqual(yield* gauge(ProviderPoolMetricNames.running, "p-keep"), 0)
    }).pipe(Effect.provide(ProviderPools.layer()), Effect.scoped))

  it.effect("the pool's figures are exported as gauges labelled provider: connected, free, pending, running, size", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const pools = yield* ProviderPools
      const client = yield* pools.clientFor("p-gauges", decodePool({ connections: 2 }))
      yield* Effect.flatMap(client.execute(HttpClientRequest.get(url)), (r) => r.text)
      const stats = pools.stats("p-gauges")
      assert.deepStrictEqual(
        [
          yield* gauge(ProviderPoolMetricNames.connected, "p-gauges"),
          yield* gauge(ProviderPoolMetricNames.free, "p-gauges"),
          yield* gauge(ProviderPoolMetricNames.pending, "p-gauges"),
          yield* gauge(ProviderPoolMetricNames.running, "p-gauges"),
          yield* gauge(ProviderPoolMetricNames.size, "p-gauges")
        ],
        [stats.connected, stats.free, stats.pending, stats.running, stats.size]
      )
      assert.deepStrictEqual(Object.values(ProviderPoolMetricNames), [
        "troupe_provider_pool_connected",
        "troupe_provider_pool_free",
        "troupe_provider_pool_pending",
        "troupe_provider_pool_running",
        "troupe_provider_pool_size"
      ])
      assert.isUndefined(yield* gauge(ProviderPoolMetricNames.size, "p-never-used"))
    }).pipe(Effect.provide(ProviderPools.layer()), Effect.scoped))

  it.effect("keepAlive false: a new connection per request (none left open)", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const pools = yield* ProviderPools
      const client = yield* pools.clientFor("p-new", decodePool({ keepAlive: false }))
      for (let i = 0; i < 3; i++) yield* Effect.flatMap(client.execute(HttpClientRequest.get(url)), (r) => r.text)
      yield* Effect.promise(() =>
        new Promise((resolve) => {
          setTimeout(resolve, 20)
        })
      )
      assert.strictEqual(pools.stats("p-new").connected, 0)
    }).pipe(Effect.provide(ProviderPools.layer()), Effect.scoped))

  it.effect("same pool settings → same client; changed settings → a new dispatcher; at most maxProviders kept", () =>
    Effect.gen(function*() {
      const pools = yield* ProviderPools
      const a = yield* pools.clientFor("a", decodePool({}))
      assert.strictEqual(yield* pools.clientFor("a", decodePool({})), a)
      assert.notStrictEqual(yield* pools.clientFor("a", decodePool({ connections: 2 })), a)
      yield* pools.clientFor("b", decodePool({}))
      yield* pools.clientFor("c", decodePool({}))
      assert.deepStrictEqual(pools.stats("unknown"), { connected: 0, free: 0, pending: 0, running: 0, size: 0 })
    }).pipe(Effect.provide(ProviderPools.layer({ maxProviders: 2 })), Effect.scoped))

  it("agentOptions: every valid pool maps to undici options (pipelining 0 exactly when keepAlive is false)", () => {
    const arb = fc.record({
      connections: fc.integer({ min: 1, max: 1024 }),
      keepAlive: fc.boolean(),
      keepAliveTimeout: fc.integer({ min: 0, max: 600_000 }),
      pipelining: fc.integer({ min: 1, max: 128 }),
      allowH2: fc.boolean()
    })
    fc.assert(fc.property(arb, (raw) => {
      const options = agentOptions(decodePool(raw))
      assert.strictEqual(options.connections, raw.connections)
      assert.strictEqual(options.pipelining === 0, !raw.keepAlive)
      assert.isAtLeast(options.keepAliveTimeout, 1)
      assert.strictEqual(options.allowH2, raw.allowH2)
    }))
    assert.throws(() => decodePool({ connections: 0 }))
    assert.throws(() => decodePool({ pipelining: 0 }))
  })
})

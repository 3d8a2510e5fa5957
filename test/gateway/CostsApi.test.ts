/**
 * The cost admin endpoints through real HTTP: behind the admin credential, stats / usage / forecast read the
 * `Costs` ledger, `POST /costs/budget` sets a budget through `Budgets` (payload decoded with Schema, 400 otherwise)
 * and `GET /costs/budget/{scope}` reads it back; fuzzed query strings never cause a 5xx.
 */
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { Budgets } from "../../src/budget/index.ts"
import { Costs, CostsStoreError, Recommendations } from "../../src/costs/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { PEPPER } from "../identity/support.ts"
import { post } from "./support.ts"

const admin = { authorization: "Bearer costs-secret" }
let url = ""
let costs: Costs["Service"]
let recommendations: Recommendations["Service"]
let scope: Scope.Closeable

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const ledger = Layer.mergeAll(Costs.layerMemory(), Budgets.layerMemory())
  const services = Recommendations.layer({ minRepeats: 2 }).pipe(Layer.provideMerge(ledger))
  const layer = Gateway.layer({ port: 0 }).pipe(
    Layer.provideMerge(services),
    Layer.provide(
      Troupe.layerTest({
        pipeline: { retry: false },
        config: { defaults: { gateway: { auth: { adminKey: "costs-secret" } } } }
      })
    )
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  url = Context.get(context, Gateway).address.url
  costs = Context.get(context, Costs)
  recommendations = Context.get(context, Recommendations)
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("costs admin API", () => {
  it("the cost endpoints refuse a request without the admin credential", async () => {
    for (
      const path of [
        "/costs/stats",
        "/costs/usage/ada",
        "/costs/forecast",
        "/costs/savings",
        "/costs/recommendations",
        "/costs/budget/tenant:acme"
      ]
    ) {
      expect((await fetch(`${url}${path}`)).status).toBe(401)
    }
    expect((await post(`${url}/costs/budget`, { scope: "tenant:acme", limit: 1, period: "month" })).status).toBe(401)
  })

  it("GET /costs/stats groups the period's spend; /costs/usage/{user} is one principal's spend by model; /costs/forecast projects the month", async () => {
    await Effect.runPromise(costs.record({ cost: 0.5, tenant: "acme", principal: "ada", model: "openai:gpt-4o" }))
    await Effect.runPromise(
      costs.record({ cost: 0.25, tenant: "globex", principal: "bob", model: "openai:gpt-4o-mini" })
    )
    const stats = await (await fetch(`${url}/costs/stats?period=day&groupBy=tenant`, { headers: admin })).json()
    expect(stats.total).toBeCloseTo(0.75)
    expect(stats.groups).toEqual({ acme: 0.5, globex: 0.25 })
    const usage = await (await fetch(`${url}/costs/usage/ada`, { headers: admin })).json()
    expect(usage.user).toBe("ada")
    expect(usage.groups).toEqual({ "openai:gpt-4o": 0.5 })
    const forecast = await (await fetch(`${url}/costs/forecast?days=3`, { headers: admin })).json()
    expect(forecast.projected).toBeGreaterThanOrEqual(0.75)
    expect(forecast.method).toMatch(/linear/)
    expect((await fetch(`${url}/costs/stats?period=week`, { headers: admin })).status).toBe(400)
  })

  it("GET /costs/savings: what the response cache and the router policy saved in the period, optionally for one tenant", async () => {
    await Effect.runPromise(costs.record({ cost: 0, cached: true, saved: 0.02, tenant: "acme" }))
    await Effect.runPromise(costs.record({ cost: 0.001, routed: true, saved: 0.009, tenant: "acme" }))
    await Effect.runPromise(costs.record({ cost: 0, cached: true, saved: 0.5, tenant: "initech" }))
    const acme = await (await fetch(`${url}/costs/savings?period=day&tenant=acme`, { headers: admin })).json()
    expect(acme.cache).toBeCloseTo(0.02)
    expect(acme.router).toBeCloseTo(0.009)
    expect(acme.total).toBeCloseTo(0.029)
    expect([acme.cacheHits, acme.routedCalls]).toEqual([1, 1])
    const all = await (await fetch(`${url}/costs/savings`, { headers: admin })).json()
    expect(all.cache).toBeCloseTo(0.52)
    expect((await fetch(`${url}/costs/savings?period=year`, { headers: admin })).status).toBe(400)
  })

  it("GET /costs/recommendations?period=day|month: the Recommendations service's list for the period (default month)", async () => {
    for (let i = 0; i < 3; i++) {
      recommendations.observe({
        model: "openai:gpt-4o",
        requested: "smart",
        messagesHash: "a".repeat(64),
        cached: false,
        cost: 0.01
      })
    }
    const month = await (await fetch(`${url}/costs/recommendations`, { headers: admin })).json()
    expect(month.period).toBe("month")
    const cache = month.recommendations.find((r: { _tag: string }) => r._tag === "enable-cache")
    expect(cache).toMatchObject({ model: "openai:gpt-4o", prompts: 1, repeats: 2 })
    expect(cache.estimatedSavings).toBeCloseTo(0.02)
    const day = await fetch(`${url}/costs/recommendations?period=day`, { headers: admin })
    expect(day.status).toBe(200)
    expect((await day.json()).period).toBe("day")
    expect((await fetch(`${url}/costs/recommendations?period=hour`, { headers: admin })).status).toBe(400)
  })

  it("POST /costs/budget sets a budget through Budgets (payload decoded with Schema); GET /costs/budget/{scope} reads it", async () => {
    const ok = await post(`${url}/costs/budget`, { scope: "tenant:acme", limit: 5, period: "month" }, admin)
    expect(ok.status).toBe(200)
    const got = await (await fetch(`${url}/costs/budget/${encodeURIComponent("tenant:acme")}`, { headers: admin }))
      .json()
    expect(got.limit).toBe(5)
    expect((await post(`${url}/costs/budget`, { scope: "tenant:acme", limit: -1, period: "month" }, admin)).status)
      .toBe(400)
    expect((await post(`${url}/costs/budget`, "{not json", admin)).status).toBe(400)
    expect((await fetch(`${url}/costs/budget/${encodeURIComponent("tenant:none")}`, { headers: admin })).status).toBe(
      404
    )
  })

  it("fuzz: any query string or payload gets a 2xx or 4xx, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.jsonValue(), async (period, groupBy, payload) => {
        const q = new URLSearchParams({ period, groupBy }).toString()
        const a = await fetch(`${url}/costs/stats?${q}`, { headers: admin })
        expect(a.status).toBeLessThan(500)
        const b = await post(`${url}/costs/budget`, payload, admin)
        expect(b.status).toBeLessThan(500)
        const c = await fetch(`${url}/costs/recommendations?${new URLSearchParams({ period })}`, { headers: admin })
        expect(c.status).toBeLessThan(500)
        const d = await fetch(`${url}/costs/savings?${new URLSearchParams({ period, tenant: groupBy })}`, {
          headers: admin
        })
        expect(d.status).toBeLessThan(500)
      }),
      { numRuns: 40 }
    )
  })
})

describe("costs admin API: own usage", () => {
  it("usage:view:own is scoped to the key's tenant: a role:user key of alice@acme does not see alice@globex's spend", async () => {
    const keys = Effect.runSync(Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory())))
    const local = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0, auth: GatewayKeyAuth.layer({ keys }) }).pipe(
      Layer.provideMerge(Costs.layerMemory()),
      Layer.provide(Troupe.layerTest({ pipeline: { retry: false } }))
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, local))
    const base = Context.get(context, Gateway).address.url
    const ledger = Context.get(context, Costs)
    const key = async (tenant: string, id: string, scopes: Array<string>) =>
      Redacted.value(
        (await Effect.runPromise(keys.create({ principal: { kind: "user", id, tenant }, name: "k", scopes }))).key
      )
    const usage = async (k: string) =>
      (await fetch(`${base}/costs/usage/alice?period=day`, { headers: { authorization: `Bearer ${k}` } })).json()
    try {
      await Effect.runPromise(ledger.record({ cost: 0.5, tenant: "acme", principal: "alice", model: "openai:gpt-4o" }))
      await Effect.runPromise(ledger.record({ cost: 7, tenant: "globex", principal: "alice", model: "openai:o3" }))
      const own = await usage(await key("acme", "alice", ["role:user"]))
      expect(own.total).toBeCloseTo(0.5)
      expect(Object.keys(own.groups)).toEqual(["openai:gpt-4o"])
      // the global usage:view (an admin key) reads the principal's spend across tenants
      const all = await usage(await key("acme", "root", ["gateway:admin"]))
      expect(all.total).toBeCloseTo(7.5)
    } finally {
      await Effect.runPromise(Scope.close(local, Exit.void))
    }
  })
})

describe("costs admin API without a Recommendations service", () => {
  it("GET /costs/recommendations answers 501 not_configured", async () => {
    const local = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0 }).pipe(
      Layer.provideMerge(Costs.layerMemory()),
      Layer.provide(
        Troupe.layerTest({
          pipeline: { retry: false },
          config: { defaults: { gateway: { auth: { adminKey: "costs-secret" } } } }
        })
      )
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, local))
    const base = Context.get(context, Gateway).address.url
    try {
      const response = await fetch(`${base}/costs/recommendations`, { headers: admin })
      expect(response.status).toBe(501)
      expect(JSON.stringify(await response.json())).toContain("not_configured")
    } finally {
      await Effect.runPromise(Scope.close(local, Exit.void))
    }
  })
})

describe("costs admin API on a failing store", () => {
  it("a CostsStoreError (Redis or PostgreSQL down) answers 503, never a defect", async () => {
    const down = new CostsStoreError({ operation: "stats", detail: "connection refused" })
    const failing = Layer.succeed(Costs, {
      record: () => Effect.fail(down),
      stats: () => Effect.fail(down),
      forecast: () => Effect.fail(down),
      savings: () => Effect.fail(down)
    })
    const local = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0 }).pipe(
      Layer.provideMerge(Recommendations.layer({ minSamples: 1 }).pipe(Layer.provideMerge(failing))),
      Layer.provide(
        Troupe.layerTest({
          pipeline: { retry: false },
          config: { defaults: { gateway: { auth: { adminKey: "costs-secret" } } } }
        })
      )
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, local))
    const base = Context.get(context, Gateway).address.url
    try {
      // a judged pair makes the recommendations read the ledger
      Context.get(context, Recommendations).judged({
        model: "a:big",
        sibling: "a:small",
        agree: true,
        modelCost: 1,
        siblingCost: 0.1
      })
      const paths = ["/costs/stats", "/costs/usage/ada", "/costs/forecast", "/costs/savings", "/costs/recommendations"]
      for (const path of paths) {
        const response = await fetch(`${base}${path}`, { headers: admin })
        expect(response.status).toBe(503)
        expect(JSON.stringify(await response.json())).toContain("costs store stats failed")
      }
    } finally {
      await Effect.runPromise(Scope.close(local, Exit.void))
    }
  })
})

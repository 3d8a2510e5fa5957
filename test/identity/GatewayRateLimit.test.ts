import { Effect, ManagedRuntime, Redacted } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Abuse, Audit, AuditStore, GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { type Running, startGateway } from "../gateway/support.ts"
import { PEPPER } from "./support.ts"

const bucket = (capacity: number) => ({
  tiers: [{ _tag: "TokenBucket" as const, name: "b", capacity, refillTokens: 1, refillEvery: 3_600_000 }]
})
const rt = ManagedRuntime.make(RateLimiter.layerMemory({ policies: { default: bucket(1e9), user: bucket(5) } }))
const { abuse, audit, keys } = Effect.runSync(Effect.gen(function*() {
  const keys = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory()))
  const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
  const abuse = yield* Abuse.make({ audit })
  return { keys, audit, abuse }
}))

let gw: Running
beforeAll(async () => {
  const limiter = await rt.runPromise(RateLimiter.use(Effect.succeed))
  gw = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys, audit, abuse, limiter, userPolicy: "user" }) })
})
afterAll(async () => {
  await gw.stop()
  await rt.dispose()
})

const create = async (tenant: string, id: string, limits?: unknown) =>
  Redacted.value(
    (await Effect.runPromise(
      keys.create(
        {
          principal: { kind: "user", id, tenant },
          name: "rl",
          scopes: ["gateway:use"],
          ...(limits !== undefined ? { limits } : {})
        } as never /* limits decoded by Keys.create */
      )
    )).key
  )
const models = async (key: string) => {
  const res = await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": key } })
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    body: await res.json() as { error?: { code?: string } }
  }
}

describe("GatewayKeyAuth per-key rate limits (multi-tier: key, user, IP)", () => {
  it("the key's limits apply: beyond them a 429 with retry-after, audited as rate_limited", async () => {
    const key = await create("t1", "ann", bucket(2))
    expect((await models(key)).status).toBe(200)
    expect((await models(key)).status).toBe(200)
    const refused = await models(key)
    expect(refused.status).toBe(429)
    expect(refused.body.error?.code).toBe("rate_limit_exceeded")
    expect(Number(refused.retryAfter)).toBeGreaterThan(0)
    const denied = await Effect.runPromise(audit.query({ tenant: "t1", status: "denied" }))
    expect(denied.at(-1)?.metadata?.["reason"]).toBe("rate_limited")
  })

  it("the user tier counts every key of one principal; tenants isolate limits", async () => {
    const a = await create("t2", "bob"), b = await create("t2", "bob"), other = await create("t3", "bob")
    const statuses: Array<number> = []
    for (let i = 0; i < 3; i++) statuses.push((await models(a)).status, (await models(b)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    expect((await models(other)).status).toBe(200) // same principal id, another tenant
  })

  it("fuzz: random valid limits never make a 5xx", async () => {
    for (const capacity of fc.sample(fc.integer({ min: 1, max: 4 }), { numRuns: 5, seed: 13 })) {
      const key = await create(`f${capacity}`, `u${capacity}`, bucket(capacity))
      for (let i = 0; i <= capacity; i++) expect([200, 429]).toContain((await models(key)).status)
    }
  })
})

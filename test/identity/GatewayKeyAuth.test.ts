import { Effect, Layer, Redacted } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Audit, AuditStore, GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { type Running, startGateway } from "../gateway/support.ts"
import { PEPPER } from "./support.ts"

const services = Effect.runSync(Effect.gen(function*() {
  const keys = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory()))
  const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
  return { keys, audit }
}))
const { audit, keys } = services
const principal = { kind: "user" as const, id: "alice", tenant: "acme" }

let gw: Running
let good = "", noScope = "", revoked = ""

beforeAll(async () => {
  gw = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys, audit }) })
  const create = (scopes: Array<string>) => Effect.runPromise(keys.create({ principal, name: "t", scopes }))
  good = Redacted.value((await create(["gateway:use"])).key)
  noScope = Redacted.value((await create(["metrics:view"])).key)
  const r = await create(["gateway:*"])
  revoked = Redacted.value(r.key)
  await Effect.runPromise(keys.revoke("acme", r.id))
})
afterAll(() => gw.stop())

const models = (headers: Record<string, string>) => fetch(`${gw.url}/v1/models`, { headers })

describe("GatewayKeyAuth (issued keys as the gateway's ApiAuth)", () => {
  it("accepts a valid key as Bearer or x-api-key; refuses missing, forged and revoked keys with 401, a missing scope with 403", async () => {
    expect((await models({ authorization: `Bearer ${good}` })).status).toBe(200)
    expect((await models({ "x-api-key": good })).status).toBe(200)
    const missing = await models({})
    expect(missing.status).toBe(401)
    expect((await missing.json()).error.code).toBe("invalid_api_key")
    expect((await models({ authorization: `Bearer ${good.slice(0, -2)}AA` })).status).toBe(401)
    const rev = await models({ "x-api-key": revoked })
    expect(rev.status).toBe(401)
    expect(JSON.stringify(await rev.json())).not.toContain(revoked)
    expect((await models({ authorization: `Bearer ${noScope}` })).status).toBe(403)
  })

  it("audits every decision with status, IP and user agent, and never the key", async () => {
    const before = await Effect.runPromise(audit.verify())
    expect(before._tag).toBe("Intact")
    await models({ authorization: "Bearer tr_live_forged", "user-agent": "attack/1" })
    const denied = await Effect.runPromise(audit.query({ tenant: "_", status: "denied" }))
    const last = denied.at(-1)!
    expect(last).toMatchObject({
      action: "auth.api",
      actor: "anonymous",
      userAgent: "attack/1",
      metadata: { reason: "malformed" }
    })
    expect(last.ip).toBeDefined()
    const acme = await Effect.runPromise(audit.query({ tenant: "acme" }))
    expect(acme.some((r) => r.status === "success")).toBe(true)
    expect(acme.some((r) => r.status === "denied" && r.metadata?.["reason"] === "revoked")).toBe(true)
    expect(JSON.stringify([...denied, ...acme])).not.toContain(good.slice(20))
  })

  it("fuzz: random Authorization and x-api-key headers are refused with 401, never 5xx", async () => {
    const header = fc.oneof(fc.stringMatching(/^[\x21-\x7e]{0,80}$/), fc.stringMatching(/^tr_live_[A-Za-z0-9_-]{55}$/))
    const samples = fc.sample(fc.tuple(header, fc.boolean()), { numRuns: 60, seed: 5 })
    for (const [value, asBearer] of samples) {
      const res = await models(asBearer ? { authorization: `Bearer ${value}` } : { "x-api-key": value })
      expect(res.status, value).toBe(401)
      await res.arrayBuffer()
    }
    expect((await Effect.runPromise(audit.verify()))._tag).toBe("Intact")
  })
})

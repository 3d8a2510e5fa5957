import { Effect, Redacted } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Abuse, Audit, AuditStore, GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { type Running, startGateway } from "../gateway/support.ts"
import { PEPPER } from "./support.ts"

const { abuse, audit, keys } = Effect.runSync(Effect.gen(function*() {
  const keys = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory()))
  const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
  const abuse = yield* Abuse.make({ audit })
  return { keys, audit, abuse }
}))

let gw: Running
let admin = ""
beforeAll(async () => {
  gw = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys, audit, abuse }), access: { keys, abuse } })
  admin = Redacted.value(
    (await Effect.runPromise(
      keys.create({ principal: { kind: "user", id: "root", tenant: "ops" }, name: "admin", scopes: ["gateway:admin"] })
    )).key
  )
})
afterAll(() => gw.stop())

const call = async (method: string, path: string, body?: unknown, key = admin) => {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> & Array<Record<string, unknown>> }
}

describe("AccessApi (admin endpoints for keys and abuse blocks)", () => {
  it("create returns the key once, list shows it masked, rotate issues a successor, revoke refuses it", async () => {
    const created = await call("POST", "/admin/keys", {
      principal: { kind: "user", id: "bob", tenant: "acme" },
      name: "ci",
      scopes: ["gateway:use"]
    })
    expect(created.status).toBe(201)
    const key = String(created.body["key"])
    expect(key).toMatch(/^tr_live_/)
    expect((await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": key } })).status).toBe(200)
    const list = await call("GET", "/admin/keys?tenant=acme")
    expect(list.status).toBe(200)
    expect(JSON.stringify(list.body)).not.toContain(key.slice(20))
    expect(list.body.length).toBe(1)
    const rotated = await call("POST", `/admin/keys/acme/${String(created.body["id"])}/rotate?graceMs=0`)
    expect(rotated.status).toBe(200)
    expect(rotated.body["key"]).not.toBe(key)
    expect((await call("DELETE", `/admin/keys/acme/${String(rotated.body["id"])}`)).status).toBe(200)
    expect((await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": String(rotated.body["key"]) } })).status).toBe(
      401
    )
    expect((await call("DELETE", "/admin/keys/acme/nope")).status).toBe(404)
    expect((await call("GET", "/admin/keys?tenant=acme", undefined, key)).status).toBe(401)
  })

  it("blocks are listed and lifted; the abuse policy is read and replaced live; an invalid one is a 400 naming the path", async () => {
    await Effect.runPromise(abuse.signal("auth_failure", { ip: "203.0.113.9" }, 1_000))
    const blocks = await call("GET", "/admin/blocks")
    expect(blocks.body.map((b) => `${String(b["kind"])}:${String(b["id"])}`)).toEqual(["ip:203.0.113.9"])
    expect((await call("DELETE", "/admin/blocks/ip/203.0.113.9")).status).toBe(200)
    expect((await call("DELETE", "/admin/blocks/ip/203.0.113.9")).status).toBe(404)
    expect((await call("GET", "/admin/blocks")).body).toEqual([])
    const bad = await call("PUT", "/admin/abuse-policy", { rules: [{ signal: "nope" }] })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain("policy")
    const policy = {
      rules: [{ signal: "spend", target: "principal", threshold: 100, windowMs: 3_600_000, blockMs: 3_600_000 }]
    }
    expect((await call("PUT", "/admin/abuse-policy", policy)).status).toBe(200)
    expect((await call("GET", "/admin/abuse-policy")).body).toEqual(policy)
  })

  it("fuzz: random create bodies are a 201 or a 400, never 5xx", async () => {
    for (const body of fc.sample(fc.anything(), { numRuns: 50, seed: 13 })) {
      const res = await call("POST", "/admin/keys", body ?? null)
      expect([201, 400], JSON.stringify(body)).toContain(res.status)
    }
  })
})

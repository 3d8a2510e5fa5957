/**
 * The audit admin endpoints (AuditApi.ts): query one tenant's entries, verify the chain, export JSON Lines or a
 * compliance report; 501 without an audit log, 400 for a bad query, the export behind `data:export`.
 */
import { Effect, Redacted } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Abuse, Audit, AuditStore, GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { PEPPER } from "../identity/support.ts"
import { type Running, startGateway } from "./support.ts"

const { abuse, audit, keys } = Effect.runSync(Effect.gen(function*() {
  const keys = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory()))
  const audit = yield* Audit.make.pipe(Effect.provide(AuditStore.layerMemory()))
  const abuse = yield* Abuse.make({ audit })
  return { keys, audit, abuse }
}))

let gw: Running
let bare: Running
let admin = ""
let viewer = ""
const issue = (name: string, scopes: Array<string>) =>
  Effect.runPromise(keys.create({ principal: { kind: "user", id: name, tenant: "ops" }, name, scopes })).then((c) =>
    Redacted.value(c.key)
  )

beforeAll(async () => {
  gw = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys, audit, abuse }), access: { keys, abuse, audit } })
  bare = await startGateway({ config: { defaults: { gateway: { auth: { adminKey: "bare-admin" } } } } })
  admin = await issue("root", ["gateway:admin"])
  viewer = await issue("auditor", ["role:viewer"])
  await Effect.runPromise(Effect.forEach([
    { tenant: "acme", actor: "user:1", action: "key.create", resource: "key:1", status: "success" as const },
    {
      tenant: "acme",
      actor: "user:2",
      action: "access.denied",
      resource: "GET /admin/config",
      status: "denied" as const
    },
    { tenant: "other", actor: "user:3", action: "key.create", resource: "key:3", status: "success" as const }
  ], (e) => audit.record(e)))
})
afterAll(async () => {
  await gw?.stop()
  await bare?.stop()
})

const get = async (path: string, key = admin, url = gw.url) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } })
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() }
}

describe("AuditApi (admin endpoints of the audit log)", () => {
  it("GET /admin/audit answers one tenant's entries (tenants isolate audit queries), filtered", async () => {
    const all = await get("/admin/audit?tenant=acme")
    expect(all.status).toBe(200)
    const entries = JSON.parse(all.text).entries as Array<{ tenant: string; action: string }>
    expect(entries.map((e) => e.action)).toEqual(["key.create", "access.denied"])
    expect(entries.every((e) => e.tenant === "acme")).toBe(true)
    const denied = JSON.parse((await get("/admin/audit?tenant=acme&status=denied")).text).entries
    expect(denied.map((e: { actor: string }) => e.actor)).toEqual(["user:2"])
  })

  it("GET /admin/audit/verify re-checks the chain: Intact", async () => {
    const r = await get("/admin/audit/verify")
    expect(r.status).toBe(200)
    expect(JSON.parse(r.text)._tag).toBe("Intact")
  })

  it("GET /admin/audit/export gives JSON Lines or a compliance report, behind data:export", async () => {
    const lines = await get("/admin/audit/export?tenant=acme")
    expect(lines.status).toBe(200)
    expect(lines.type).toContain("application/x-ndjson")
    const parsed = lines.text.trim().split("\n").map((l) => JSON.parse(l) as { action: string })
    expect(parsed.map((e) => e.action)).toEqual(["key.create", "access.denied"])
    const rep = await get("/admin/audit/export?tenant=acme&format=report&period=month")
    expect(rep.status).toBe(200)
    expect(JSON.stringify(JSON.parse(rep.text))).toContain("access.denied")
    // a viewer reads the log but may not export it
    expect((await get("/admin/audit?tenant=acme", viewer)).status).toBe(200)
    expect((await get("/admin/audit/export?tenant=acme", viewer)).status).toBe(403)
  })

  it("a bad query is a 400 naming the field; no audit log is a 501; no credential a 401", async () => {
    const bad = await get("/admin/audit?tenant=acme&limit=0")
    expect(bad.status).toBe(400)
    expect(bad.text).toContain("limit")
    expect((await get("/admin/audit")).status).toBe(400)
    expect((await get("/admin/audit?tenant=acme", "bare-admin", bare.url)).status).toBe(501)
    expect((await fetch(`${gw.url}/admin/audit?tenant=acme`)).status).toBe(401)
  })

  it("fuzz: any query string gets a 2xx or 4xx, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/admin/audit", "/admin/audit/verify", "/admin/audit/export"),
        fc.dictionary(
          fc.constantFrom("tenant", "status", "since", "until", "limit", "from", "to", "format", "period"),
          fc.string({ maxLength: 12 }),
          { maxKeys: 4 }
        ),
        async (path, params) => {
          const r = await get(`${path}?${new URLSearchParams(params).toString()}`)
          expect(r.status).toBeLessThan(500)
        }
      ),
      { numRuns: 60 }
    )
  })
})

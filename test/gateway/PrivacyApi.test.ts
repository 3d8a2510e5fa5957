/**
 * The GDPR erasure endpoint (PrivacyApi.ts): `POST /admin/privacy/erase` behind `data:erase`; 501 without a
 * privacy service, 400 naming the path for a bad payload, never a 5xx for any payload.
 */
import { Effect, Layer, Redacted } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  Abuse,
  Audit,
  AuditStore,
  ERASED,
  GatewayKeyAuth,
  KeyProvider,
  Keys,
  KeyStore,
  Privacy,
  SubjectKeys
} from "../../src/identity/index.ts"
import { PEPPER } from "../identity/support.ts"
import { type Running, startGateway } from "./support.ts"

const { abuse, audit, keys, privacy } = Effect.runSync(Effect.gen(function*() {
  const layer = Layer.mergeAll(Privacy.layer, Keys.layer({ pepper: PEPPER })).pipe(
    Layer.provideMerge(Audit.layer),
    Layer.provideMerge(Layer.mergeAll(
      AuditStore.layerMemory(),
      SubjectKeys.layerMemory(),
      KeyStore.layerMemory(),
      KeyProvider.layerStatic({ current: "f".repeat(64) })
    ))
  )
  return yield* Effect.gen(function*() {
    const audit = yield* Audit
    return { audit, keys: yield* Keys, privacy: yield* Privacy, abuse: yield* Abuse.make({ audit }) }
  }).pipe(Effect.provide(layer))
}))

let gw: Running
let bare: Running
let admin = ""
let viewer = ""
const issue = (tenant: string, name: string, scopes: Array<string>) =>
  Effect.runPromise(keys.create({ principal: { kind: "user", id: name, tenant }, name, scopes })).then((c) =>
    Redacted.value(c.key)
  )

beforeAll(async () => {
  const auth = GatewayKeyAuth.layer({ keys, audit, abuse })
  gw = await startGateway({}, { auth, access: { keys, abuse, audit, privacy } })
  bare = await startGateway({}, { auth, access: { keys, abuse, audit } })
  admin = await issue("ops", "root", ["gateway:admin"])
  viewer = await issue("ops", "auditor", ["role:viewer"])
})
afterAll(async () => {
  await gw?.stop()
  await bare?.stop()
})

const erase = async (body: unknown, key = admin, url = gw.url) => {
  const res = await fetch(`${url}/admin/privacy/erase`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

describe("PrivacyApi (POST /admin/privacy/erase)", () => {
  it("erase with data:erase answers the report; the subject's key and its audited fields are gone, the chain intact", async () => {
    const carol = await issue("acme", "carol", ["gateway:use"])
    const used = await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": carol, "user-agent": "carol-phone" } })
    expect(used.status).toBe(200)
    const res = await erase({ tenant: "acme", principal: "carol" })
    expect(res.status).toBe(200)
    expect(res.body["subject"]).toEqual({ tenant: "acme", principal: "carol" })
    const items = res.body["items"] as Array<{ where: string; count: number }>
    expect(items.map((i) => i.where)).toEqual(["audit", "keys", "memory", "cache"])
    expect(items.find((i) => i.where === "keys")?.count).toBe(1)
    expect(items.find((i) => i.where === "audit")!.count).toBeGreaterThanOrEqual(1)
    expect((await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": carol } })).status).toBe(401)
    const entries = await Effect.runPromise(audit.query({ tenant: "acme" }))
    expect(JSON.stringify(entries)).not.toContain("carol-phone")
    expect(entries.some((e) => e.userAgent === ERASED)).toBe(true)
    const erasure = entries.find((e) => e.action === "privacy.erase")
    expect(erasure?.actor).toContain("key:")
    expect((await Effect.runPromise(audit.verify()))._tag).toBe("Intact")
    const again = await erase({ tenant: "acme", principal: "carol" })
    expect((again.body["items"] as Array<{ count: number }>).map((i) => i.count)).toEqual([0, 0, 0, 0])
  })

  it("a decision about a key whose owner is known names its principal as the subject: expired, revoked and RBAC-denied keys' entries are erased with it", async () => {
    const create = (scopes: Array<string>, extra: { expiresAt?: number } = {}) =>
      Effect.runPromise(
        keys.create({ principal: { kind: "user", id: "erin", tenant: "acme" }, name: "e", scopes, ...extra })
      )
    const expired = Redacted.value((await create(["gateway:use"], { expiresAt: 1 })).key)
    const revokedKey = await create(["gateway:use"])
    await Effect.runPromise(keys.revoke("acme", revokedKey.id))
    const viewerKey = Redacted.value((await create(["role:viewer"])).key)
    const hit = (key: string, ua: string) =>
      fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": key, "user-agent": ua } })
    expect((await hit(expired, "erin-expired-ua")).status).toBe(401)
    expect((await hit(Redacted.value(revokedKey.key), "erin-revoked-ua")).status).toBe(401)
    expect((await erase({ tenant: "acme", principal: "zed" }, viewerKey)).status).toBe(403) // RBAC: no data:erase
    await Effect.runPromise(audit.flush)
    const before = JSON.stringify(await Effect.runPromise(audit.query({ tenant: "acme" })))
    expect(before).toContain("erin-expired-ua")
    expect(before).toContain("erin-revoked-ua")
    const res = await erase({ tenant: "acme", principal: "erin" })
    expect(res.status).toBe(200)
    const entries = await Effect.runPromise(audit.query({ tenant: "acme" }))
    const after = JSON.stringify(entries)
    expect(after).not.toContain("erin-expired-ua")
    expect(after).not.toContain("erin-revoked-ua")
    const denial = entries.filter((e) => e.action === "access.denied" && e.resource.includes("/admin/privacy/erase"))
    expect(denial.length).toBeGreaterThan(0)
    expect(denial.every((e) => JSON.stringify(e.metadata).includes(ERASED))).toBe(true)
    expect((await Effect.runPromise(audit.verify()))._tag).toBe("Intact")
  })

  it("a refusal whose owner is unknown has no subject: its user agent stays readable after any erasure", async () => {
    const real = await issue("acme", "yves", ["gateway:use"])
    const forged = real.slice(0, -1) + (real.endsWith("A") ? "B" : "A") // a wrong secret: `unknown`, owner unknown
    await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": forged, "user-agent": "nobody-ua" } })
    await erase({ tenant: "acme", principal: "erin" })
    await Effect.runPromise(audit.flush)
    const unknown = await Effect.runPromise(audit.query({ tenant: "_" }))
    expect(unknown.some((e) => e.userAgent === "nobody-ua")).toBe(true)
  })

  it("erase without data:erase is a 403 permission_denied", async () => {
    const res = await erase({ tenant: "acme", principal: "dave" }, viewer)
    expect(res.status).toBe(403)
    expect(JSON.stringify(res.body)).toContain("data:erase")
  })

  it("a bad payload is a 400 naming the path; without a privacy service the route answers 501", async () => {
    const bad = await erase({ tenant: "acme", principal: "not valid!" })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain("principal")
    expect((await erase({ tenant: "acme" })).status).toBe(400)
    expect((await erase({ tenant: "acme", principal: "x" }, admin, bare.url)).status).toBe(501)
  })

  it("fuzz: random erase payloads are a 200 or a 400, never 5xx", async () => {
    const payloads = [
      ...fc.sample(fc.anything(), { numRuns: 40, seed: 42 }),
      ...fc.sample(fc.record({ tenant: fc.string(), principal: fc.string() }), { numRuns: 40, seed: 7 })
    ]
    for (const body of payloads) {
      const res = await erase(body ?? null)
      expect([200, 400], JSON.stringify(body)).toContain(res.status)
    }
  })
})

/** The attack script of issue 13 against a real gateway: every attempt refused and audited; a flood from one IP is blocked. */
import { Effect, Redacted } from "effect"
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
const principal = { kind: "user" as const, id: "mallory", tenant: "acme" }

let gw: Running
let good = "", expired = "", revoked = "", noScope = ""

beforeAll(async () => {
  gw = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys, audit, abuse }) })
  const create = async (scopes: Array<string>, extra: { expiresAt?: number } = {}) =>
    Effect.runPromise(keys.create({ principal, name: "attack", scopes, ...extra }))
  good = Redacted.value((await create(["gateway:use"])).key)
  expired = Redacted.value((await create(["gateway:use"], { expiresAt: 1 })).key)
  noScope = Redacted.value((await create(["metrics:view"])).key)
  const r = await create(["gateway:use"])
  revoked = Redacted.value(r.key)
  await Effect.runPromise(keys.revoke("acme", r.id))
})
afterAll(() => gw.stop())

const models = async (headers: Record<string, string>) => {
  const res = await fetch(`${gw.url}/v1/models`, { headers })
  await res.arrayBuffer()
  return res
}
const auditCount = async () =>
  (await Effect.runPromise(audit.query({ tenant: "_", limit: 100_000 }))).length +
  (await Effect.runPromise(audit.query({ tenant: "acme", limit: 100_000 }))).length

describe("attack script against a real gateway (every attempt refused and audited)", () => {
  it("no key, forged, expired, revoked, wrong scope and SQL-ish keys are refused (401/403), each audited", async () => {
    const before = await auditCount()
    const attempts: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
      ["no key", {}, 401],
      ["forged", { authorization: `Bearer tr_live_${"A".repeat(55)}` }, 401],
      ["forged from a real prefix", { authorization: `Bearer ${good.slice(0, -4)}AAAA` }, 401],
      ["expired", { "x-api-key": expired }, 401],
      ["revoked", { authorization: `Bearer ${revoked}` }, 401],
      ["wrong scope", { authorization: `Bearer ${noScope}` }, 403],
      ["SQL-ish bearer", { authorization: "Bearer ' OR '1'='1' --" }, 401],
      ["SQL-ish x-api-key", { "x-api-key": "tr_live_'; DROP TABLE identity_keys; --" }, 401]
    ]
    for (const [name, headers, status] of attempts) expect((await models(headers)).status, name).toBe(status)
    expect(await auditCount()).toBe(before + attempts.length)
    expect((await models({ authorization: `Bearer ${good}` })).status).toBe(200)
  })

  it(
    "10,000 failed attempts from one IP: the IP is blocked (403 blocked, retry-after), even a good key; every attempt refused and audited; lift restores access",
    async () => {
      const before = await auditCount()
      const statuses = new Map<number, number>()
      for (let batch = 0; batch < 10_000 / 50; batch++) {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => models({ authorization: `Bearer tr_live_forged${batch}x${i}` }))
        )
        for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      }
      expect([...statuses.keys()].sort()).toEqual([401, 403])
      expect((statuses.get(401) ?? 0) + (statuses.get(403) ?? 0)).toBe(10_000)
      expect(statuses.get(401)).toBeLessThanOrEqual(100 + 50) // the default policy: 100 failures per IP per minute
      expect(await auditCount()).toBe(before + 10_000 + 1) // every attempt, plus the abuse.block entry
      const blockedGood = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${good}` } })
      expect(blockedGood.status).toBe(403)
      expect((await blockedGood.json()).error.code).toBe("blocked")
      expect(Number(blockedGood.headers.get("retry-after"))).toBeGreaterThan(0)
      const blocks = await Effect.runPromise(abuse.list())
      expect(blocks.map((b) => b.kind)).toEqual(["ip"])
      const actions = (await Effect.runPromise(audit.query({ tenant: "_", action: "abuse.block" }))).map((e) =>
        e.resource
      )
      expect(actions).toEqual([`ip:${blocks[0]!.id}`])
      await Effect.runPromise(abuse.lift("ip", blocks[0]!.id))
      expect((await models({ authorization: `Bearer ${good}` })).status).toBe(200)
    },
    120_000
  )
})

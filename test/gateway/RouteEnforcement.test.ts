import { Context, Effect, Layer, Redacted } from "effect"
import fc from "fast-check"
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  AdminAuth,
  allows,
  ApiAuth,
  Caller,
  GatewayApi,
  PublicRoute,
  routePermissions
} from "../../src/gateway/index.ts"
import type { RoutePermission } from "../../src/gateway/index.ts"
import { Audit, AuditStore, GatewayKeyAuth, Keys, KeyStore, Rbac } from "../../src/identity/index.ts"
import { PEPPER } from "../identity/support.ts"
import { type Running, startGateway } from "./support.ts"

// A test auth: the bearer token is the caller's comma-separated roles (`Bearer r0,r1`); any token is accepted.
const rolesAuth = (() => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, credential: Redacted.Redacted<string>) => {
    const roles = Redacted.value(credential).split(",").filter((r) => r !== "")
    return Effect.provideService(effect, Caller, { id: `test:${roles.join("+")}`, admin: false, roles, tenant: "rbac" })
  }
  return Layer.succeedContext(
    Context.make(ApiAuth, ApiAuth.of({ bearer: (effect, { credential }) => provide(effect, credential) })).pipe(
      Context.add(AdminAuth, AdminAuth.of({ bearer: (effect, { credential }) => provide(effect, credential) }))
    )
  )
})()

const routes = routePermissions(GatewayApi)
const permissions = [...new Set(routes.map((r) => r.permission!).filter((p) => p !== PublicRoute))]
// one role per permission (`p0`, `p1`, …) granting exactly it, and `nothing`, which grants nothing
const definitions = Object.fromEntries([
  ["nothing", { permissions: [] }],
  ...permissions.map((p, i) => [`p${i}`, { permissions: [p] }])
])
const roleOf = (permission: string) => `p${permissions.indexOf(permission)}`

const urlOf = (r: RoutePermission) => r.path.replace(/:[a-z]+/g, "x")
const call = async (base: string, r: RoutePermission, token: string) => {
  const init: RequestInit = {
    method: r.method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }
  }
  if (r.method === "POST" || r.method === "PUT" || r.method === "PATCH") init.body = "{}"
  const controller = new AbortController()
  const response = await fetch(`${base}${urlOf(r)}`, { ...init, signal: controller.signal })
  const body = response.headers.get("content-type")?.startsWith("text/event-stream") ? "" : await response.text()
  controller.abort() // an SSE stream (the events route) answers its headers first; the test needs only the status
  return { status: response.status, body }
}

const audit = Effect.runSync(Audit.make.pipe(Effect.provide(AuditStore.layerMemory())))
let gw: Running

beforeAll(async () => {
  const rbac = await Effect.runPromise(Rbac.make(definitions))
  gw = await startGateway({}, { auth: rolesAuth, rbac, access: { audit } })
})
afterAll(() => gw.stop())

describe("RoutePermission.enforce (every route's RequiredPermission is checked against the caller's roles)", () => {
  it(
    "every route of GatewayApi: a caller lacking its permission gets 403 permission_denied; a caller having it does not",
    async () => {
      expect(routes.length).toBeGreaterThan(30)
      for (const r of routes) {
        const label = `${r.group}.${r.endpoint} ${r.method} ${r.path} (${r.permission})`
        if (r.permission === PublicRoute) {
          expect((await call(gw.url, r, "nothing")).status, label).not.toBe(403)
          continue
        }
        const lacking = await call(gw.url, r, "nothing")
        expect(lacking.status, label).toBe(403)
        expect(JSON.parse(lacking.body).error, label).toMatchObject({
          type: "permission_denied",
          code: "permission_denied"
        })
        const having = await call(gw.url, r, roleOf(r.permission!))
        expect(having.status, label).not.toBe(403)
        expect(having.status, label).toBeLessThan(500 + (having.status === 501 || having.status === 503 ? 100 : 0))
      }
    },
    60_000
  )

  it("a refusal is audited as access.denied with the route and the permission", async () => {
    const r = routes.find((x) => x.endpoint === "setMaintenance")!
    expect((await call(gw.url, r, "nothing")).status).toBe(403)
    const denied = await Effect.runPromise(audit.query({ tenant: "rbac", action: "access.denied" }))
    expect(denied.at(-1)).toMatchObject({
      actor: "test:nothing",
      status: "denied",
      resource: "POST /admin/maintenance",
      metadata: { route: "admin.setMaintenance", permission: "gateway:admin", roles: "nothing" }
    })
  })

  it("an unknown role grants nothing; several roles grant the union of their permissions", async () => {
    const r = routes.find((x) => x.endpoint === "stats")!
    expect((await call(gw.url, r, "no_such_role")).status).toBe(403)
    expect((await call(gw.url, r, `nothing,${roleOf(r.permission!)}`)).status).toBe(200)
  })
})

describe("RoutePermission.allows (fuzz)", () => {
  const rbac = Effect.runSync(Rbac.make(Rbac.defaultRoles))
  const usage = { identifier: "costUsage", method: "GET", path: "/costs/usage/:user", annotations: Context.empty() }
  const role = fc.oneof(fc.constantFrom("admin", "user", "viewer", "api_user"), fc.stringMatching(/^[a-z_]{1,8}$/))

  it("fuzz: a route is allowed exactly when the roles grant its permission (public always)", () => {
    fc.assert(
      fc.property(fc.array(role, { maxLength: 4 }), fc.constantFrom(...permissions, PublicRoute), (roles, p) => {
        const caller = { id: "c", admin: false, roles }
        return allows(rbac, caller, p, undefined, {}) === (p === PublicRoute || rbac.can(roles, p))
      }),
      { numRuns: 300, seed: 13 }
    )
  })

  it("fuzz: own usage is granted only when the router's decoded {user} parameter is the caller's own principal", () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 12 })), fc.constantFrom("alice", "bob"), (user, principal) => {
        const caller = { id: "c", admin: false, roles: ["user"], principal }
        const params = user === null ? {} : { user }
        return allows(rbac, caller, "usage:view", usage, params) === (user === principal)
      }),
      { numRuns: 300, seed: 13 }
    )
    const alIce = { id: "c", admin: false, roles: ["user"], principal: "al ice" }
    expect(allows(rbac, alIce, "usage:view", usage, { user: "al ice" })).toBe(true)
    // a route without a {user} parameter grants no own access, whatever the params say
    const stats = { ...usage, identifier: "costStats", path: "/costs/stats" }
    expect(allows(rbac, alIce, "usage:view", stats, { user: "al ice" })).toBe(false)
  })

  it("fuzz: random role lists at the gateway get 200 or 403, never a 5xx", async () => {
    const stats = routes.find((x) => x.endpoint === "stats")!
    for (
      const roles of fc.sample(fc.array(fc.stringMatching(/^[a-z0-9_]{0,12}$/), { maxLength: 3 }), {
        numRuns: 30,
        seed: 13
      })
    ) {
      expect([200, 403]).toContain((await call(gw.url, stats, roles.join(","))).status)
    }
  })
})

describe("the four roles of the plan at the gateway (default role definitions)", () => {
  let def: Running
  beforeAll(async () => {
    def = await startGateway({}, { auth: rolesAuth })
  })
  afterAll(() => def.stop())
  const route = (endpoint: string) => routes.find((x) => x.endpoint === endpoint)!
  const status = async (endpoint: string, roles: string) => (await call(def.url, route(endpoint), roles)).status

  it("admin may use every route", async () => {
    for (const r of routes) expect((await call(def.url, r, "admin")).status, r.endpoint).not.toBe(403)
  }, 60_000)

  it("viewer: metrics and the read-only admin GETs, no writes, no agents", async () => {
    for (
      const e of [
        "stats",
        "supervision",
        "getConfig",
        "getMaintenance",
        "errors",
        "costStats",
        "listLetters",
        "listBlocks"
      ]
    ) {
      expect(await status(e, "viewer"), e).not.toBe(403)
    }
    for (
      const e of [
        "setMaintenance",
        "patchConfig",
        "restartChild",
        "redriveLetters",
        "setBudget",
        "createKey",
        "listKeys",
        "models",
        "chat"
      ]
    ) {
      expect(await status(e, "viewer"), e).toBe(403)
    }
  })

  it("api_user: agent use only; user: agent use, metrics and own usage, no admin", async () => {
    for (const e of ["models", "chat", "embeddings"]) {
      expect(await status(e, "api_user"), e).not.toBe(403)
      expect(await status(e, "user"), e).not.toBe(403)
    }
    for (const e of ["stats", "errors", "costStats", "setMaintenance", "listKeys"]) {
      expect(await status(e, "api_user"), e).toBe(403)
    }
    for (const e of ["stats", "getConfig", "costStats", "setMaintenance", "listKeys", "listLetters"]) {
      expect(await status(e, "user"), e).toBe(403)
    }
    expect(await status("errors", "user")).not.toBe(403)
  })
})

describe("issued keys: roles from scopes (role:<name>, and the coarse scopes)", () => {
  const keys = Effect.runSync(Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory())))
  let kg: Running
  const key = async (scopes: Array<string>, id = "alice") =>
    Redacted.value(
      (await Effect.runPromise(keys.create({ principal: { kind: "user", id, tenant: "acme" }, name: "k", scopes }))).key
    )
  const get = (path: string, k: string) => fetch(`${kg.url}${path}`, { headers: { authorization: `Bearer ${k}` } })
  beforeAll(async () => {
    kg = await startGateway({}, { auth: GatewayKeyAuth.layer({ keys }), access: { audit } })
  })
  afterAll(() => kg.stop())

  it("rolesOfScopes: role:<name> gives <name>; gateway:admin gives admin; gateway:use gives api_user; others nothing", () => {
    expect(GatewayKeyAuth.rolesOfScopes(["role:viewer", "gateway:use", "metrics:view"])).toEqual(["viewer", "api_user"])
    expect(GatewayKeyAuth.rolesOfScopes(["gateway:admin"])).toEqual(["admin"])
    expect(GatewayKeyAuth.rolesOfScopes(["x"], { x: ["user"] })).toEqual(["user"])
  })

  it("a role:viewer key reads /admin/stats but may not switch maintenance (403 permission_denied, audited)", async () => {
    const viewer = await key(["role:viewer"])
    expect((await get("/admin/stats", viewer)).status).toBe(200)
    const write = await fetch(`${kg.url}/admin/maintenance`, {
      method: "POST",
      headers: { authorization: `Bearer ${viewer}`, "content-type": "application/json" },
      body: JSON.stringify({ enabled: true })
    })
    expect(write.status).toBe(403)
    expect((await write.json()).error.code).toBe("permission_denied")
    const denied = await Effect.runPromise(audit.query({ tenant: "acme", action: "access.denied" }))
    expect(denied.at(-1)?.metadata).toMatchObject({ permission: "gateway:admin", roles: "viewer" })
    expect((await get("/v1/models", viewer)).status).toBe(403)
  })

  it("a gateway:use key uses the agents; a gateway:admin key may use the admin API", async () => {
    expect((await get("/v1/models", await key(["gateway:use"]))).status).toBe(200)
    expect((await get("/admin/stats", await key(["gateway:admin"]))).status).toBe(200)
  })

  it("own usage: a role:user key reads /costs/usage/<its principal> but not another principal's", async () => {
    const alice = await key(["role:user"], "alice")
    expect((await get("/costs/usage/alice", alice)).status).not.toBe(403)
    expect((await get("/costs/usage/bob", alice)).status).toBe(403)
    expect((await get("/costs/stats", alice)).status).toBe(403)
  })

  it("own usage is decided on the {user} the router serves: duplicate slashes, absolute-form targets and ;-suffixes do not reach another principal", async () => {
    // a principal named like a path segment: the shifted segment of `//costs/usage/bob` is `usage`
    const own = await key(["role:user"], "usage")
    // sent as is (fetch would normalise the target): the status of GET <target>
    const raw = (target: string) =>
      new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(kg.url)
        const req = httpRequest(
          { host: hostname, port, path: target, headers: { authorization: `Bearer ${own}` } },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          }
        )
        req.on("error", reject)
        req.end()
      })
    const forms = (user: string) => [
      `/costs/usage/${user}`,
      `//costs/usage/${user}`,
      `///costs/usage/${user}`,
      `/costs//usage/${user}`,
      `${kg.url}/costs/usage/${user}`,
      `${kg.url}//costs/usage/${user}`,
      `/costs/usage/${user};x=usage`,
      `//costs/usage/${user}?period=day`
    ]
    for (const target of forms("bob")) {
      const status = await raw(target)
      expect([403, 404], target).toContain(status) // refused, or not routed at all: never served as bob's usage
    }
    for (const target of forms("usage")) expect(await raw(target), target).not.toBe(403)
  })
})

import { Effect, Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { GatewayApi, PublicRoute, RequiredPermission, routePermissions } from "../../src/gateway/index.ts"
import { Rbac } from "../../src/identity/index.ts"

describe("RoutePermission (every route of the gateway declares its permission)", () => {
  it("every route of the gateway declares its permission: no endpoint of any GatewayApi group lacks one", () => {
    const routes = routePermissions(GatewayApi)
    expect(routes.length).toBeGreaterThan(10)
    const lacking = routes.filter((r) => r.permission === undefined).map((r) =>
      `${r.group}.${r.endpoint} ${r.method} ${r.path}`
    )
    expect(lacking, "routes without a RequiredPermission annotation").toEqual([])
    const permission = Schema.decodeUnknownSync(Rbac.Permission)
    for (const r of routes) expect(() => permission(r.permission), r.path).not.toThrow()
    expect(routes.find((r) => r.path === "/health/live")?.permission).toBe(PublicRoute)
    expect(routes.find((r) => r.path === "/v1/models")?.permission).toBe("agent:use:*")
  })

  it("one vocabulary: every permission used on a route is an Rbac.Permissions name and granted by a default role (admin grants all)", async () => {
    const rbac = await Effect.runPromise(Rbac.make(Rbac.defaultRoles))
    const vocabulary = new Set(Object.values(Rbac.Permissions).flatMap((p) => typeof p === "string" ? [p] : []))
    const used = [...new Set(routePermissions(GatewayApi).map((r) => r.permission!))].filter((p) => p !== PublicRoute)
    expect(used.filter((p) => !vocabulary.has(p as never)), "route permissions missing from Rbac.Permissions").toEqual(
      []
    )
    for (const p of used) {
      expect(rbac.can(["admin"], p), p).toBe(true)
      expect(Object.keys(Rbac.defaultRoles).some((role) => rbac.can([role], p)), p).toBe(true)
    }
    expect(routePermissions(GatewayApi).find((r) => r.path === "/v1/models")?.endpoint).toBe("models")
  })

  it("the check is generic: a group added without an annotation is reported; an endpoint annotation overrides its group's", () => {
    const bare = HttpApiGroup.make("bare").add(HttpApiEndpoint.get("x", "/x", { success: Schema.Unknown }))
    const mixed = HttpApiGroup.make("mixed")
      .add(HttpApiEndpoint.get("a", "/a", { success: Schema.Unknown }))
      .add(HttpApiEndpoint.get("b", "/b", { success: Schema.Unknown }).annotate(RequiredPermission, "data:export"))
      .annotate(RequiredPermission, "metrics:view")
    const api = HttpApi.make("t").add(bare).add(mixed)
    expect(routePermissions(api).map((r) => [r.path, r.permission])).toEqual([
      ["/x", undefined],
      ["/a", "metrics:view"],
      ["/b", "data:export"]
    ])
  })

  it("fuzz: any group annotation round-trips through routePermissions", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9_.:*-]{1,32}$/), (p) => {
        const g = HttpApiGroup.make("g").add(HttpApiEndpoint.get("e", "/e", { success: Schema.Unknown })).annotate(
          RequiredPermission,
          p
        )
        return routePermissions(HttpApi.make("f").add(g))[0]!.permission === p
      }),
      { numRuns: 100, seed: 13 }
    )
  })
})

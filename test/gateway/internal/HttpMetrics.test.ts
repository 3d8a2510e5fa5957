/**
 * `routeOf`: the route template label of a request path (metrics, access log, ErrorScope), derived from `GatewayApi`
 * and the gateway's plain router routes; `unmatched` only for a path no route serves.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { GatewayApi, routePermissions } from "../../../src/gateway/index.ts"
import { routeOf } from "../../../src/gateway/internal/HttpMetrics.ts"

const apiTemplates = routePermissions(GatewayApi).map((r) => r.path)
const routerTemplates = [
  "/v1/agents/:id/turns",
  "/v1/agents/:id",
  "/v1/agents/:id/cancel",
  "/observer",
  "/metrics",
  "/openapi.json"
]
const labelOf = (template: string) => template.replace(/:([A-Za-z]+)/g, "{$1}")
const labels = new Set([...apiTemplates, ...routerTemplates].map(labelOf))

describe("routeOf: every route is labelled with its route template", () => {
  it("every route of GatewayApi, the agent routes, /observer, /metrics and /openapi.json get their template", () => {
    expect(apiTemplates.length).toBeGreaterThan(30)
    for (const template of [...apiTemplates, ...routerTemplates]) {
      const url = template.replace(/:[A-Za-z]+/g, "x%2Fy-1") + "?period=day"
      expect(routeOf(url), template).toBe(labelOf(template))
    }
  })

  it("a literal segment wins over a parameter; an empty parameter or an unknown path is unmatched", () => {
    expect(routeOf("/admin/dlq/stats")).toBe("/admin/dlq/stats")
    expect(routeOf("/admin/dlq/redrive")).toBe("/admin/dlq/redrive")
    expect(routeOf("/admin/dlq/m-1")).toBe("/admin/dlq/{id}")
    expect(routeOf("/costs/usage/")).toBe("unmatched")
    expect(routeOf("/v1/agents/")).toBe("unmatched")
    expect(routeOf("/admin/dlq/a/b")).toBe("unmatched")
    expect(routeOf("/nope")).toBe("unmatched")
    expect(routeOf("/")).toBe("unmatched")
  })

  it("fuzz: any path is labelled with a route template or unmatched (the label values stay bounded)", () => {
    const segment = fc.oneof(fc.constantFrom("admin", "costs", "v1", "agents", "usage", "dlq", "keys", ""), fc.string())
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const route = routeOf(`/${segments.join("/")}`)
        expect(route === "unmatched" || labels.has(route)).toBe(true)
      }),
      { numRuns: 500 }
    )
  })
})

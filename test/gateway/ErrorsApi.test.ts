import { Context, Effect, Exit, Layer, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { ErrorAnalytics } from "../../src/errors/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { startGateway } from "./support.ts"

const config = { defaults: { gateway: { auth: { apiKeys: ["sk-test"], adminKey: "admin-key" } } } }
const admin = { authorization: "Bearer admin-key" }

describe("GET /admin/errors", () => {
  it("answers aggregates, trends and impact of ErrorAnalytics, behind the admin credential", async () => {
    const scope = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0 }).pipe(
      Layer.provideMerge(ErrorAnalytics.layerMemory()),
      Layer.provideMerge(Troupe.layerTest({ config }))
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    try {
      const url = Context.get(context, Gateway).address.url
      await Effect.runPromise(
        Context.get(context, ErrorAnalytics).record({ _tag: "GuardBlocked" }, {
          route: "/v1/chat/completions",
          tenant: "acme"
        })
      )
      expect((await fetch(`${url}/admin/errors`)).status).toBe(401)
      expect((await fetch(`${url}/admin/errors`, { headers: { authorization: "Bearer sk-test" } })).status).toBe(403)
      const body = await (await fetch(`${url}/admin/errors`, { headers: admin })).json()
      expect(body.enabled).toBe(true)
      expect(body.aggregates.byClass).toEqual({ GuardBlocked: 1 })
      expect(body.trends.GuardBlocked.at(-1)).toBe(1)
      expect(body.impact).toEqual([{
        errorClass: "GuardBlocked",
        routes: { "/v1/chat/completions": 1 },
        tenants: { acme: 1 },
        agents: {}
      }])
      expect(body.anomalies).toEqual([])
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("answers enabled: false when errors: false turns error analytics off", async () => {
    const gw = await startGateway({ config, errors: false })
    try {
      expect(await (await fetch(`${gw.url}/admin/errors`, { headers: admin })).json()).toEqual({ enabled: false })
    } finally {
      await gw.stop()
    }
  })
})

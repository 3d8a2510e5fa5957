import { Context } from "effect"
import { HttpApi } from "effect/http-api"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayApi } from "../../src/gateway/index.ts"
import { post, type Running, startGateway } from "./support.ts"

const admin = { authorization: "Bearer admin-key", "content-type": "application/json" }
let gw: Running
beforeAll(async () => {
  gw = await startGateway({
    config: { defaults: { gateway: { accessLog: false, auth: { apiKeys: ["sk-test"], adminKey: "admin-key" } } } }
  })
})
afterAll(() => gw.stop())

// one otherwise valid request per admin group route that decodes a query or a body, with one unknown field
const cases: ReadonlyArray<{ readonly method: string; readonly path: string; readonly body?: unknown }> = [
  { method: "POST", path: "/admin/maintenance", body: { enabled: true, exemptKeys: ["sk-test"] } },
  { method: "POST", path: "/admin/maintenance", body: { enabled: false, retry_after: 5 } },
  { method: "GET", path: "/admin/events?intervall=100" },
  { method: "POST", path: "/admin/privacy/erase", body: { tenant: "acme", principal: "alice", dryRun: true } },
  { method: "POST", path: "/costs/budget", body: { scope: "tenant:acme", limit: 10, period: "day", alertat: [0.9] } },
  { method: "GET", path: "/costs/stats?periood=day" },
  { method: "GET", path: "/costs/usage/alice?perod=day" },
  { method: "GET", path: "/costs/forecast?dayz=3" },
  { method: "GET", path: "/costs/savings?tennant=acme" },
  { method: "GET", path: "/costs/recommendations?perid=day" },
  { method: "GET", path: "/admin/audit?tenant=acme&actr=x" },
  { method: "GET", path: "/admin/audit/verify?form=1" },
  { method: "GET", path: "/admin/audit/export?tenant=acme&fmt=jsonl" },
  { method: "GET", path: "/admin/runs?agnt=x" },
  { method: "GET", path: "/admin/keys?tenant=acme&principle=x" },
  { method: "POST", path: "/admin/keys/acme/k1/rotate?grace=5" },
  {
    method: "POST",
    path: "/admin/keys",
    body: { principal: { kind: "user", id: "alice", tenant: "acme" }, name: "k", scopes: [], expires: 1 }
  },
  { method: "PUT", path: "/admin/abuse-policy", body: { rules: [], rule: 1 } },
  { method: "GET", path: "/admin/dlq?lmit=3" },
  { method: "POST", path: "/admin/dlq/redrive", body: { all: true, rate: 1 } }
]
const unknownField = (c: (typeof cases)[number]): string =>
  c.body === undefined
    ? [...new URL(c.path, "http://x").searchParams.keys()].at(-1)!
    : Object.keys(c.body as object).at(-1)!

describe("GatewayApi: admin inputs are decoded strictly, the OpenAI routes leniently", () => {
  it("an unknown field in an admin query or body is a 400 naming it, never silently dropped", async () => {
    for (const c of cases) {
      const controller = new AbortController()
      const r = await fetch(`${gw.url}${c.path}`, {
        method: c.method,
        headers: admin,
        signal: controller.signal,
        ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) })
      })
      const text = await r.text()
      controller.abort()
      expect(r.status, `${c.method} ${c.path}`).toBe(400)
      expect(text, `${c.method} ${c.path}`).toContain(unknownField(c))
    }
  })

  it("a refused maintenance switch changes nothing", async () => {
    const r = await post(`${gw.url}/admin/maintenance`, { enabled: true, exemptKeys: ["sk-test"] }, admin)
    expect(r.status).toBe(400)
    expect((await (await fetch(`${gw.url}/admin/maintenance`, { headers: admin })).json()).enabled).toBe(false)
  })

  it("every route outside the openai group rejects unknown query and body fields", () => {
    for (const group of Object.values(GatewayApi.groups)) {
      for (const endpoint of Object.values(group.endpoints)) {
        const annotations = Context.merge(
          Context.merge(GatewayApi.annotations, group.annotations),
          endpoint.annotations
        )
        const options = {
          query: Context.getOrUndefined(annotations, HttpApi.QueryParseOptions),
          payload: Context.getOrUndefined(annotations, HttpApi.PayloadParseOptions)
        }
        const strict = group.identifier !== "openai"
        const label = `${group.identifier}.${endpoint.identifier}`
        expect(options.query?.onExcessProperty === "error", label).toBe(strict)
        expect(options.payload?.onExcessProperty === "error", label).toBe(strict)
      }
    }
  })

  it("the OpenAI chat and embeddings bodies still accept and ignore unknown fields (as LiteLLM's drop_params)", async () => {
    const bearer = { authorization: "Bearer sk-test" }
    const chat = await post(
      `${gw.url}/v1/chat/completions`,
      { model: "fast", messages: [{ role: "user", content: "hi" }], drop_params: true, x_unknown: 1 },
      bearer
    )
    expect(chat.status).toBe(200)
    const embeddings = await post(`${gw.url}/v1/embeddings`, { model: "fast", input: "hi", x_unknown: 1 }, bearer)
    expect(embeddings.status).not.toBe(400)
  })
})

import { Context, Effect, Exit, Layer, Logger, Redacted, Scope } from "effect"
import fc from "fast-check"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { ProviderOverloaded, ProviderRateLimited } from "../../src/llm/index.ts"
import { PEPPER } from "../identity/support.ts"
import type { Running } from "./support.ts"
import { post, startGateway } from "./support.ts"

const scripted = {
  rules: [
    { when: { lastUser: "weather" }, reply: { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] } },
    {
      when: { lastUser: "busy" },
      reply: {
        error: new ProviderRateLimited({
          provider: "scripted",
          description: "slow down",
          retryable: true,
          retryAfterMillis: 2000
        })
      }
    },
    {
      when: { lastUser: "overloaded" },
      reply: { error: new ProviderOverloaded({ provider: "scripted", description: "overloaded", retryable: true }) }
    },
    {
      when: { lastUser: "explode" },
      reply: () => {
        throw new Error("secret-internal-detail")
      }
    }
  ]
} as const

let open: Running
let keyed: Running

beforeAll(async () => {
  open = await startGateway({ providers: { scripted }, pipeline: { retry: false } })
  keyed = await startGateway({
    providers: { scripted },
    pipeline: { retry: false },
    config: {
      defaults: {
        gateway: {
          maxBodyBytes: 4096,
          cors: { allowedOrigins: ["https://app.example"] },
          auth: { apiKeys: ["sk-test"], adminKey: "admin-key" }
        }
      }
    }
  })
})

afterAll(async () => {
  await open?.stop()
  await keyed?.stop()
})

const client = (url: string, apiKey = "unused") => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 })

describe("Gateway: OpenAI-compatible routes with the openai SDK as client", () => {
  it("answers a plain chat completion unchanged", async () => {
    const r = await client(open.url).chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "hello" }]
    })
    expect(r.object).toBe("chat.completion")
    expect(r.choices[0]?.message.content).toContain("hello")
    expect(r.choices[0]?.finish_reason).toBe("stop")
    expect(r.usage?.total_tokens).toBeGreaterThan(0)
  })

  it("streams chunks in OpenAI's format with [DONE] and include_usage", async () => {
    const stream = await client(open.url).chat.completions.create({
      model: "fast",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "hello there" }]
    })
    let text = ""
    let usage: unknown
    let finish: string | null | undefined
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk")
      // with include_usage every chunk has a usage field: null until the last (empty choices) chunk, as OpenAI's
      expect(chunk.usage === null || chunk.choices.length === 0).toBe(true)
      text += chunk.choices[0]?.delta.content ?? ""
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toContain("hello there")
    expect(finish).toBe("stop")
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) })
    const raw = await (await post(`${open.url}/v1/chat/completions`, {
      model: "fast",
      stream: true,
      messages: [{ role: "user", content: "x" }]
    })).text()
    expect(raw.trimEnd().endsWith("data: [DONE]")).toBe(true)
    expect(raw).not.toContain("\"usage\"") // usage chunk only with include_usage
  })

  it("returns tool calls, plain and streamed", async () => {
    const tools = [{
      type: "function" as const,
      function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }
    }]
    const r = await client(open.url).chat.completions.create({
      model: "fast",
      tools,
      messages: [{ role: "user", content: "weather?" }]
    })
    expect(r.choices[0]?.finish_reason).toBe("tool_calls")
    const call = r.choices[0]?.message.tool_calls?.[0]
    expect(call?.type === "function" ? JSON.parse(call.function.arguments) : undefined).toEqual({ city: "Oslo" })
    const runner = client(open.url).chat.completions.stream({
      model: "fast",
      tools,
      messages: [{ role: "user", content: "weather?" }]
    })
    const final = await runner.finalChatCompletion()
    const streamed = final.choices[0]?.message.tool_calls?.[0]
    expect(streamed?.type === "function" ? streamed.function.name : undefined).toBe("get_weather")
    expect(streamed?.type === "function" ? JSON.parse(streamed.function.arguments) : undefined).toEqual({
      city: "Oslo"
    })
  })

  it("lists aliases and configured models, and embeds deterministically", async () => {
    const models = await client(open.url).models.list()
    const ids = models.data.map((m) => m.id)
    expect(ids).toContain("fast")
    expect(ids).toContain("openai:gpt-4o-mini")
    const e1 = await client(open.url).embeddings.create({
      model: "embedding",
      input: ["a cat", "a cat"],
      encoding_format: "float"
    })
    expect(e1.data).toHaveLength(2)
    expect(e1.data[0]?.embedding).toEqual(e1.data[1]?.embedding)
    expect(e1.data[0]?.embedding).toHaveLength(64) // the scripted provider's vectors, through Llm.embed
  })

  it("maps failures onto the SDK's error classes", async () => {
    const c = client(open.url)
    const ask = (content: string, model = "fast") =>
      c.chat.completions.create({ model, messages: [{ role: "user", content }] })
    const bad = await c.chat.completions.create({
      model: "fast",
      messages: [{ role: "robot" as "user", content: "x" }]
    }).catch((e) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    expect(bad.error?.param).toBe("messages[0].role")
    expect(await ask("hi", "no-such-model").catch((e) => e)).toBeInstanceOf(OpenAI.NotFoundError)
    const limited = await ask("busy").catch((e) => e)
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
    expect(limited.headers.get("retry-after")).toBe("2")
    const crashed = await ask("explode").catch((e) => e)
    expect(crashed).toBeInstanceOf(OpenAI.InternalServerError)
    expect(crashed.status).toBe(500)
    expect(JSON.stringify(crashed.error)).not.toContain("secret-internal-detail")
    const overloaded = await ask("overloaded").catch((e) => e)
    expect(overloaded).toBeInstanceOf(OpenAI.InternalServerError)
    expect(overloaded.status).toBe(503)
    expect(await client(keyed.url, "wrong").models.list().catch((e) => e)).toBeInstanceOf(OpenAI.AuthenticationError)
    const root = new OpenAI({ baseURL: keyed.url, apiKey: "sk-test", maxRetries: 0 })
    expect(await root.get("/admin/stats").catch((e) => e)).toBeInstanceOf(OpenAI.PermissionDeniedError)
  })

  it("an SSE stream decides its status before its first byte: an error before any output is a real status, after it an error chunk", async () => {
    const before = await post(`${open.url}/v1/chat/completions`, {
      model: "fast",
      stream: true,
      messages: [{ role: "user", content: "busy" }]
    })
    expect(before.status).toBe(429)
    expect(before.headers.get("retry-after")).toBe("2")
    expect(before.headers.get("content-type")).toContain("application/json")
    expect((await before.json()).error.code).toBeTypeOf("string")
    // a stream cut by the pipeline's size limit after its first chunks: the status is already 200
    const small = await startGateway({ pipeline: { retry: false, limits: { maxStreamChars: 40 } } })
    try {
      const after = await post(`${small.url}/v1/chat/completions`, {
        model: "fast",
        stream: true,
        messages: [{ role: "user", content: "tell me something long ".repeat(10) }]
      })
      expect(after.status).toBe(200)
      expect(after.headers.get("content-type")).toContain("text/event-stream")
      const frames = (await after.text()).split("\n\n").filter((f) => f.startsWith("data: "))
      expect(frames.some((f) => f.includes("\"content\""))).toBe(true)
      const errors = frames.filter((f) => f.includes("\"error\""))
      expect(errors).toHaveLength(1)
      expect(frames.indexOf(errors[0]!)).toBeGreaterThan(0)
    } finally {
      await small.stop()
    }
  })

  it("keeps a valid x-request-id and replaces an invalid one", async () => {
    const r1 = await fetch(`${open.url}/v1/models`, { headers: { "x-request-id": "req-42" } })
    expect(r1.headers.get("x-request-id")).toBe("req-42")
    const r2 = await fetch(`${open.url}/v1/models`, { headers: { "x-request-id": "bad id\twith spaces" } })
    expect(r2.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("refuses bodies above maxBodyBytes with 413 and unknown routes with 404", async () => {
    const big = await post(`${keyed.url}/v1/chat/completions`, {
      model: "fast",
      messages: [{ role: "user", content: "x".repeat(10_000) }]
    }, {
      authorization: "Bearer sk-test"
    })
    expect(big.status).toBe(413)
    const missing = await fetch(`${open.url}/v2/nothing`)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.code).toBe("not_found")
  })

  it("answers CORS preflights for the configured origins", async () => {
    const r = await fetch(`${keyed.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" }
    })
    expect(r.headers.get("access-control-allow-origin")).toBe("https://app.example")
  })

  it("CORS: an empty allowedOrigins list allows no origin; only the wildcard allows any", async () => {
    const none = await startGateway({ config: { defaults: { gateway: { cors: { allowedOrigins: [] } } } } })
    const any = await startGateway({ config: { defaults: { gateway: { cors: { allowedOrigins: ["*"] } } } } })
    try {
      const origin = { origin: "https://evil.example" }
      const preflight = { ...origin, "access-control-request-method": "POST" }
      const plain = await fetch(`${none.url}/v1/models`, { headers: origin })
      expect(plain.status).toBe(200)
      expect(plain.headers.get("access-control-allow-origin")).toBeNull()
      const refused = await fetch(`${none.url}/v1/chat/completions`, { method: "OPTIONS", headers: preflight })
      expect(refused.headers.get("access-control-allow-origin")).toBeNull()
      expect((await fetch(`${any.url}/v1/models`, { headers: origin })).headers.get("access-control-allow-origin"))
        .toBe("*")
    } finally {
      await none.stop()
      await any.stop()
    }
  })

  it("CORS headers are on the gates' refusals too (413, maintenance), and a preflight passes the maintenance gate", async () => {
    const origin = { origin: "https://app.example" }
    const big = await post(`${keyed.url}/v1/chat/completions`, {
      model: "fast",
      messages: [{ role: "user", content: "x".repeat(10_000) }]
    }, { authorization: "Bearer sk-test", ...origin })
    expect(big.status).toBe(413)
    expect(big.headers.get("access-control-allow-origin")).toBe("https://app.example")
    const admin = { authorization: "Bearer admin-key", "content-type": "application/json" }
    const maintenance = (enabled: boolean) =>
      fetch(`${keyed.url}/admin/maintenance`, { method: "POST", headers: admin, body: JSON.stringify({ enabled }) })
    expect((await maintenance(true)).status).toBe(200)
    try {
      const refused = await post(`${keyed.url}/v1/chat/completions`, {
        model: "fast",
        messages: [{ role: "user", content: "hi" }]
      }, { authorization: "Bearer sk-test", ...origin })
      expect(refused.status).toBe(503)
      expect(refused.headers.get("access-control-allow-origin")).toBe("https://app.example")
      expect(refused.headers.get("retry-after")).toBe("30")
      const preflight = await fetch(`${keyed.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: { ...origin, "access-control-request-method": "POST" }
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example")
      expect(preflight.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await maintenance(false)
    }
  })

  it("decoding never crashes: random bodies get 200 or a 400 naming a path (fuzz)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          model: fc.oneof(fc.constant("fast"), fc.string(), fc.integer()),
          messages: fc.oneof(
            fc.array(
              fc.record({
                role: fc.constantFrom("user", "system", "tool", "x"),
                content: fc.oneof(fc.string(), fc.integer())
              })
            ),
            fc.anything()
          ),
          temperature: fc.oneof(fc.constant(undefined), fc.double(), fc.string())
        }, { requiredKeys: [] }),
        async (body) => {
          const r = await post(`${open.url}/v1/chat/completions`, body)
          expect([200, 400, 404]).toContain(r.status)
          if (r.status === 400) expect(typeof (await r.json()).error.message).toBe("string")
          else await r.arrayBuffer()
        }
      ),
      { numRuns: 40 }
    )
  })
})

describe("Gateway: OpenAPI document", () => {
  it("serves /openapi.json: every route, the chat body schema, the SSE response and bearer security, without a key", async () => {
    const response = await fetch(`${keyed.url}/openapi.json`) // keyed: the document needs no API key
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/json")
    const doc = await response.json() as {
      openapi: string
      paths: Record<
        string,
        Record<
          string,
          {
            security?: Array<Record<string, unknown>>
            requestBody?: {
              content: Record<string, { schema: { properties?: Record<string, unknown>; required?: Array<string> } }>
            }
            responses: Record<string, { content?: Record<string, unknown> }>
          }
        >
      >
      components: { securitySchemes: Record<string, { type: string; scheme: string }> }
    }
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/admin/abuse-policy",
      "/admin/audit",
      "/admin/audit/export",
      "/admin/audit/verify",
      "/admin/blocks",
      "/admin/blocks/{kind}/{id}",
      "/admin/config",
      "/admin/dlq",
      "/admin/dlq/redrive",
      "/admin/dlq/stats",
      "/admin/dlq/{id}",
      "/admin/errors",
      "/admin/events",
      "/admin/keys",
      "/admin/keys/{tenant}/{id}",
      "/admin/keys/{tenant}/{id}/rotate",
      "/admin/maintenance",
      "/admin/privacy/erase",
      "/admin/runs",
      "/admin/runs/{id}",
      "/admin/stats",
      "/admin/supervision",
      "/admin/supervision/{path}/restart",
      "/admin/supervision/{path}/stop",
      "/costs/budget",
      "/costs/budget/{scope}",
      "/costs/forecast",
      "/costs/recommendations",
      "/costs/savings",
      "/costs/stats",
      "/costs/usage/{user}",
      "/health/live",
      "/health/ready",
      "/health/startup",
      "/v1/chat/completions",
      "/v1/embeddings",
      "/v1/models"
    ])
    const chat = doc.paths["/v1/chat/completions"]!["post"]!
    const body = chat.requestBody!.content["application/json"]!.schema
    expect(Object.keys(body.properties!)).toEqual(
      expect.arrayContaining(["model", "messages", "tools", "stream", "stream_options", "response_format"])
    )
    expect(body.required).toEqual(expect.arrayContaining(["model", "messages"]))
    expect(Object.keys(chat.responses["200"]!.content!).sort()).toEqual(["application/json", "text/event-stream"])
    expect(chat.security).toEqual([{ bearer: [] }])
    expect(doc.paths["/admin/config"]!["patch"]!.security).toEqual([{ bearer: [] }])
    expect(doc.paths["/health/live"]!["get"]!.security ?? []).toEqual([])
    expect(doc.components.securitySchemes["bearer"]).toMatchObject({ type: "http", scheme: "Bearer" })
  })
})

describe("Gateway: health, metrics, admin, maintenance", () => {
  it("answers live, ready (with each check) and startup", async () => {
    expect((await fetch(`${open.url}/health/live`)).status).toBe(200)
    const ready = await fetch(`${open.url}/health/ready`)
    expect(ready.status).toBe(200)
    const body = await ready.json()
    expect(body.checks.map((c: { name: string }) => c.name)).toEqual(["supervisor", "config"])
    expect(body.checks[0]).toMatchObject({ status: "up", latencyMs: expect.any(Number) })
    expect((await fetch(`${open.url}/health/startup`)).status).toBe(200)
  })

  it("exposes the hub's Prometheus text with HTTP and process metrics", async () => {
    await fetch(`${open.url}/v1/models`)
    const text = await (await fetch(`${open.url}/metrics`)).text()
    expect(text).toContain("troupe_gateway_http_requests_total{method=\"GET\",route=\"/v1/models\",status=\"200\"}")
    expect(text).toContain("troupe_gateway_http_request_duration_seconds_bucket")
    expect(text).toContain("troupe_gateway_http_requests_in_flight")
    expect(text).toMatch(/process_resident_memory_bytes \d+/)
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+|NaN|[+-]Inf$/)
    }
  })

  it("admin API: config with secrets redacted, validated patch, supervision tree, stats", async () => {
    const admin = { authorization: "Bearer admin-key" }
    const config = await (await fetch(`${keyed.url}/admin/config`, { headers: admin })).text()
    expect(config).not.toContain("admin-key")
    expect(config).not.toContain("sk-test")
    expect(JSON.parse(config).gateway.auth.adminKey).toBe("<redacted>")
    const rejected = await fetch(`${keyed.url}/admin/config`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ cache: { maxEntries: -1 } })
    })
    expect(rejected.status).toBe(400)
    expect((await rejected.json()).error.message).toContain("cache.maxEntries")
    const patched = await fetch(`${keyed.url}/admin/config`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ models: { quick: "openai:gpt-4o-mini" } })
    })
    expect(await patched.json()).toMatchObject({ paths: ["models.quick"] })
    const tree = await (await fetch(`${keyed.url}/admin/supervision`, { headers: admin })).json()
    const gateway = tree.children.find((c: { id: string }) => c.id === "gateway")
    expect(gateway).toMatchObject({
      type: "supervisor",
      state: "running",
      children: [{ id: "http-server", type: "worker", state: "running" }]
    })
    const stats = await (await fetch(`${keyed.url}/admin/stats`, { headers: admin })).json()
    expect(stats.gateway.phase).toBe("ready")
    expect(stats.cache).toHaveProperty("hits")
    expect((await fetch(`${keyed.url}/admin/stats`)).status).toBe(401)
  })

  it("maintenance mode: 503 with retry-after, health and metrics keep answering, exempt routes pass", async () => {
    const admin = { authorization: "Bearer admin-key", "content-type": "application/json" }
    const on = await fetch(`${keyed.url}/admin/maintenance`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ enabled: true, exemptRoutes: ["/v1/models"] })
    })
    expect(await on.json()).toMatchObject({ enabled: true })
    const refused = await client(keyed.url, "sk-test").chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "hi" }]
    }).catch((e) => e)
    expect(refused).toBeInstanceOf(OpenAI.InternalServerError)
    expect(refused.status).toBe(503)
    expect(refused.headers.get("retry-after")).toBe("30")
    expect((await client(keyed.url, "sk-test").models.list()).data.length).toBeGreaterThan(0)
    expect((await fetch(`${keyed.url}/health/live`)).status).toBe(200)
    expect((await fetch(`${keyed.url}/health/ready`)).status).toBe(503)
    expect((await fetch(`${keyed.url}/metrics`)).status).toBe(200)
    const off = await fetch(`${keyed.url}/admin/maintenance`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ enabled: false })
    })
    expect(off.status).toBe(200)
    const ok = await client(keyed.url, "sk-test").chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "hi" }]
    })
    expect(ok.choices[0]?.message.content).toContain("hi")
  })
})

describe("Gateway: maintenance exempt keys", () => {
  it("an exempt key passes maintenance whether it is sent as Authorization: Bearer or as x-api-key", async () => {
    const keys = Effect.runSync(Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory())))
    const key = async () =>
      Redacted.value(
        (await Effect.runPromise(keys.create({
          principal: { kind: "user", id: "ops", tenant: "acme" },
          name: "k",
          scopes: ["gateway:use"]
        }))).key
      )
    const exempt = await key()
    const other = await key()
    const gw = await startGateway({
      config: { defaults: { gateway: { maintenance: { enabled: true, exemptKeys: [exempt] } } } }
    }, { auth: GatewayKeyAuth.layer({ keys }) })
    try {
      const models = (headers: Record<string, string>) => fetch(`${gw.url}/v1/models`, { headers })
      expect((await models({ authorization: `Bearer ${exempt}` })).status).toBe(200)
      expect((await models({ "x-api-key": exempt })).status).toBe(200)
      expect((await models({ "x-api-key": other })).status).toBe(503)
      expect((await models({ authorization: `Bearer ${other}` })).status).toBe(503)
    } finally {
      await gw.stop()
    }
  })
})

describe("Gateway: access log", () => {
  it("one access-log line per request (method, route template, status, duration, id): never headers, bodies, keys or prompts", async () => {
    const entries: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
    const capture = Logger.formatStructured.pipe(Logger.map((entry) => void entries.push(entry)))
    const key = "sk-test-access-log-0123456789abcdef"
    const scope = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0 }).pipe(
      Layer.provide(Troupe.layerTest({ config: { defaults: { gateway: { auth: { apiKeys: [key] } } } } })),
      Layer.provide(Logger.layer([capture]))
    )
    const gw = Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), Gateway)
    try {
      const prompt = "my very private prompt about the merger"
      const auth = { authorization: `Bearer ${key}`, "x-custom-header": "header-value-42" }
      const chat = await post(`${gw.address.url}/v1/chat/completions`, {
        model: "fast",
        messages: [{ role: "user", content: prompt }]
      }, { ...auth, "x-request-id": "req-chat-1" })
      expect(chat.status).toBe(200)
      const refused = await post(`${gw.address.url}/v1/chat/completions`, { model: "fast", messages: [] }, {
        "x-request-id": "req-no-key-1"
      })
      expect(refused.status).toBe(401)
      const agent = await fetch(`${gw.address.url}/v1/agents/assistant:someone`, {
        headers: { ...auth, "x-request-id": "req-agent-1" }
      })
      const lines = entries.filter((e) => JSON.stringify(e.message).includes("http request"))
      const byId = (id: string) => lines.filter((e) => e.annotations["request_id"] === id)
      expect(byId("req-chat-1")).toHaveLength(1)
      expect(byId("req-no-key-1")).toHaveLength(1)
      expect(byId("req-agent-1")).toHaveLength(1)
      expect(byId("req-chat-1")[0]!.annotations).toMatchObject({
        method: "POST",
        route: "/v1/chat/completions",
        status: 200
      })
      expect(typeof byId("req-chat-1")[0]!.annotations["duration_ms"]).toBe("number")
      expect(byId("req-no-key-1")[0]!.annotations).toMatchObject({ status: 401 })
      // the route template, not the path with the agent id
      expect(byId("req-agent-1")[0]!.annotations).toMatchObject({
        method: "GET",
        route: "/v1/agents/{id}",
        status: agent.status
      })
      expect(Object.keys(byId("req-chat-1")[0]!.annotations).sort()).toEqual(
        ["duration_ms", "method", "request_id", "route", "status"]
      )
      const logged = JSON.stringify(entries)
      for (const secret of [key, prompt, "header-value-42", "merger", "assistant:someone", "Bearer"]) {
        expect(logged).not.toContain(secret)
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

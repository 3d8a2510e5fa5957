/**
 * The error context on the real paths (issue 16 §4): `Troupe.layer` provides `ErrorAnalytics` and `ErrorHandlers` by
 * default; the gateway sets the route and the caller's tenant (`ErrorScope`), an LLM agent's turn the agent id, and
 * the pipeline's and the agents' failures are recorded under them — seen through `GET /admin/errors` of a running
 * gateway, and in process under TestClock.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Troupe } from "../../src/app/index.ts"
import type { ErrorImpact } from "../../src/errors/index.ts"
import { ErrorAnalytics, ErrorHandlers, withErrorContext } from "../../src/errors/index.ts"
import { AdminAuth, ApiAuth, Caller } from "../../src/gateway/GatewayAuth.ts"
import { Gateway, GatewayAgents } from "../../src/gateway/index.ts"
import { ProviderServerError } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { Llm, type LlmCallInput } from "../../src/pipeline/index.ts"
import { post } from "../gateway/support.ts"

// the scripted model fails any conversation whose last user message says "outage" (not retryable: one attempt)
const outage = {
  scripted: {
    rules: [{
      when: { lastUser: "outage" },
      reply: () => ({
        error: new ProviderServerError({ provider: "scripted", status: 500, description: "down", retryable: false })
      })
    }]
  }
} as const

// an agent on the pipeline's `Llm` (no model client of its own), so its model calls are the pipeline's
const Helper = LlmAgent.make({ name: "helper", model: "fast", memory: "none" })

// a test auth: the bearer token `admin` is the admin; any other token is an API caller of the tenant it names
const tenantAuth = (() => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, credential: Redacted.Redacted<string>) => {
    const token = Redacted.value(credential)
    return token === "admin"
      ? Effect.provideService(effect, Caller, { id: "admin", admin: true, roles: ["admin"] })
      : Effect.provideService(effect, Caller, { id: `key:${token}`, admin: false, roles: ["api_user"], tenant: token })
  }
  return Layer.succeedContext(
    Context.make(ApiAuth, ApiAuth.of({ bearer: (effect, { credential }) => provide(effect, credential) })).pipe(
      Context.add(AdminAuth, AdminAuth.of({ bearer: (effect, { credential }) => provide(effect, credential) }))
    )
  )
})()

const impactOf = (impact: ReadonlyArray<ErrorImpact>, errorClass: string) =>
  impact.find((i) => i.errorClass === errorClass)

describe("Troupe.layer({ errors })", () => {
  it.effect("Troupe.layer provides ErrorAnalytics and ErrorHandlers by default; errors: false turns them off", () =>
    Effect.gen(function*() {
      const on = yield* Effect.all([Effect.serviceOption(ErrorAnalytics), Effect.serviceOption(ErrorHandlers)]).pipe(
        Effect.provide(Troupe.layerTest())
      )
      assert.deepStrictEqual(on.map((o) => o._tag), ["Some", "Some"])
      const off = yield* Effect.all([Effect.serviceOption(ErrorAnalytics), Effect.serviceOption(ErrorHandlers)]).pipe(
        Effect.provide(Troupe.layerTest({ errors: false }))
      )
      assert.deepStrictEqual(off.map((o) => o._tag), ["None", "None"])
    }))

  it.effect("bad errors options fail the layer with InvalidTroupeOptions naming the path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Effect.void, Troupe.layerTest({ errors: { maxKeys: 0 } })))
      assert.strictEqual(error._tag, "InvalidTroupeOptions")
      assert.include(error.message, "errors.maxKeys")
    }))

  it.effect("the pipeline's failures are recorded once per error value: a call that fails before its targets without provider and model, a target's failure that ends the call once", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const analytics = yield* ErrorAnalytics
      const ask = (model: string, content: string, tenant?: string): LlmCallInput => ({
        model,
        messages: [{ role: "user", content }],
        ...(tenant !== undefined ? { options: { tenant } } : {})
      })
      const underRoute = withErrorContext({ route: "/r" })
      assert.strictEqual(
        (yield* Effect.flip(underRoute(llm.generate(ask("no-such-model", "hi")))))._tag,
        "UnknownModelAlias"
      )
      assert.strictEqual(
        (yield* Effect.flip(underRoute(llm.generate(ask("fast", "outage")))))._tag,
        "ProviderServerError"
      )
      // a stream failing as it opens; the call's tenant fills what the error context lacks
      const streamed = yield* Effect.flip(underRoute(Stream.runDrain(llm.stream(ask("fast", "outage 2", "initech")))))
      assert.strictEqual(streamed._tag, "ProviderServerError")
      const aggregates = yield* analytics.aggregates
      assert.deepStrictEqual(aggregates.byClass, { UnknownModelAlias: 1, ProviderServerError: 2 })
      assert.deepStrictEqual(aggregates.byProvider, { scripted: 2 })
      assert.deepStrictEqual(aggregates.byRoute, { "/r": 3 })
      assert.deepStrictEqual(impactOf(yield* analytics.impact, "ProviderServerError")?.tenants, { initech: 1 })
    }).pipe(Effect.provide(Troupe.layerTest({ providers: outage }))))
})

describe("the gateway supplies route and tenant, an agent turn its agent id", () => {
  it("through the gateway, failures on two routes and two tenants are aggregated by class, provider, model and route, and impact lists the routes, tenants and agents hit", async () => {
    const scope = Effect.runSync(Scope.make())
    const layer = GatewayAgents.withAgents({ port: 0, auth: tenantAuth }).pipe(
      Layer.provide(LlmAgents.layer({ agents: [Helper] })),
      Layer.provide(Troupe.layerTest({ providers: outage }))
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    try {
      const url = Context.get(context, Gateway).address.url
      const as = (tenant: string) => ({ authorization: `Bearer ${tenant}` })
      const chat = (model: string, content: string) => ({ model, messages: [{ role: "user", content }] })
      // a scripted provider failure and an unknown model on the chat route, for acme and globex
      expect((await post(`${url}/v1/chat/completions`, chat("fast", "outage"), as("acme"))).status).toBe(502)
      expect((await post(`${url}/v1/chat/completions`, chat("no-such-model", "hi"), as("globex"))).status)
        .toBeGreaterThanOrEqual(400)
      // an agent turn failing (its model call fails) and an unknown agent on the agent route
      expect((await post(`${url}/v1/agents/helper:a1/turns`, { input: "outage" }, as("globex"))).status).toBe(502)
      expect((await post(`${url}/v1/agents/nobody:1/turns`, { input: "hi" }, as("acme"))).status).toBe(404)

      const read = async () => await (await fetch(`${url}/admin/errors`, { headers: as("admin") })).json()
      let body = await read()
      // the turn's failure is handled in the background by its process: it lands within a few milliseconds
      for (let i = 0; i < 100 && body.aggregates.byClass.TurnFailed === undefined; i++) {
        await new Promise<void>((resolve) => {
          setTimeout(resolve, 10)
        })
        body = await read()
      }
      expect(body.enabled).toBe(true)
      expect(body.aggregates.byClass).toEqual({
        ProviderServerError: 2, // the chat call's, and the agent turn's model call
        UnknownModelAlias: 1,
        TurnFailed: 1,
        UnknownAgentKind: 1
      })
      expect(body.aggregates.byProvider).toEqual({ scripted: 2 })
      expect(body.aggregates.byModel).toEqual({ "gpt-4o-mini": 2 })
      expect(body.aggregates.byRoute).toEqual({ "/v1/chat/completions": 2, "/v1/agents/{id}/turns": 3 })
      const impact: ReadonlyArray<ErrorImpact> = body.impact
      expect(impactOf(impact, "ProviderServerError")).toEqual({
        errorClass: "ProviderServerError",
        routes: { "/v1/chat/completions": 1, "/v1/agents/{id}/turns": 1 },
        tenants: { acme: 1, globex: 1 },
        agents: { "helper:a1": 1 }
      })
      expect(impactOf(impact, "UnknownModelAlias")).toEqual({
        errorClass: "UnknownModelAlias",
        routes: { "/v1/chat/completions": 1 },
        tenants: { globex: 1 },
        agents: {}
      })
      expect(impactOf(impact, "TurnFailed")).toEqual({
        errorClass: "TurnFailed",
        routes: { "/v1/agents/{id}/turns": 1 },
        tenants: { globex: 1 },
        agents: { "helper:a1": 1 }
      })
      expect(impactOf(impact, "UnknownAgentKind")).toEqual({
        errorClass: "UnknownAgentKind",
        routes: { "/v1/agents/{id}/turns": 1 },
        tenants: { acme: 1 },
        agents: { "nobody:1": 1 }
      })
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it.effect("an agent turn failure is recorded with its agent id, over its caller's error context, and leaves the sliding window (TestClock)", () =>
    Effect.gen(function*() {
      const agents = yield* LlmAgents
      const analytics = yield* ErrorAnalytics
      const failed = yield* Effect.flip(
        agents.ask("helper:t1", "outage").pipe(withErrorContext({ route: "/jobs", tenant: "acme" }))
      )
      assert.strictEqual(failed._tag, "TurnFailed")
      // a tell has no caller: its failure is recorded all the same
      yield* agents.tell("helper:t2", "outage")
      // the process handles a failure in the background: let those fibers run
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      const impact = yield* analytics.impact
      assert.deepStrictEqual(impactOf(impact, "TurnFailed"), {
        errorClass: "TurnFailed",
        routes: { "/jobs": 1 },
        tenants: { acme: 1 },
        agents: { "helper:t1": 1, "helper:t2": 1 }
      })
      // the model call inside the turn ran with the agent id over the caller's error context
      assert.deepStrictEqual(impactOf(impact, "ProviderServerError")?.agents, { "helper:t1": 1, "helper:t2": 1 })
      assert.deepStrictEqual(impactOf(impact, "ProviderServerError")?.routes, { "/jobs": 1 })
      // 300 s later the failures have left the sliding window
      yield* TestClock.adjust("301 seconds")
      assert.deepStrictEqual(yield* analytics.impact, [])
      assert.strictEqual((yield* analytics.aggregates).total, 0)
    }).pipe(
      Effect.provide(
        LlmAgents.layer({ agents: [Helper] }).pipe(
          Layer.provideMerge(Troupe.layerTest({ providers: outage }))
        )
      )
    ))
})

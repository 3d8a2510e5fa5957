/**
 * The agent routes over a real loopback gateway: JSON turns, SSE turns parsed with the independent
 * `eventsource-parser`, `id:` framing and reconnect with `Last-Event-ID`, status / stop / cancel, typed 400s, auth.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { createParser, type EventSourceMessage } from "eventsource-parser"
import fc from "fast-check"
import { Action, Tool } from "../../src/agent/index.ts"
import { Troupe } from "../../src/app/index.ts"
import type { TroupeOptions } from "../../src/app/index.ts"
import { Gateway, GatewayAgents, type GatewayShape } from "../../src/gateway/index.ts"
import { ScriptedProvider } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { post, postChunked } from "./support.ts"

const Clock = Action.make({
  name: "clock",
  description: "The time",
  params: Schema.Struct({}),
  output: Schema.String,
  retries: 0,
  run: () => Effect.succeed("12:00 UTC")
})
const Sleepy = Action.make({
  name: "sleepy",
  description: "Sleeps",
  params: Schema.Struct({}),
  output: Schema.String,
  timeout: "10 minutes",
  retries: 0,
  run: () => Effect.as(Effect.sleep("1 minute"), "rested")
})

const provider = ScriptedProvider.makeUnsafe({
  rules: [
    { when: { lastUser: "time" }, reply: { toolCalls: [{ name: "clock", arguments: {} }] } },
    { when: { tool: "clock" }, reply: { text: "It is twelve o'clock, noon, in UTC right now." } },
    { when: { lastUser: "rest" }, reply: { toolCalls: [{ name: "sleepy", arguments: {} }] } },
    { when: { tool: "sleepy" }, reply: { text: "rested" } }
  ],
  chunkSize: 8
})
const Helper = LlmAgent.make({
  name: "helper",
  model: "fast",
  llm: provider,
  memory: "none",
  tools: [Tool.fromAction(Clock), Tool.fromAction(Sleepy)]
})

interface Running {
  readonly url: string
  readonly gateway: GatewayShape
  readonly stop: () => Promise<void>
}

const start = async (troupe: TroupeOptions = {}): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const layer = GatewayAgents.withAgents({ port: 0, agentRoutes: { costOf: () => 0.25, windowMillis: 5_000 } }).pipe(
    Layer.provide(LlmAgents.layer({ agents: [Helper], default: "helper" })),
    Layer.provide(Troupe.layerTest(troupe))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const gw = Context.get(context, Gateway)
  return { url: gw.address.url, gateway: gw, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Waits 10 ms of real time. */
const pause = () =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, 10)
  })

/** Reads an SSE response to its end with eventsource-parser. */
const readSse = async (response: Response, stopAfter?: number): Promise<Array<EventSourceMessage>> => {
  const events: Array<EventSourceMessage> = []
  const parser = createParser({ onEvent: (e) => events.push(e) })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parser.feed(decoder.decode(value, { stream: true }))
    if (stopAfter !== undefined && events.length >= stopAfter) {
      await reader.cancel()
      break
    }
  }
  return events
}

let gw: Running
let keyed: Running

beforeAll(async () => {
  gw = await start()
  keyed = await start({ config: { defaults: { gateway: { auth: { apiKeys: ["sk-test"] } } } } })
})
afterAll(async () => {
  await gw?.stop()
  await keyed?.stop()
})

describe("Gateway agents: POST /v1/agents/{id}/turns", () => {
  it("answers a turn as JSON (the TurnAnswer)", async () => {
    const r = await post(`${gw.url}/v1/agents/helper:json/turns`, { input: "what time is it" })
    expect(r.status).toBe(200)
    const body = await r.json() as { id: string; text: string; toolCalls: number; usage: { inputTokens: number } }
    expect(body.id).toBe("helper:json")
    expect(body.text).toContain("twelve")
    expect(body.toolCalls).toBe(1)
  })

  it("streams a turn as SSE: token, tool_call, tool_result, step, done with usage and the cost of every model call; every frame has an id", async () => {
    const r = await post(`${gw.url}/v1/agents/helper:sse/turns`, { input: "what time is it", stream: true })
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toContain("text/event-stream")
    const turnId = r.headers.get("x-troupe-turn-id")!
    const events = await readSse(r)
    const names = events.map((e) => e.event)
    expect(names).toContain("tool_call")
    expect(names).toContain("tool_result")
    expect(names).toContain("step")
    expect(names).toContain("token")
    expect(names.at(-1)).toBe("done")
    expect(names.indexOf("tool_call")).toBeLessThan(names.indexOf("tool_result"))
    events.forEach((e, i) => expect(e.id).toBe(`${turnId}.${i + 1}`))
    const toolResult = JSON.parse(events.find((e) => e.event === "tool_result")!.data) as {
      ok: boolean
      output: string
      name: string
    }
    expect(toolResult).toMatchObject({ ok: true, output: "12:00 UTC", name: "clock" })
    const done = JSON.parse(events.at(-1)!.data) as {
      text: string
      usage: { inputTokens: number; outputTokens: number }
      costUsd: number
      steps: number
    }
    expect(done.text).toContain("twelve")
    expect(done.steps).toBe(2)
    expect(done.usage.outputTokens).toBeGreaterThan(0)
    expect(done.costUsd).toBe(0.5) // costOf (0.25) of each of the turn's 2 model calls, as the turn's costUsd
    const tokens = events.filter((e) => e.event === "token").map((e) => (JSON.parse(e.data) as { delta: string }).delta)
      .join("")
    expect(tokens).toContain("twelve")
  })

  it("reconnects with Last-Event-ID: replays the frames after that id, starts no new turn", async () => {
    const r = await post(`${gw.url}/v1/agents/helper:replay/turns`, { input: "what time is it", stream: true })
    const all = await readSse(r)
    const cut = all[2]!
    const again = await post(`${gw.url}/v1/agents/helper:replay/turns`, { input: "ignored" }, {
      "last-event-id": cut.id!
    })
    expect(again.status).toBe(200)
    const replayed = await readSse(again)
    expect(replayed.map((e) => [e.id, e.event, e.data])).toEqual(all.slice(3).map((e) => [e.id, e.event, e.data]))
    // GET works too (what a browser EventSource does)
    const viaGet = await fetch(`${gw.url}/v1/agents/helper:replay/turns`, { headers: { "last-event-id": all[0]!.id! } })
    expect((await readSse(viaGet)).length).toBe(all.length - 1)
    const status = await (await fetch(`${gw.url}/v1/agents/helper:replay`)).json() as { turns: number }
    expect(status.turns).toBe(1)
  })

  it("a reconnect after dropping the connection mid-turn gets the rest of the live turn", async () => {
    const r = await post(`${gw.url}/v1/agents/helper:drop/turns`, { input: "what time is it", stream: true })
    const head = await readSse(r, 2)
    const rest = await readSse(
      await post(`${gw.url}/v1/agents/helper:drop/turns`, {}, { "last-event-id": head[1]!.id! })
    )
    expect(rest.at(-1)?.event).toBe("done")
    expect(rest[0]!.id).toBe(`${head[1]!.id!.split(".")[0]}.3`)
  })

  it(
    "a HEAD of a reconnect (GET with Last-Event-ID) holds no open stream once answered: a drain after it does not wait",
    async () => {
      // a leaked stream would hold the drain for its 60 s timeout, past this test's
      const own = await start({ config: { defaults: { gateway: { drain: { timeout: 60_000 } } } } })
      try {
        const all = await readSse(await post(`${own.url}/v1/agents/helper:head/turns`, { input: "hi", stream: true }))
        for (let i = 0; i < 3; i++) {
          const head = await fetch(`${own.url}/v1/agents/helper:head/turns`, {
            method: "HEAD",
            headers: { "last-event-id": all[0]!.id! }
          })
          expect(head.status).toBe(200)
          expect(head.headers.get("content-type")).toContain("text/event-stream")
        }
        await Effect.runPromise(own.gateway.drain)
        expect(await Effect.runPromise(own.gateway.inFlight)).toEqual({ requests: 0, streams: 0 })
      } finally {
        await own.stop()
      }
    },
    10_000
  )

  it("an unknown Last-Event-ID is a 404, another agent's too", async () => {
    expect((await post(`${gw.url}/v1/agents/helper:x/turns`, {}, { "last-event-id": "nope.1" })).status).toBe(404)
    const r = await post(`${gw.url}/v1/agents/helper:own/turns`, { input: "hi", stream: true })
    const events = await readSse(r)
    expect((await post(`${gw.url}/v1/agents/helper:other/turns`, {}, { "last-event-id": events[0]!.id! })).status).toBe(
      404
    )
  })

  it("decodes the body: typed 400s naming the path", async () => {
    const noInput = await post(`${gw.url}/v1/agents/helper:bad/turns`, { stream: true })
    expect(noInput.status).toBe(400)
    expect(((await noInput.json()) as { error: { param: string } }).error.param).toBe("input")
    const badSteps = await post(`${gw.url}/v1/agents/helper:bad/turns`, { input: "hi", maxSteps: 0 })
    expect(badSteps.status).toBe(400)
    expect(((await badSteps.json()) as { error: { param: string } }).error.param).toBe("maxSteps")
    const notJson = await post(`${gw.url}/v1/agents/helper:bad/turns`, "{")
    expect(notJson.status).toBe(400)
    const controlId = await post(`${gw.url}/v1/agents/${encodeURIComponent("helper:\u0001")}/turns`, { input: "hi" })
    expect(controlId.status).toBe(400)
    expect(((await controlId.json()) as { error: { code: string } }).error.code).toBe("invalid_agent_id")
  })

  it("uses the API auth of /v1/*: 401 without a key", async () => {
    expect((await post(`${keyed.url}/v1/agents/helper:k/turns`, { input: "hi" })).status).toBe(401)
    expect((await fetch(`${keyed.url}/v1/agents/helper:k`)).status).toBe(401)
    const ok = await post(`${keyed.url}/v1/agents/helper:k/turns`, { input: "hi" }, { authorization: "Bearer sk-test" })
    expect(ok.status).toBe(200)
  })

  it("the routes share /v1/*'s drain, maintenance and body limit (same 503s and 413 as the chat route)", async () => {
    const admin = { authorization: "Bearer admin-key", "content-type": "application/json" }
    const own = await start({
      config: {
        defaults: {
          gateway: {
            accessLog: false,
            maxBodyBytes: 2_000,
            auth: { adminKey: "admin-key" },
            drain: { timeout: 1_000, deregistrationDelay: 50 }
          }
        }
      },
      // a slow chat stream keeps the drain open while the refusals are checked
      providers: { scripted: { chunkLatency: "50 millis", chunkSize: 4, fallback: { text: "abcd".repeat(100) } } }
    })
    try {
      const turn = (body: unknown) => post(`${own.url}/v1/agents/helper:gates/turns`, body)
      const chat = (content: string) =>
        post(`${own.url}/v1/chat/completions`, { model: "fast", messages: [{ role: "user", content }] })
      // body limit: the same 413 as the chat route
      const big = "x".repeat(3_000)
      const tooBig = await turn({ input: big })
      expect(tooBig.status).toBe(413)
      expect((await chat(big)).status).toBe(413)
      // a chunked body that grows past the limit is the same 413, not a 400 for invalid JSON
      const chunkedTurn = await postChunked(`${own.url}/v1/agents/helper:gates/turns`, { input: big })
      expect(chunkedTurn.status).toBe(413)
      expect(await chunkedTurn.json()).toMatchObject({ error: { code: "request_too_large" } })
      expect(
        (await postChunked(`${own.url}/v1/chat/completions`, {
          model: "fast",
          messages: [{ role: "user", content: big }]
        })).status
      ).toBe(413)
      expect((await turn({ input: "hi" })).status).toBe(200)
      // maintenance: the same 503 as the chat route, for turns and for the status route
      const on = await fetch(`${own.url}/admin/maintenance`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ enabled: true })
      })
      expect(on.status).toBe(200)
      const inMaintenance = await turn({ input: "hi" })
      expect(inMaintenance.status).toBe(503)
      expect(((await inMaintenance.json()) as { error: { code: string } }).error.code).toBe("maintenance")
      expect((await fetch(`${own.url}/v1/agents/helper:gates`)).status).toBe(503)
      expect((await chat("hi")).status).toBe(503)
      await fetch(`${own.url}/admin/maintenance`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ enabled: false })
      })
      expect((await turn({ input: "hi" })).status).toBe(200)
      // drain: once closing, turns are refused like chat calls (503 shutting_down)
      const open = post(`${own.url}/v1/chat/completions`, {
        model: "fast",
        stream: true,
        messages: [{ role: "user", content: "go" }]
      }).then((r) => r.text())
      while ((await Effect.runPromise(own.gateway.inFlight)).streams < 1) await pause()
      const draining = Effect.runPromise(own.gateway.drain)
      while ((await Effect.runPromise(own.gateway.phase)) !== "closing") await pause()
      const refused = await turn({ input: "hi" })
      expect(refused.status).toBe(503)
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("shutting_down")
      expect((await fetch(`${own.url}/v1/agents/helper:gates`)).status).toBe(503)
      await open
      await draining
    } finally {
      await own.stop()
    }
  }, 20_000)

  it("a streamed turn the agent refuses (its queue is full) is a plain 429 with retry-after, as a JSON turn", async () => {
    const slow = ScriptedProvider.makeUnsafe({
      rules: [],
      latency: "500 millis",
      fallback: { text: "rested" }
    })
    const Slow = LlmAgent.make({ name: "slow", model: "fast", llm: slow, memory: "none", maxQueuedTurns: 1 })
    const scope = Effect.runSync(Scope.make())
    const layer = GatewayAgents.withAgents({ port: 0 }).pipe(
      Layer.provide(LlmAgents.layer({ agents: [Slow], default: "slow" })),
      Layer.provide(Troupe.layerTest({ config: { defaults: { gateway: { accessLog: false } } } }))
    )
    const own = Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), Gateway)
    try {
      const url = `${own.address.url}/v1/agents/slow:q/turns`
      const running = [post(url, { input: "one", stream: true }), post(url, { input: "two", stream: true })]
      // the agent took both turns: one runs, one waits
      for (let i = 0; i < 200; i++) {
        const status = await (await fetch(`${own.address.url}/v1/agents/slow:q`)).json()
        if (status.queued === 1) break
        await pause()
      }
      const streamed = await post(url, { input: "three", stream: true })
      expect(streamed.status).toBe(429)
      expect(streamed.headers.get("retry-after")).toBe("1")
      expect(streamed.headers.get("content-type")).toContain("application/json")
      expect(await streamed.json()).toMatchObject({ error: { code: "agent_busy", type: "rate_limit_error" } })
      const plain = await post(url, { input: "four" })
      expect(plain.status).toBe(429)
      expect(plain.headers.get("retry-after")).toBe("1")
      await plain.text()
      // the accepted turns still stream to their end
      for (const r of running) {
        const response = await r
        expect(response.status).toBe(200)
        expect((await readSse(response)).at(-1)?.event).toBe("done")
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("fuzz: any JSON body is answered with 200 or a typed 4xx, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (body) => {
        const r = await post(`${gw.url}/v1/agents/helper:fuzz/turns`, JSON.stringify(body))
        await r.text()
        expect([200, 400]).toContain(r.status)
      }),
      { numRuns: 40 }
    )
  })
})

describe("Gateway agents: GET, DELETE, cancel", () => {
  it("GET /v1/agents/{id} reports the status; DELETE stops the agent", async () => {
    await post(`${gw.url}/v1/agents/helper:life/turns`, { input: "hi" })
    const alive = await (await fetch(`${gw.url}/v1/agents/helper:life`)).json() as { alive: boolean; turns: number }
    expect(alive).toMatchObject({ alive: true, turns: 1 })
    const stopped = await (await fetch(`${gw.url}/v1/agents/helper:life`, { method: "DELETE" })).json()
    expect(stopped).toEqual({ id: "helper:life", stopped: true })
    const after = await (await fetch(`${gw.url}/v1/agents/helper:life`)).json() as { alive: boolean }
    expect(after.alive).toBe(false)
    const again = await (await fetch(`${gw.url}/v1/agents/helper:life`, { method: "DELETE" })).json()
    expect(again).toEqual({ id: "helper:life", stopped: false })
  })

  it("POST /v1/agents/{id}/cancel interrupts the in-flight turn: the stream ends with an error event turn_cancelled", async () => {
    const r = await post(`${gw.url}/v1/agents/helper:cancel/turns`, { input: "rest", stream: true })
    const reading = readSse(r)
    // wait until the tool runs
    for (let i = 0; i < 100; i++) {
      const s = await (await fetch(`${gw.url}/v1/agents/helper:cancel`)).json() as { state: string }
      if (s.state === "running") break
      await new Promise((resolve) => {
        setTimeout(resolve, 10)
      })
    }
    const cancelled = await (await post(`${gw.url}/v1/agents/helper:cancel/cancel`, {})).json()
    expect(cancelled).toEqual({ id: "helper:cancel", cancelled: true })
    const events = await reading
    const last = events.at(-1)!
    expect(last.event).toBe("error")
    expect((JSON.parse(last.data) as { error: { code: string } }).error.code).toBe("turn_cancelled")
    expect(last.id).toBeDefined()
    const idle = await (await post(`${gw.url}/v1/agents/helper:nobody/cancel`, {})).json()
    expect(idle).toEqual({ id: "helper:nobody", cancelled: false })
  })
})

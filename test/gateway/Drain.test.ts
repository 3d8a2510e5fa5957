import { Effect } from "effect"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { post, startGateway } from "./support.ts"

const streamed = (url: string) =>
  post(`${url}/v1/chat/completions`, { model: "fast", stream: true, messages: [{ role: "user", content: "go" }] })
    .then(async (r) => ({ status: r.status, body: await r.text() }))

const waitFor = async (cond: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not reached")
    await new Promise((r) => {
      setTimeout(r, 10)
    })
  }
}

describe("Gateway: graceful shutdown with drain", () => {
  it("SIGTERM during 100 in-flight streamed requests: every one completes and nothing new is accepted", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/serve-slow.ts", import.meta.url))
    const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
    try {
      const lines = createInterface({ input: child.stdout! })
      const url = await new Promise<string>((resolve) => {
        lines.on("line", (l) => l.startsWith("LISTENING ") && resolve(l.slice(10)))
      })
      const inFlight = Array.from({ length: 100 }, () => streamed(url))
      await waitFor(async () => {
        const text = await (await fetch(`${url}/metrics`)).text()
        return Number(/troupe_gateway_sse_streams_open (\d+)/.exec(text)?.[1] ?? 0) >= 100
      })
      child.kill("SIGTERM")
      await waitFor(async () => (await fetch(`${url}/health/ready`).then((r) => r.status, () => 0)) !== 200)
      const late = await post(`${url}/v1/chat/completions`, {
        model: "fast",
        messages: [{ role: "user", content: "late" }]
      })
        .then((r) => r.status, () => "refused")
      expect([503, "refused"]).toContain(late)
      const results = await Promise.all(inFlight)
      expect(results.every((r) => r.status === 200 && r.body.trimEnd().endsWith("data: [DONE]"))).toBe(true)
      expect(results.filter((r) => r.body.includes("shutting_down"))).toHaveLength(0)
      const [code] = await once(child, "exit")
      expect([0, 130]).toContain(code) // runMain exits 130 after a signal interrupted the program
      expect(await fetch(`${url}/health/live`).then(() => "answered", () => "refused")).toBe("refused")
    } finally {
      child.kill("SIGKILL")
    }
  }, 30_000)

  it(
    "streams still open at the drain timeout end with a shutting_down event; readiness is false while draining",
    async () => {
      const gw = await startGateway({
        config: { defaults: { gateway: { accessLog: false, drain: { timeout: 150, deregistrationDelay: 100 } } } },
        providers: { scripted: { chunkLatency: "50 millis", chunkSize: 4, fallback: { text: "abcd".repeat(100) } } }
      })
      try {
        const open = streamed(gw.url)
        await waitFor(async () => (await Effect.runPromise(gw.gateway.inFlight)).streams === 1)
        const draining = Effect.runPromise(gw.gateway.drain)
        await waitFor(async () => (await Effect.runPromise(gw.gateway.phase)) === "draining")
        expect((await fetch(`${gw.url}/health/ready`)).status).toBe(503)
        // during the deregistration delay requests are still served
        expect((await fetch(`${gw.url}/v1/models`)).status).toBe(200)
        await waitFor(async () => (await Effect.runPromise(gw.gateway.phase)) === "closing")
        const refused = await fetch(`${gw.url}/v1/models`)
        expect(refused.status).toBe(503)
        expect((await refused.json()).error.code).toBe("shutting_down")
        const result = await open
        expect(result.body).toContain("shutting_down")
        await draining
      } finally {
        await gw.stop()
      }
    },
    20_000
  )

  it(
    "an open /admin/events stream is counted and ends when the gateway stops accepting: the drain does not wait for it",
    async () => {
      const gw = await startGateway({
        config: {
          defaults: {
            gateway: {
              accessLog: false,
              auth: { adminKey: "admin-key" },
              drain: { timeout: 5_000, deregistrationDelay: 0 }
            }
          }
        }
      })
      try {
        const events = await fetch(`${gw.url}/admin/events?interval=60000`, {
          headers: { authorization: "Bearer admin-key" }
        })
        expect(events.status).toBe(200)
        const body = events.text()
        await waitFor(async () => (await Effect.runPromise(gw.gateway.inFlight)).streams === 1)
        const started = Date.now()
        await Effect.runPromise(gw.gateway.drain)
        expect(Date.now() - started).toBeLessThan(4_000) // not the 5 s drain timeout
        const text = await body
        expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: .*"code":"shutting_down"/)
        expect((await Effect.runPromise(gw.gateway.inFlight)).streams).toBe(0)
      } finally {
        await gw.stop()
      }
    },
    20_000
  )

  // real time, as the drain tests above: the former limit (initial delay + timeout + 10 s) is what must not cut it
  it(
    "drain settings raised at run time are honoured in full: releasing the layer returns only after the live deregistration delay, with the server closed",
    async () => {
      const gw = await startGateway({
        config: {
          defaults: {
            gateway: {
              accessLog: false,
              auth: { adminKey: "admin-key" },
              drain: { deregistrationDelay: 0, timeout: 0 }
            }
          }
        }
      })
      const patched = await fetch(`${gw.url}/admin/config`, {
        method: "PATCH",
        headers: { authorization: "Bearer admin-key", "content-type": "application/json" },
        body: JSON.stringify({ gateway: { drain: { deregistrationDelay: 10_500 } } })
      })
      expect(patched.status).toBe(200)
      const started = Date.now()
      await gw.stop()
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_500)
      expect(await Effect.runPromise(gw.gateway.phase)).toBe("stopped")
      expect(await fetch(`${gw.url}/health/live`).then(() => "answered", () => "refused")).toBe("refused")
    },
    20_000
  )
})

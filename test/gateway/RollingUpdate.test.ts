/**
 * Rolling updates: two gateway processes on one Redis (the real server, a unique key prefix per run) share rate
 * limits, the response cache and the circuit breakers; starting the second and draining the first (SIGTERM) while a client sends
 * requests to both through a small loopback round-robin (which, like a load balancer, sends only to backends whose
 * `/health/ready` answers 200) fails no request.
 */
import { NodeRedis } from "@effect/platform-node"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import { recommendedNodeRedisOptions } from "../../src/cache/RedisTier.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl } from "../support/redis.ts"
import { post } from "./support.ts"

const prefix = `troupe-test:rolling:${process.pid}:${Date.now()}:`
const fixture = fileURLToPath(new URL("./fixtures/serve-redis.ts", import.meta.url))
const children: Array<ChildProcess> = []

const startProcess = async (): Promise<{ child: ChildProcess; url: string }> => {
  const child = spawn(process.execPath, [fixture, redisUrl, prefix], { stdio: ["ignore", "pipe", "inherit"] })
  children.push(child)
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (l) => l.startsWith("LISTENING ") && resolve(l.slice(10)))
    child.once("exit", (code) => reject(new Error(`gateway process exited with ${code}`)))
  })
  return { child, url }
}

const chat = (url: string, content: string, model = "fast") =>
  post(`${url}/v1/chat/completions`, { model, messages: [{ role: "user", content }] })

/** A loopback round-robin over the backends whose readiness probe answers 200 (polled every 20 ms). */
const roundRobin = async (backends: Array<string>) => {
  const ready = new Set<string>()
  let next = 0
  const poll = setInterval(() => {
    for (const b of backends) {
      fetch(`${b}/health/ready`).then((r) => {
        if (r.status === 200) ready.add(b)
        else ready.delete(b)
        return r.body?.cancel()
      }, () => ready.delete(b))
    }
  }, 20)
  const server: Server = createServer(async (req, res) => {
    const chunks: Array<Buffer> = []
    for await (const c of req) chunks.push(c as Buffer)
    const targets = [...ready]
    const target = targets[next++ % Math.max(1, targets.length)]
    if (target === undefined) return res.writeHead(502).end("no backend ready")
    try {
      const r = await fetch(`${target}${req.url}`, {
        method: req.method!,
        headers: { "content-type": "application/json" },
        body: Buffer.concat(chunks)
      })
      res.writeHead(r.status, {
        "content-type": r.headers.get("content-type") ?? "application/json",
        "x-backend": target
      }).end(Buffer.from(await r.arrayBuffer()))
    } catch {
      res.writeHead(502).end("backend failed")
    }
  })
  await new Promise<void>((r) => {
    server.listen(0, "127.0.0.1", r)
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ready,
    add: (b: string) => backends.push(b),
    close: () => {
      clearInterval(poll)
      server.close()
    }
  }
}

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL")
  await Effect.runPromise(
    cleanupRedisPrefix(prefix).pipe(
      Effect.provide(NodeRedis.layer({ url: redisUrl, ...recommendedNodeRedisOptions })),
      Effect.ignore
    )
  )
})

describeRedis("Gateway: rolling updates on one Redis", () => {
  it(
    "two processes share rate limits, the response cache and breakers; draining the first while the second serves fails no request",
    async () => {
      const a = await startProcess()
      const b = await startProcess()

      // the response cache is shared (Redis L2): B answers A's question from the cache
      const first = await chat(a.url, "the shared question")
      expect(first.headers.get("x-troupe-cached")).toBe("false")
      const second = await chat(b.url, "the shared question")
      expect(second.status).toBe(200)
      expect(second.headers.get("x-troupe-cached")).toBe("true")

      // rate limits are shared: 10 per model across both processes, the 11th is refused by either
      const limited = "openai:gpt-limited"
      const statuses: Array<number> = []
      for (let i = 0; i < 10; i++) {
        statuses.push((await chat(i % 2 === 0 ? a.url : b.url, `limited ${i}`, limited)).status)
      }
      expect(statuses.every((s) => s === 200)).toBe(true)
      const refusedA = await chat(a.url, "limited 10", limited)
      const refusedB = await chat(b.url, "limited 11", limited)
      expect([refusedA.status, refusedB.status]).toEqual([429, 429])
      expect(refusedA.headers.get("retry-after")).not.toBeNull()

      // breakers are shared: two overloads through A open the flaky provider's circuit, and B refuses at once
      const flaky = "flaky:gpt-x"
      expect((await chat(b.url, "fine", flaky)).status).toBe(200)
      for (let i = 0; i < 2; i++) expect((await chat(a.url, "overloaded", flaky)).status).toBe(503)
      const open = await chat(b.url, "fine again", flaky)
      expect(open.status).toBe(503)
      expect(await open.text()).toMatch(/circuit|breaker/i)

      // the rolling update: A serves, B joins, A drains; the client never sees a failure
      const lb = await roundRobin([a.url])
      const waitFor = async (cond: () => boolean) => {
        const deadline = Date.now() + 10_000
        while (!cond()) {
          if (Date.now() > deadline) throw new Error("condition not reached")
          await new Promise((r) => {
            setTimeout(r, 10)
          })
        }
      }
      await waitFor(() => lb.ready.has(a.url)) // the load balancer has seen A ready
      const results: Array<{ status: number; backend: string | null; body?: string }> = []
      let sending = true
      let n = 0
      const client = (async () => {
        while (sending) {
          const i = n++
          // a fresh model per 8 requests keeps every key under the limit of 10
          const r = await chat(lb.url, `rolling ${i}`, `openai:gpt-rolling-${Math.floor(i / 8)}`)
          const body = await r.text()
          results.push({ status: r.status, backend: r.headers.get("x-backend"), ...(r.status !== 200 ? { body } : {}) })
        }
      })()
      await waitFor(() => results.length >= 10)
      lb.add(b.url)
      await waitFor(() => results.some((r) => r.backend === b.url))
      a.child.kill("SIGTERM")
      const [code] = await once(a.child, "exit")
      expect([0, 130]).toContain(code)
      const afterDrain = results.length
      await waitFor(() => results.length >= afterDrain + 10)
      sending = false
      await client
      lb.close()

      expect(results.length).toBeGreaterThan(20)
      expect(results.filter((r) => r.status !== 200)).toEqual([])
      expect(results.some((r) => r.backend === a.url)).toBe(true)
      expect(results.slice(-10).every((r) => r.backend === b.url)).toBe(true)
      b.child.kill("SIGTERM")
      await once(b.child, "exit")
    },
    60_000
  )
})

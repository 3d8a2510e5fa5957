/**
 * Gateway benchmarks (autocannon, 32 connections, keep-alive, loopback, 4 s per row):
 *
 * - `floor.fake-provider`: a bare `node:http` fake OpenAI server answering a fixed chat completion at once, in a child
 *   process of its own (so neither troupe's gateway, which runs in this process, nor Portkey's, in another child,
 *   shares its event loop with the upstream server: like for like).
 * - `gateway.chat.http`: troupe's gateway with its OpenAI-compatible provider pointed at that fake server (response
 *   cache and troupe's rate limit off, so every request reaches the provider — like for like with the peer).
 * - `peer.portkey-gateway`: Portkey's gateway from npm (`@portkey-ai/gateway`, a child process) in front of the same
 *   fake server through `x-portkey-provider: openai` / `x-portkey-custom-host`.
 * - `floor.http-proxy`: a bare `node:http` server in this process forwarding each request to the same fake server over
 *   a keep-alive `http.Agent` (64 sockets) and relaying its answer (bodies read whole, sent with their length), the
 *   median of three runs, beside `peer.portkey-gateway`: a relay on one event loop, with no decoding, auth, limits
 *   or telemetry (the note of `gateway.chat.http` has the gateway's share of it).
 * - `floor.http-server`: a bare `NodeHttpServer` route returning the same JSON as `gateway.chat`.
 * - `floor.http-api`: effect's `HttpApi` with one endpoint, the gateway's `ChatCompletionRequest` payload and a handler
 *   answering the same JSON at once (no middleware, no auth, no pipeline), beside `floor.http-server`: the least a
 *   gateway on `HttpApi` does per request (the note of `gateway.chat` has the gateway's share of it).
 * - `gateway.chat`: the gateway over the scripted zero-latency provider (rate limit and cache off: the same question
 *   would be a cache hit, and 60 requests per minute is the default limit).
 * - `gateway.rss-after-10k`: the process RSS after those runs (more than 10,000 requests).
 * - `gateway.stream-ttft`: time to the first SSE byte of a `stream: true` chat completion through the gateway, its
 *   OpenAI-compatible provider pointed at a fake server that streams (first chunk at once, the rest held), beside
 *   `provider.stream-ttft`, the same fake server's own time to first byte; 300 sequential requests each, interleaved
 *   (provider, bare proxy, gateway); the note has the added time over the provider (median of pairs).
 * - `floor.stream-proxy-ttft`: the same through the bare `node:http` proxy (relaying the upstream body as it comes):
 *   the least time a proxy in this process adds to the first byte.
 * - `gateway.sse-stream-bytes`: heap per open SSE stream through the gateway (200 streams held open), beside
 *   `provider.sse-stream-bytes`, the same streams opened on the fake server directly (client and server sides are in
 *   this process in both rows; the difference is the gateway's).
 *
 * Rows report requests/s (median = average of the run) with p50/p99 latency in the note; ratios against the
 * floors of the same run.
 */
import { NodeHttpServer } from "@effect/platform-node"
import autocannon from "autocannon"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { spawn } from "node:child_process"
import { Agent, createServer, request as httpRequest } from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { Troupe } from "../src/app/index.ts"
import type { TroupeOptions } from "../src/app/index.ts"
import { Gateway } from "../src/gateway/index.ts"
import { ChatCompletionRequest } from "../src/gateway/OpenAiSchema.ts"
import type { BenchRow } from "./harness.ts"
import { heapUsedAfterGc } from "./harness.ts"

const body = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "What is the capital of Norway?" }] })
const completion = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "Oslo." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 }
})

const load = (url: string, headers: Record<string, string> = {}) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({
      url,
      method: "POST",
      connections: 32,
      duration: 4,
      workers: 1,
      body,
      headers: { "content-type": "application/json", ...headers }
    }, (e, r) => e ? reject(e) : resolve(r))
  })

const row = (id: string, r: autocannon.Result, note: string, baseline?: string): BenchRow => ({
  id,
  unit: "req/s",
  median: Math.round(r.requests.average),
  p99: r.latency.p99,
  ...(baseline !== undefined ? { baseline } : {}),
  note: `${note}; p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors + r.non2xx}`
})

const startGateway = async (troupe: TroupeOptions) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(Gateway.layer({ port: 0 }).pipe(Layer.provide(Troupe.layer(troupe))), scope)
  )
  return {
    url: Context.get(context, Gateway).address.url,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/**
 * The bare proxy floor: `node:http` in, `node:http` out over a keep-alive agent; bodies are read whole and sent with
 * their length (JSON), an SSE answer relayed as it arrives. No decoding, auth, limits or telemetry.
 */
const startBareProxy = async (upstream: string) => {
  const target = new URL(upstream)
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const server = createServer((req, res) => {
    const fail = () => (res.headersSent ? res.destroy() : res.writeHead(502).end())
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const out = httpRequest({
        agent,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          "content-type": "application/json",
          "content-length": String(body.length),
          authorization: "Bearer sk-fake"
        }
      }, (up) => {
        const type = up.headers["content-type"] ?? "application/json"
        up.on("error", fail)
        if (type.startsWith("text/event-stream")) { // relayed as it arrives
          res.writeHead(up.statusCode ?? 502, { "content-type": type })
          up.pipe(res)
          return
        }
        const parts: Array<Buffer> = [] // a JSON answer: read whole, sent with its length
        up.on("data", (chunk: Buffer) => parts.push(chunk))
        up.on("end", () => {
          const answer = Buffer.concat(parts)
          res.writeHead(up.statusCode ?? 502, { "content-type": type, "content-length": String(answer.length) })
          res.end(answer)
        })
      })
      out.on("error", fail)
      out.end(body)
    })
    res.on("error", () => res.destroy())
  })
  await new Promise<void>((r) => {
    server.listen(0, "127.0.0.1", r)
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      agent.destroy()
      server.closeAllConnections()
      server.close()
    }
  }
}

/** Serves an HTTP app layer on a fresh port in this process; resolves with its URL and its scope. */
const serveFloor = (app: Layer.Layer<never, never, Layer.Success<ReturnType<typeof NodeHttpServer.layer>>>) =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(
      app.pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))),
      scope
    )
    const address = Context.get(ctx, HttpServer.HttpServer).address
    return { url: `http://127.0.0.1:${"port" in address ? address.port : 0}`, scope }
  }))

const respond = Effect.succeed(HttpServerResponse.text(completion, { contentType: "application/json" }))

/** `floor.http-api`: one HttpApi endpoint with the gateway's payload schema and a handler that answers at once. */
const FloorApi = HttpApi.make("floor").add(
  HttpApiGroup.make("openai").add(
    HttpApiEndpoint.post("chat", "/v1/chat/completions", { payload: ChatCompletionRequest, success: Schema.Unknown })
  )
)
const floorApi = HttpRouter.serve(
  HttpApiBuilder.layer(FloorApi).pipe(
    Layer.provide(HttpApiBuilder.group(FloorApi, "openai", (handlers) => handlers.handle("chat", () => respond)))
  ),
  { disableListenLog: true, disableLogger: true }
)

/** The fake OpenAI server as a child process; resolves with its URL once it listens. */
const startFakeProvider = async () => {
  const script = `
    const { createServer } = require("node:http")
    const completion = ${JSON.stringify(completion)}
    const server = createServer((req, res) => {
      req.resume()
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(completion))
    })
    server.listen(0, "127.0.0.1", () => console.log("LISTENING " + server.address().port))`
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /LISTENING (\d+)/.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    child.once("exit", (code) => reject(new Error(`fake provider exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, close: () => child.kill("SIGKILL") }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const fake = await startFakeProvider()
  const fakeUrl = fake.url
  const quiet = { gateway: { accessLog: false } }
  const pipeline = { cache: false, rateLimit: false } as const
  try {
    rows.push(
      row("floor.fake-provider", await load(`${fakeUrl}/v1/chat/completions`), "fake OpenAI server hit directly")
    )

    const proxy = await startBareProxy(fakeUrl)
    let proxied: autocannon.Result
    try { // the median of three runs: a floor from one 4 s run varies by more than the margin it is read against
      const runs: Array<autocannon.Result> = []
      for (let i = 0; i < 3; i++) runs.push(await load(`${proxy.url}/v1/chat/completions`))
      runs.sort((a, b) => a.requests.average - b.requests.average)
      proxied = runs[1]!
    } finally {
      proxy.close()
    }
    rows.push(row(
      "floor.http-proxy",
      proxied,
      "bare node:http proxy (keep-alive agent, 64 sockets, bodies read whole and sent with their length) → same fake server, median of 3 runs: a relay on one event loop",
      "peer.portkey-gateway"
    ))

    const http = await startGateway({
      config: {
        env: {},
        defaults: {
          ...quiet,
          providers: { openai: { baseUrl: `${fakeUrl}/v1`, apiKey: "sk-fake", pool: { connections: 64 } } }
        }
      },
      pipeline
    })
    const throughGateway = await load(`${http.url}/v1/chat/completions`)
    rows.push(
      row(
        "gateway.chat.http",
        throughGateway,
        `gateway → OpenAI-compatible provider → fake server; ${
          (throughGateway.requests.average / proxied.requests.average).toFixed(2)
        }x floor.http-proxy`,
        "peer.portkey-gateway"
      )
    )
    await http.stop()

    const portkeyEntry = createRequire(import.meta.url).resolve("@portkey-ai/gateway/build/start-server.js")
    const port = 18787 + Math.floor(Math.random() * 1000)
    const portkey = spawn(process.execPath, [portkeyEntry, `--port=${port}`, "--headless"], {
      stdio: "ignore",
      env: { ...process.env, NODE_ENV: "production" }
    })
    try {
      for (let i = 0; i < 100; i++) {
        const up = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)
        if (up) break
        await new Promise((r) => {
          setTimeout(r, 100)
        })
      }
      rows.push(row(
        "peer.portkey-gateway",
        await load(`http://127.0.0.1:${port}/v1/chat/completions`, {
          "x-portkey-provider": "openai",
          "x-portkey-custom-host": `${fakeUrl}/v1`,
          authorization: "Bearer sk-fake"
        }),
        "Portkey's gateway (npm) → same fake server"
      ))
    } finally {
      portkey.kill("SIGKILL")
    }

    const floor = await serveFloor(
      HttpRouter.serve(HttpRouter.add("POST", "/v1/chat/completions", respond), {
        disableListenLog: true,
        disableLogger: true
      })
    )
    const bareServer = await load(`${floor.url}/v1/chat/completions`).finally(() =>
      Effect.runPromise(Scope.close(floor.scope, Exit.void))
    )
    rows.push(row("floor.http-server", bareServer, "bare NodeHttpServer route, same JSON"))
    const api = await serveFloor(floorApi)
    const onHttpApi = await load(`${api.url}/v1/chat/completions`).finally(() =>
      Effect.runPromise(Scope.close(api.scope, Exit.void))
    )
    rows.push(
      row(
        "floor.http-api",
        onHttpApi,
        "effect HttpApi, one endpoint with the gateway's ChatCompletionRequest payload, answering the same JSON at once (the least a gateway on HttpApi does per request)",
        "floor.http-server"
      )
    )

    const scripted = await startGateway({ config: { env: {}, defaults: quiet }, providers: { scripted: {} }, pipeline })
    const scriptedRun = await load(`${scripted.url}/v1/chat/completions`)
    rows.push(
      row(
        "gateway.chat",
        scriptedRun,
        `gateway over the scripted zero-latency provider; ${
          (scriptedRun.requests.average / onHttpApi.requests.average).toFixed(2)
        }x floor.http-api`,
        "floor.http-server"
      )
    )
    await scripted.stop()
    rows.push({
      id: "gateway.rss-after-10k",
      unit: "bytes",
      median: process.memoryUsage().rss,
      note: "process RSS after the runs above (> 10,000 requests)"
    })
    rows.push(...await streamRows(quiet, pipeline))
  } finally {
    fake.close()
  }
  return rows
}

const streamBody = JSON.stringify({
  model: "fast",
  stream: true,
  messages: [{ role: "user", content: "Stream me a story" }]
})
/** One OpenAI chat-completion chunk as an SSE event (also used by stream.bench.ts). */
export const chunk = (delta: Record<string, string>, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o-mini",
      choices: [{ index: 0, delta, finish_reason: finish }]
    })
  }\n\n`

/** Time to first body byte of a streamed POST, then the rest read (or left open when `hold`). */
const firstByte = async (url: string, hold = false) => {
  const started = performance.now()
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-fake" },
    body: streamBody
  })
  const reader = response.body!.getReader()
  await reader.read()
  const ttft = performance.now() - started
  if (!hold) { while (!(await reader.read()).done) { /* drain */ } }
  return { ttft, reader }
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

export const streamRows = async (quiet: object, pipeline: object): Promise<Array<BenchRow>> => {
  let held: Array<() => void> = []
  let holdMode = false
  const streaming = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      res.write(chunk({ role: "assistant", content: "Once" }))
      const finish = () => res.end(chunk({ content: " upon a time." }) + chunk({}, "stop") + "data: [DONE]\n\n")
      if (holdMode) held.push(finish)
      else setTimeout(finish, Number(process.env["TTFT_REST_MS"] ?? 1))
    })
  })
  await new Promise<void>((r) => {
    streaming.listen(0, "127.0.0.1", r)
  })
  const providerUrl = `http://127.0.0.1:${(streaming.address() as AddressInfo).port}`
  const proxy = await startBareProxy(providerUrl)
  const gw = await startGateway({
    config: {
      env: {},
      defaults: {
        ...quiet,
        providers: { openai: { baseUrl: `${providerUrl}/v1`, apiKey: "sk-fake", pool: { connections: 256 } } }
      }
    },
    pipeline
  }).catch((e: unknown) => {
    proxy.close()
    streaming.close()
    throw e
  })
  try {
    const direct: Array<number> = []
    const bare: Array<number> = []
    const through: Array<number> = []
    const deadline = performance.now() + Number(process.env["TTFT_BUDGET_MS"] ?? 15_000)
    for (let i = 0; i < 20; i++) { // warm-up
      await firstByte(`${providerUrl}/v1/chat/completions`)
      await firstByte(`${proxy.url}/v1/chat/completions`)
      await firstByte(`${gw.url}/v1/chat/completions`)
    }
    const paths: ReadonlyArray<readonly [string, Array<number>]> = [
      [providerUrl, direct],
      [proxy.url, bare],
      [gw.url, through]
    ]
    for (let i = 0; i < 300 && performance.now() < deadline; i++) {
      // the order rotates each round, so no path always follows the gateway's leftover work
      for (let j = 0; j < 3; j++) {
        const [url, samples] = paths[(i + j) % 3]!
        samples.push((await firstByte(`${url}/v1/chat/completions`)).ttft)
      }
    }
    const d = median(direct)
    const g = median(through)
    const added = median(through.map((t, i) => t - (direct[i] ?? 0)))
    const proxyAdded = median(bare.map((t, i) => t - (direct[i] ?? 0)))
    const round3 = (x: number) => Math.round(x * 1000) / 1000
    const rows: Array<BenchRow> = [
      {
        id: "provider.stream-ttft",
        unit: "ms",
        median: round3(d),
        note: `fake streaming server's own time to first byte, ${direct.length} requests`
      },
      {
        id: "gateway.stream-ttft",
        unit: "ms",
        median: round3(g),
        baseline: "provider.stream-ttft",
        note: `time to first SSE byte through the gateway; added over the provider (median of pairs) ${
          round3(added)
        } ms; ${through.length} requests`
      },
      {
        id: "floor.stream-proxy-ttft",
        unit: "ms",
        median: round3(median(bare)),
        baseline: "provider.stream-ttft",
        note: `time to first byte through the bare node:http proxy; added over the provider (median of pairs) ${
          round3(proxyAdded)
        } ms; ${bare.length} requests`
      }
    ]

    // memory per open SSE stream (streams held open by the fake server, bounded count)
    holdMode = true
    const count = 200
    const bytesPerStream = async (url: string) => {
      const before = await heapUsedAfterGc()
      const readers = await Promise.all(Array.from({ length: count }, () => firstByte(url, true)))
      const after = await heapUsedAfterGc()
      for (const finish of held) finish()
      held = []
      await Promise.all(readers.map(async ({ reader }) => {
        while (!(await reader.read()).done) { /* drain */ }
      }))
      return Math.round((after - before) / count)
    }
    const directBytes = await bytesPerStream(`${providerUrl}/v1/chat/completions`)
    const gatewayBytes = await bytesPerStream(`${gw.url}/v1/chat/completions`)
    rows.push(
      {
        id: "provider.sse-stream-bytes",
        unit: "bytes",
        median: directBytes,
        note: `heap per open stream on the fake server directly (client + server), ${count} streams`
      },
      {
        id: "gateway.sse-stream-bytes",
        unit: "bytes",
        median: gatewayBytes,
        baseline: "provider.sse-stream-bytes",
        note:
          `heap per open SSE stream through the gateway (client + gateway + provider), ${count} streams; the gateway's own share ≈ ${
            gatewayBytes - directBytes
          } bytes`
      }
    )
    return rows
  } finally {
    for (const finish of held) finish()
    await gw.stop()
    proxy.close()
    streaming.close()
  }
}

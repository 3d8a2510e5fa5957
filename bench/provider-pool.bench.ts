/**
 * Provider HTTP connection-pool benchmarks (rows in `bench/results.json`), issue 15 section 4.
 *
 * 64 concurrent SSE streams (`HttpTransport.postSseParts`, the providers' stream path, 4 events and `[DONE]` each,
 * drained) against a loopback server, through
 * the `ProviderPools` client of a provider, measured interleaved in the same run:
 * - `provider.pool.keepalive.c64`: `pool: { connections: 64, keepAlive: true }` — connections reused.
 * - `provider.pool.new-conn.c64`: `pool: { connections: 64, keepAlive: false }` — a new connection per request.
 * Unit: ns per stream (throughput = 1e9 / median streams/s); the new-conn row's ratio is against keep-alive.
 */
import { Context, Effect, Exit, Layer, Schema, Stream } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ConnectionPool } from "../src/config/ProviderConfig.ts"
import { postSseParts } from "../src/llm/internal/HttpTransport.ts"
import { ProviderPools } from "../src/llm/ProviderPools.ts"
import type { BenchRow } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const CONCURRENCY = 64
const STREAMS = 256

const sse = "data: {\"a\":1}\n\n".repeat(4) + "data: [DONE]\n\n"

/** A fold that yields each event's data as a part and finishes at `[DONE]` (no wire decoding: the pool is measured). */
const foldState = () => {
  let finished = false
  return {
    get finished() {
      return finished
    },
    onEvent: (data: string) => {
      if (data === "[DONE]") finished = true
      return Exit.succeed([data])
    },
    end: () => Exit.succeed([])
  }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const server = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.end(sse)
    })
  })
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve)
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions` // TCP: AddressInfo
  const decode = Schema.decodeUnknownSync(ConnectionPool)
  try {
    return await timeInterleaved(
      Effect.gen(function*() {
        // built in the setup scope: the pools live until every round has run
        const pools = Context.get(yield* Layer.build(ProviderPools.layer()), ProviderPools)
        const row = (id: string, provider: string, keepAlive: boolean, note: string, baseline?: string) =>
          Effect.map(pools.clientFor(provider, decode({ connections: CONCURRENCY, keepAlive })), (client) => ({
            id,
            ops: STREAMS,
            note,
            ...(baseline !== undefined ? { baseline } : {}),
            batch: Effect.forEach(
              Array.from({ length: STREAMS }),
              () =>
                Stream.runDrain(
                  postSseParts(client, {
                    provider,
                    url,
                    headers: {},
                    body: { model: "m", stream: true },
                    timeoutMillis: 10_000
                  }, foldState())
                ),
              { concurrency: CONCURRENCY, discard: true }
            )
          }))
        return [
          yield* row(
            "provider.pool.keepalive.c64",
            "keep",
            true,
            "64 concurrent SSE streams, pooled keep-alive connections (ns/stream)"
          ),
          yield* row(
            "provider.pool.new-conn.c64",
            "fresh",
            false,
            "64 concurrent SSE streams, a new connection per request (ns/stream)",
            "provider.pool.keepalive.c64"
          )
        ]
      }),
      { samples: 10, warmup: 2 }
    )
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
    })
  }
}

/**
 * HttpTransport: the HTTP side shared by the providers. Rules tested here beside the provider conformance suites:
 * the body of a non-2xx answer is read for its description only up to `ERROR_BODY_MAX_BYTES`, so a provider (or a
 * proxy in front of it) sending an endless or huge error body never holds the call or its memory.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { HttpClient } from "effect/http"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import { ERROR_BODY_MAX_BYTES, postJson } from "../../../src/llm/internal/HttpTransport.ts"

let server: Server
let url = ""
let written = 0
let closed: Promise<void> = Promise.resolve()

beforeAll(async () => {
  server = createServer((_req, res) => {
    written = 0
    closed = new Promise((resolve) => {
      res.on("close", () => resolve())
    })
    res.writeHead(500, { "content-type": "application/json" })
    res.write("{\"error\":{\"message\":\"overloaded ")
    const chunk = "x".repeat(16 * 1024)
    const more = () => {
      // an endless body: written until the client goes away (bounded at 256 MiB for safety)
      while (!res.destroyed && written < 256 * 1024 * 1024) {
        written += chunk.length
        if (!res.write(chunk)) return void res.once("drain", more)
      }
    }
    more()
  })
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve)
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions` // listening on TCP
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
  })
})

describe("HttpTransport", () => {
  it.live("the body of a non-2xx answer is read only up to ERROR_BODY_MAX_BYTES: an endless error body fails the call at once", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const started = Date.now()
      const exit = yield* Effect.exit(
        postJson(client, { provider: "openai", url, headers: {}, body: {}, timeoutMillis: 30_000 })
      )
      const elapsed = Date.now() - started
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons[0]
        assert.strictEqual(error?._tag, "Fail")
        if (error?._tag === "Fail") {
          const failure = error.error as { readonly _tag: string; readonly description: string }
          assert.strictEqual(failure._tag, "ProviderServerError")
          assert.isAtMost(failure.description.length, 1_000)
        }
      }
      assert.isBelow(elapsed, 10_000)
      yield* Effect.promise(() => closed) // the connection is given up, not read on
      assert.isBelow(written, ERROR_BODY_MAX_BYTES + 8 * 1024 * 1024) // what the socket buffers beyond the cap
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})

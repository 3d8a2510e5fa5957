/**
 * The router-wide middleware's last word: whatever the routes answer as a plain (non-JSON) error becomes an
 * OpenAI-format error of the same status.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Running } from "../support.ts"
import { startGateway } from "../support.ts"

let gw: Running
beforeAll(async () => {
  gw = await startGateway({ pipeline: { retry: false }, config: { defaults: { gateway: { accessLog: false } } } })
})
afterAll(async () => {
  await gw?.stop()
})

describe("Middleware: plain answers become OpenAI-format errors", () => {
  it("a body that is not JSON is a 415 in OpenAI's error shape, as the openai SDK reads it", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded"]) {
      const r = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] })
      })
      expect(r.status).toBe(415)
      expect(r.headers.get("content-type")).toContain("application/json")
      expect(r.headers.get("x-request-id")).toBeTruthy()
      expect((await r.json()).error).toMatchObject({
        type: "invalid_request_error",
        code: "unsupported_media_type",
        param: null
      })
    }
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused", maxRetries: 0 })
    const e = await sdk.post("/embeddings", { body: "x", headers: { "content-type": "text/plain" } })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.APIError)
    expect(e instanceof OpenAI.APIError ? [e.status, e.code] : undefined).toEqual([415, "unsupported_media_type"])
  })
})

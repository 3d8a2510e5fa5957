import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { decodeFilter, describeError, MAX_INPUT_CHARS, MAX_INPUT_DEPTH, sanitizeInput } from "../../src/dlq/index.ts"

const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"

/** `{ items: { items: … { type: "string", default: leaf } } }`, `depth` levels of objects. */
const nested = (depth: number, leaf: unknown = "x"): unknown => {
  let v: unknown = { type: "string", default: leaf }
  for (let i = 1; i < depth; i++) v = { items: v }
  return v
}

describe("DeadLetter", () => {
  it("fuzz: sanitizeInput of any value is JSON, bounded, and never keeps an API key", () => {
    const key = "sk-live-abcdefghijklmnopqrstuvwxyz123456"
    fc.assert(
      fc.property(fc.anything(), fc.string(), (value, text) => {
        const out = JSON.stringify(sanitizeInput({ value, note: `${text} ${key}` }))
        assert.isString(out)
        assert.isAtMost(out.length, MAX_INPUT_CHARS + 64)
        assert.strictEqual(out.includes(key), false)
      }),
      { numRuns: 300 }
    )
  })

  it("sanitizeInput masks a secret at any depth: a key in a tool schema default ten levels down is not kept", () => {
    const call = {
      model: "openai:gpt-4o",
      messages: [{ role: "user", content: "hi" }],
      tools: [{
        name: "t",
        parameters: {
          type: "object",
          properties: {
            a: { type: "object", properties: { b: { type: "object", properties: { c: { default: KEY } } } } }
          }
        }
      }]
    }
    for (const input of [call, nested(20, KEY), nested(MAX_INPUT_DEPTH, KEY)]) {
      const out = JSON.stringify(sanitizeInput(input))
      assert.notInclude(out, KEY)
      assert.include(out, "[REDACTED:")
    }
    // what holds no secret is kept whole, however deep (within MAX_INPUT_DEPTH)
    assert.deepStrictEqual(sanitizeInput(nested(MAX_INPUT_DEPTH)), nested(MAX_INPUT_DEPTH))
  })

  it("sanitizeInput masks the value of a credential-named key in any case (authorization, proxy-authorization, x-api-key, apiKey, api_key, password, secret, token, cookie), even a plain one", () => {
    const hex = "3f9a8c7e6d5b4a3928171615a4b3c2d1e0f9a8b7"
    const headers = {
      Authorization: "Basic YWxpY2U6c3VwZXJzZWNyZXRwYXNzd29yZA==",
      "Proxy-Authorization": "opaque-proxy-credential",
      "X-API-KEY": hex,
      cookie: "session=abc123def456",
      "set-cookie": ["a=first-cookie-value", "b=second-cookie-value"]
    }
    const fields = {
      apiKey: hex,
      API_KEY: hex,
      openaiApiKey: hex,
      password: "Tr0ub4dor&3-correct-horse",
      client_secret: "plain words secret",
      accessToken: "tok-123456",
      pin: "1234"
    }
    const out = sanitizeInput({ request: { headers }, ...fields }) as {
      request: { headers: Record<string, unknown> }
      pin: string
    }
    const text = JSON.stringify(out)
    for (const v of [...Object.values(headers).flat(), ...Object.values(fields).filter((v) => v !== "1234")]) {
      assert.notInclude(text, v)
    }
    assert.strictEqual(out.request.headers["X-API-KEY"], "[REDACTED:CREDENTIAL]")
    assert.deepStrictEqual(out.request.headers["set-cookie"], ["[REDACTED:CREDENTIAL]", "[REDACTED:CREDENTIAL]"])
    // a key not named for a credential keeps its value; an object under a credential name is walked, not erased
    assert.strictEqual(out.pin, "1234")
    const schema = { properties: { password: { type: "string", description: "the user's password" } } }
    assert.deepStrictEqual(sanitizeInput(schema), schema)
  })

  it("sanitizeInput masks a secret used as a record key", () => {
    const out = JSON.stringify(sanitizeInput({ tools: { [KEY]: { type: "string" } } }))
    assert.notInclude(out, KEY)
    assert.include(out, "[REDACTED:")
  })

  it("sanitizeInput keeps an input nested past MAX_INPUT_DEPTH levels as a masked, truncated preview (like one past MAX_INPUT_CHARS), without overflowing the stack at 100,000 levels", () => {
    for (const depth of [MAX_INPUT_DEPTH + 1, 1_100, 100_000]) {
      const out = sanitizeInput({ tools: [{ name: "t", parameters: nested(depth, KEY) }], note: KEY }) as {
        truncated: boolean
        preview: string
      }
      assert.strictEqual(out.truncated, true)
      assert.isString(out.preview)
      assert.isAtMost(out.preview.length, MAX_INPUT_CHARS)
      assert.notInclude(out.preview, KEY)
      assert.include(out.preview, "\"name\":\"t\"")
    }
  })

  it("fuzz: describeError of any value is a bounded tag and message", () => {
    fc.assert(
      fc.property(fc.anything(), (e) => {
        const d = describeError(e)
        assert.isAtMost(d.message.length, 2000)
        assert.isAtMost(d.tag.length, 200)
      }),
      { numRuns: 300 }
    )
  })

  it.effect("fuzz: decodeFilter accepts or rejects any value with a typed error, never throws", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(fc.anything(), (v) => {
          const exit = Effect.runSyncExit(decodeFilter(v))
          assert.isTrue(Exit.isSuccess(exit) || Exit.isFailure(exit))
        }),
        { numRuns: 300 }
      )
    ))
})

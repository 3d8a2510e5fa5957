/**
 * `ProviderErrorMapping`: an error event inside a stream is classified by the same table as an HTTP failure — each
 * documented error `type` or `code` (and a numeric `code`, as OpenRouter and vLLM send) stands for the HTTP status
 * the provider answers it with — and an error the table does not know is a retryable server error.
 */
import { assert, describe, it } from "@effect/vitest"
import { errorFromHttp, errorFromStreamEvent, STREAM_ERROR_STATUS } from "../../src/llm/ProviderErrorMapping.ts"

const overHttp = (status: number, body: unknown) =>
  errorFromHttp({
    provider: "p",
    status,
    headers: {},
    bodyText: JSON.stringify(body),
    nowMillis: 0,
    secrets: [],
    timeoutMillis: 1000
  })

const summary = (e: { readonly _tag: string; readonly retryable: boolean; readonly kind?: unknown }) => ({
  tag: e._tag,
  retryable: e.retryable,
  ...("kind" in e ? { kind: e.kind } : {})
})

describe("ProviderErrorMapping: errors inside a stream", () => {
  it("an error event in a stream gets the class and retryability of the same error over HTTP, for every type and code of the table", () => {
    for (const [name, status] of Object.entries(STREAM_ERROR_STATUS)) {
      for (const field of ["type", "code"] as const) {
        const error = { [field]: name, message: `a streamed ${name}` }
        const http = overHttp(status, { error })
        // Anthropic's envelope and OpenAI's chunk alike
        for (const event of [{ type: "error", error }, { error }]) {
          const streamed = errorFromStreamEvent("p", event, [])
          assert.deepStrictEqual(summary(streamed), summary(http), `${field} ${name} (HTTP ${status})`)
          assert.isUndefined(streamed.status, "a stream error has no HTTP status of its own")
        }
      }
    }
  })

  it("the table knows the documented permanent errors: quota, billing, auth, permission, not found, too large, invalid request", () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string, boolean]> = [
      [{ type: "insufficient_quota", code: "insufficient_quota" }, "QuotaExhausted", false],
      [{ type: "billing_error" }, "QuotaExhausted", false],
      [{ type: "authentication_error" }, "AuthenticationFailed", false],
      [{ type: "invalid_request_error", code: "invalid_api_key" }, "AuthenticationFailed", false],
      [{ type: "permission_error" }, "AuthenticationFailed", false],
      [{ type: "not_found_error" }, "ProviderRejectedRequest", false],
      [{ type: "invalid_request_error", code: "model_not_found" }, "ProviderRejectedRequest", false],
      [{ type: "request_too_large" }, "ProviderRejectedRequest", false],
      [{ type: "invalid_request_error", code: "context_length_exceeded" }, "ContextLengthExceeded", false],
      [{ type: "invalid_request_error", message: "flagged by our content policy" }, "ContentPolicyViolation", false],
      [{ type: "rate_limit_error" }, "ProviderRateLimited", true],
      [{ type: "overloaded_error" }, "ProviderOverloaded", true],
      [{ type: "api_error" }, "ProviderServerError", true]
    ]
    for (const [error, tag, retryable] of cases) {
      assert.deepStrictEqual(
        [errorFromStreamEvent("p", { error }, [])._tag, errorFromStreamEvent("p", { error }, []).retryable],
        [tag, retryable],
        JSON.stringify(error)
      )
    }
  })

  it("a numeric code (OpenRouter, vLLM) is read as the HTTP status it names", () => {
    for (const code of [402, 429, 401, 404, 400, 503, 502]) {
      assert.deepStrictEqual(
        summary(errorFromStreamEvent("p", { error: { code, message: "m" } }, [])),
        summary(overHttp(code, { error: { message: "m" } })),
        `code ${code}`
      )
    }
  })

  it("a stream error of no type, or of a type the table does not know, is a retryable ProviderServerError", () => {
    for (const event of [{ message: "proxy: upstream reset" }, { error: { type: "brand_new_error", message: "m" } }]) {
      const e = errorFromStreamEvent("p", event, [])
      assert.deepStrictEqual([e._tag, e.retryable], ["ProviderServerError", true], JSON.stringify(event))
    }
    // unless its message names a content-policy refusal or a context overflow, which no retry changes
    const refused = errorFromStreamEvent("p", { error: { type: "x", message: "blocked by the content filter" } }, [])
    const overflow = errorFromStreamEvent("p", { error: { message: "prompt is too long: 250000 tokens" } }, [])
    assert.deepStrictEqual([refused._tag, refused.retryable], ["ContentPolicyViolation", false])
    assert.deepStrictEqual([overflow._tag, overflow.retryable], ["ContextLengthExceeded", false])
  })
})

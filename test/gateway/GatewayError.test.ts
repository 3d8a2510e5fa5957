import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Logger } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { BudgetExceeded, BudgetStoreError } from "../../src/budget/index.ts"
import { InvalidModelSpec, ModelAliasCycle, UnknownModelAlias, UnknownProvider } from "../../src/config/index.ts"
import { fromFailure, toHttpError } from "../../src/gateway/index.ts"
import { GuardBlocked } from "../../src/guard/index.ts"
import {
  AuthenticationFailed,
  ContentPolicyViolation,
  ContextLengthExceeded,
  InvalidLlmRequest,
  InvalidProviderOptions,
  MalformedResponse,
  ProviderConnectionError,
  ProviderOverloaded,
  ProviderRateLimited,
  ProviderRejectedRequest,
  ProviderServerError,
  ProviderTimeout,
  QuotaExhausted
} from "../../src/llm/index.ts"
import type { LlmError } from "../../src/pipeline/index.ts"
import {
  CallDeadlineExceeded,
  EmbeddingsUnsupported,
  ProviderNotFound,
  RateLimitRefused,
  StreamLimitExceeded
} from "../../src/pipeline/index.ts"
import { QueueFull, Shed } from "../../src/queue/index.ts"
import { RateLimitStoreError } from "../../src/ratelimit/index.ts"

describe("gateway errors for budgets", () => {
  it("a budget that cannot hold the call is 402 budget_exceeded, naming the scope, its limit, spend and reservations", () => {
    const e = fromFailure(
      new BudgetExceeded({ scope: "tenant:acme", limit: 10, spent: 9.5, reserved: 0.4, requested: 0.2 })
    )
    expect(e.status).toBe(402)
    expect(e.code).toBe("budget_exceeded")
    expect(e.description).toContain("tenant:acme")
    expect(e.description).toContain("limit $10.00")
    expect(e.description).toContain("spent $9.50")
  })

  it("the budget store down is 503 with retry-after", () => {
    const e = fromFailure(new BudgetStoreError({ operation: "reserve", detail: "ECONNREFUSED" }))
    expect(e.status).toBe(503)
    expect(e.retryAfterSeconds).toBe(1)
  })
})

describe("gateway errors for queues", () => {
  it("a full request queue (QueueFull) or a request shed from it (Shed) is 503 queue_full / request_shed with retry-after", () => {
    const full = fromFailure(new QueueFull({ queue: "openai", capacity: 10, retryAfterMillis: 2500 }))
    expect(full.status).toBe(503)
    expect(full.code).toBe("queue_full")
    expect(full.retryAfterSeconds).toBe(3)
    const shed = fromFailure(new Shed({ queue: "openai", reason: "deadline", retryAfterMillis: 1000 }))
    expect(shed.status).toBe(503)
    expect(shed.code).toBe("request_shed")
    expect(shed.retryAfterSeconds).toBe(1)
  })
})

/** One value of every failure `Llm` documents (its `LlmError` union, and `embed`'s `EmbeddingsUnsupported`). */
type MappedFailure = LlmError | EmbeddingsUnsupported
const common = { provider: "openai", description: "d", retryable: false }
const everyFailure: { readonly [K in MappedFailure["_tag"]]: Extract<MappedFailure, { readonly _tag: K }> } = {
  InvalidLlmRequest: InvalidLlmRequest.at("messages[0].content", "Expected string"),
  UnknownModelAlias: new UnknownModelAlias({ alias: "nope", known: [] }),
  ModelAliasCycle: new ModelAliasCycle({ cycle: ["a", "b", "a"] }),
  UnknownProvider: new UnknownProvider({ provider: "nope", known: [] }),
  InvalidModelSpec: InvalidModelSpec.of(":x", "an empty provider"),
  ProviderRateLimited: new ProviderRateLimited({ ...common, retryAfterMillis: 1500 }),
  QuotaExhausted: new QuotaExhausted(common),
  AuthenticationFailed: new AuthenticationFailed({ ...common, kind: "InvalidKey" }),
  ContentPolicyViolation: new ContentPolicyViolation(common),
  ContextLengthExceeded: new ContextLengthExceeded(common),
  ProviderRejectedRequest: new ProviderRejectedRequest({ ...common, status: 422 }),
  ProviderOverloaded: new ProviderOverloaded(common),
  ProviderServerError: new ProviderServerError(common),
  ProviderTimeout: new ProviderTimeout({ ...common, timeoutMillis: 1000 }),
  ProviderConnectionError: new ProviderConnectionError(common),
  MalformedResponse: new MalformedResponse(common),
  ProviderNotFound: new ProviderNotFound({ provider: "nope", known: [] }),
  InvalidProviderOptions: InvalidProviderOptions.at("openai", "baseUrl", "Expected a URL"),
  RateLimitRefused: new RateLimitRefused({
    key: "provider=openai",
    policy: "default",
    tier: "rpm",
    resource: "requests",
    cost: 1,
    retryAfterMillis: 2000
  }),
  RateLimitStoreError: new RateLimitStoreError({ operation: "consume", reason: "ECONNREFUSED" }),
  CircuitBreakerError: new CircuitBreaker.CircuitBreakerError({
    reason: new CircuitBreaker.CircuitBreakerStoreError({ message: "Redis unreachable" })
  }),
  GuardBlocked: new GuardBlocked({
    stage: "input",
    scanner: "injection",
    rule: "ignore-previous",
    score: 0.9,
    types: []
  }),
  CallDeadlineExceeded: new CallDeadlineExceeded({ timeoutMillis: 200, attempts: 1 }),
  StreamLimitExceeded: new StreamLimitExceeded({ limit: "idle", value: 200 }),
  BudgetExceeded: new BudgetExceeded({ scope: "tenant:acme", limit: 10, spent: 10, reserved: 0, requested: 1 }),
  BudgetStoreError: new BudgetStoreError({ operation: "reserve", detail: "ECONNREFUSED" }),
  QueueFull: new QueueFull({ queue: "openai", capacity: 10, retryAfterMillis: 2500 }),
  Shed: new Shed({ queue: "openai", reason: "deadline", retryAfterMillis: 1000 }),
  EmbeddingsUnsupported: new EmbeddingsUnsupported({ provider: "anthropic" })
}

describe("gateway errors for every documented Llm failure", () => {
  it("every tag of Llm's error union has its own mapping: none falls to the 500 internal_error", () => {
    for (const [tag, failure] of Object.entries(everyFailure)) {
      const e = fromFailure(failure)
      expect(e.code, tag).not.toBe("internal_error")
      expect(e.code, tag).not.toBeNull()
    }
  })

  it("a call past its deadline and a stream past its time limits are 504 upstream_timeout; past its size a 502", () => {
    for (const failure of [everyFailure.CallDeadlineExceeded, everyFailure.StreamLimitExceeded]) {
      const e = fromFailure(failure)
      expect(e.status).toBe(504)
      expect(e.code).toBe("upstream_timeout")
    }
    expect(fromFailure(new StreamLimitExceeded({ limit: "deadline", value: 1000 })).status).toBe(504)
    const size = fromFailure(new StreamLimitExceeded({ limit: "size", value: 40 }))
    expect(size.status).toBe(502)
    expect(size.code).toBe("response_too_large")
  })

  it("a guard block is a 400 content_policy_violation in OpenAI's shape, naming the scanner, never the text", () => {
    const e = fromFailure(everyFailure.GuardBlocked)
    expect(e.status).toBe(400)
    expect(e.body.error).toMatchObject({ type: "invalid_request_error", code: "content_policy_violation" })
    expect(e.description).toContain("injection")
  })

  it("a provider that cannot be built from its configuration is a 500 that names no configuration detail", () => {
    const e = fromFailure(everyFailure.InvalidProviderOptions)
    expect(e.status).toBe(500)
    expect(e.code).toBe("provider_misconfigured")
    expect(e.description).not.toContain("baseUrl")
  })

  it.effect("a failure answered with the 500 internal_error has its cause logged", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make<unknown, void>(({ cause, message }) => {
        lines.push(`${String(message)} ${Cause.pretty(cause)}`)
      })
      const unknown = { _tag: "SomethingNew", message: "a detail only the logs may see" }
      const e = yield* toHttpError(unknown).pipe(Effect.provide(Logger.layer([logger])))
      expect(e.code).toBe("internal_error")
      expect(e.description).not.toContain("a detail only the logs may see")
      expect(lines.join("\n")).toContain("a detail only the logs may see")
      lines.length = 0
      yield* toHttpError(everyFailure.QueueFull).pipe(Effect.provide(Logger.layer([logger])))
      expect(lines).toEqual([])
    }))
})

/**
 * The request of an `Llm` call, as a Schema, and its decoder.
 *
 * An `LlmCall` is an `LlmRequest` (messages, tools, tool choice, params, response format — see `src/llm`) whose
 * `model` is an alias (`fast`) or a `provider:model` spec, plus per-call `options`: cache mode (`bypass` skips the
 * response cache, `refresh` skips the lookup but stores the answer), a timeout, the end user and tenant (telemetry,
 * and the tenant partitions the response cache), an API-key override, a fallback chain, the retry budget, and
 * `hedge`, which marks the call critical (see `HedgeStep`).
 *
 * `decodeLlmCall` is the pipeline's only validation: requests are untrusted. It first runs a hand-written structural
 * check that accepts only values the Schema accepts unchanged (the common shapes: plain objects with only the
 * Schema's keys, none set to `undefined`, plain messages, params, options without string API keys) — a property
 * test holds it to the Schema; anything else — tools, a response format, a plain-string API key, or a bad value —
 * goes through `Schema.decodeUnknownEffect`, which fails with `InvalidLlmRequest` naming every bad path. A call
 * nested deeper than `MAX_CALL_DEPTH` levels fails with `InvalidLlmRequest` before the Schema walks it. The check saves
 * the Schema walk on the hot path (a few µs per call); it is hand-rolled for that reason only, as the RateLimiter's
 * option checks are.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, Redacted, Schema } from "effect"
import { BudgetScope, SCOPE_PATTERN } from "../budget/Budget.ts"
import { MAX_CANONICAL_DEPTH, nestedDeeperThan } from "../cache/index.ts"
import type { LlmRequest } from "../llm/index.ts"
import { InvalidLlmRequest, invalidRequestFromIssue, LlmRequest as LlmRequestSchema } from "../llm/index.ts"

const NonEmptyString = Schema.String.check(Schema.isMinLength(1))

/** A positive duration: milliseconds, or a `Duration` string such as `"30 seconds"`. */
export const CallTimeout = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThan(0)),
  Schema.String.check(Schema.makeFilter((s: string) => {
    // fromInput validates any string and returns undefined for a bad one
    // a string is a Duration input candidate; fromInput checks it and answers None when it is not
    const d = Duration.fromInput(s as Duration.Input)
    return (d._tag === "Some" && Duration.toMillis(d.value) > 0) ||
      `Expected a positive duration such as "30 seconds", got "${s}"`
  }))
])

const PERCENTILE = /^p([1-9]|[1-9][0-9])$/

/**
 * When a hedge is sent: milliseconds (≥ 0), a `Duration` string such as `"200 millis"`, or a percentile of the
 * primary target's observed latency, `"p1"` … `"p99"` (e.g. `"p95"`; see `HedgeStep`).
 */
export const HedgeDelay = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(Schema.makeFilter((s: string) => {
    if (PERCENTILE.test(s)) return true
    // a string is a Duration input candidate; fromInput checks it and answers None when it is not
    const d = Duration.fromInput(s as Duration.Input)
    return (d._tag === "Some" && Duration.isFinite(d.value) && Duration.toMillis(d.value) >= 0) ||
      `Expected a duration such as "200 millis" or a percentile such as "p95", got "${s.slice(0, 40)}"`
  }))
])
export type HedgeDelay = typeof HedgeDelay.Type

/**
 * Whether a call is critical (hedged): `true` (hedge after the step's delay), `false` (never hedge, whatever the
 * model's default), or `{ delay }` (hedge after this delay).
 */
export const CallHedge = Schema.Union([Schema.Boolean, Schema.Struct({ delay: Schema.optionalKey(HedgeDelay) })])
export type CallHedge = typeof CallHedge.Type

/** An API key: a `Redacted<string>` (preferred) or a plain string, which is wrapped in `Redacted` at once. */
export const CallApiKey = Schema.Union([Schema.Redacted(NonEmptyString), Schema.RedactedFromValue(NonEmptyString)])

/** What the response cache does for one call. */
export const CacheMode = Schema.Literals(["default", "bypass", "refresh"])
export type CacheMode = typeof CacheMode.Type

/** Per-call options. */
export const LlmCallOptions = Schema.Struct({
  /** `default` (look up, store), `bypass` (neither), `refresh` (store only). */
  cache: Schema.optionalKey(CacheMode),
  /** Provider request timeout for this call (ms or a duration string). */
  timeout: Schema.optionalKey(CallTimeout),
  /** The end user (telemetry metadata). */
  user: Schema.optionalKey(NonEmptyString),
  /**
   * The principal the call is made for (the gateway sets an issued key's principal): with `tenant`, the response
   * cache links the entries it stores or serves for this call to that subject in the `SubjectIndex`, so
   * `Privacy.erase` deletes them. Not part of the cache key (subjects of one tenant share answers).
   */
  subject: Schema.optionalKey(NonEmptyString),
  /** The tenant: telemetry metadata, and a response-cache partition (tenants never share cached answers). */
  tenant: Schema.optionalKey(NonEmptyString),
  /** The agent making the call (the GenAI `gen_ai.agent.name` attribute). */
  agent: Schema.optionalKey(NonEmptyString),
  /** Overrides the provider's API key; the rate limiter keys on its hash, never on the key. */
  apiKey: Schema.optionalKey(CallApiKey),
  /** Models to try, in order, when the requested one fails (aliases or specs); replaces the configured chain. */
  fallbacks: Schema.optionalKey(Schema.Array(NonEmptyString).check(Schema.isMaxLength(8))),
  /**
   * Budget scopes charged for this call (`key:…`, `principal:…`, `tenant:…`, `project:…`), beside the tenant's and
   * the user's (see `BudgetStep`).
   */
  budgets: Schema.optionalKey(Schema.Array(BudgetScope).check(Schema.isMaxLength(8))),
  /** Retries after a retryable failure (default: the RetryStep's, 3). */
  retries: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 }))),
  /** Marks the call critical: a hedge is sent to the next target of its chain when the first is slow (`HedgeStep`). */
  hedge: Schema.optionalKey(CallHedge),
  /** Its priority in a provider's request queue (`QueueStep`): `critical`, `high`, `normal` (default) or `low`. */
  priority: Schema.optionalKey(Schema.Literals(["critical", "high", "normal", "low"]))
})
export type LlmCallOptions = typeof LlmCallOptions.Type

/** One `Llm` call: an `LlmRequest` whose `model` is an alias or a `provider:model` spec, plus options. */
export const LlmCall = Schema.Struct({
  ...LlmRequestSchema.fields,
  /** An alias (`fast`) or a `provider:model` spec (`anthropic:claude-sonnet-4-5`). */
  model: NonEmptyString,
  options: Schema.optionalKey(LlmCallOptions)
})
export type LlmCall = typeof LlmCall.Type
/** The input form (a plain-string API key is accepted). */
export type LlmCallInput = typeof LlmCall.Encoded

// --- the structural fast path ----------------------------------------------------------------------------------
// Conservative: every object must be plain (no class instance, array or function carrying the fields), carry only
// the keys the Schema names, and no key may be present with the value `undefined` (the Schema's optional keys reject
// it). Anything else goes to the Schema. A property test (test/pipeline/LlmCall.test.ts) checks that whatever this
// accepts, the Schema accepts unchanged.

const isObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}
const onlyKeys = (o: Record<string, unknown>, allowed: ReadonlySet<string>): boolean => {
  for (const key in o) if (!Object.hasOwn(o, key) || !allowed.has(key) || o[key] === undefined) return false
  return Object.getOwnPropertySymbols(o).length === 0
}
const absentOrString = (o: Record<string, unknown>, key: string): boolean =>
  !Object.hasOwn(o, key) || typeof o[key] === "string"
const absentOrNonEmpty = (u: unknown): boolean => u === undefined || (typeof u === "string" && u.length > 0)
const inRange = (u: unknown, min: number, max: number): boolean =>
  u === undefined || (typeof u === "number" && Number.isFinite(u) && u >= min && u <= max)

const systemKeys = new Set(["role", "content"])
const userKeys = new Set(["role", "content", "name"])
const assistantKeys = new Set(["role", "content"]) // tool calls: let the Schema check them
const toolKeys = new Set(["role", "content", "toolCallId", "name", "isError"])
const paramKeys = new Set(["temperature", "maxTokens", "topP"]) // `stop` and extras: Schema
const optionKeys = new Set([
  "cache",
  "timeout",
  "user",
  "subject",
  "tenant",
  "agent",
  "apiKey",
  "retries",
  "hedge",
  "priority",
  "budgets"
]) // fallbacks: Schema

/** A dense plain array of at most 8 budget scopes (what the gateway passes for an issued key). */
const budgetsOk = (u: unknown): boolean => {
  if (!Array.isArray(u) || Object.getPrototypeOf(u) !== Array.prototype || u.length > 8) return false
  for (let i = 0; i < u.length; i++) {
    const scope: unknown = u[i]
    if (typeof scope !== "string" || !SCOPE_PATTERN.test(scope)) return false
  }
  return true
}
const callKeys = new Set(["model", "messages", "toolChoice", "params", "options"]) // tools, responseFormat: Schema

const messageOk = (m: unknown): boolean => {
  if (!isObject(m) || typeof m.content !== "string") return false
  switch (m.role) {
    case "system":
      return onlyKeys(m, systemKeys)
    case "user":
      return onlyKeys(m, userKeys) && absentOrString(m, "name")
    case "assistant":
      return onlyKeys(m, assistantKeys)
    case "tool":
      return onlyKeys(m, toolKeys) && typeof m.toolCallId === "string" && m.toolCallId.length > 0 &&
        absentOrString(m, "name") &&
        (m.isError === undefined || typeof m.isError === "boolean")
    default:
      return false
  }
}

const paramsOk = (p: unknown): boolean => {
  if (!isObject(p) || !onlyKeys(p, paramKeys)) return false
  return inRange(p.temperature, 0, 2) && inRange(p.topP, 0, 1) &&
    (p.maxTokens === undefined || (Number.isInteger(p.maxTokens) && inRange(p.maxTokens, 1, 10_000_000)))
}

const optionsOk = (o: unknown): boolean => {
  if (!isObject(o) || !onlyKeys(o, optionKeys)) return false
  const cache = o.cache
  if (cache !== undefined && cache !== "default" && cache !== "bypass" && cache !== "refresh") return false
  const timeout = o.timeout
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) return false
  if (!absentOrNonEmpty(o.user) || !absentOrNonEmpty(o.tenant) || !absentOrNonEmpty(o.agent)) return false
  if (!absentOrNonEmpty(o.subject)) return false
  const apiKey = o.apiKey
  if (
    apiKey !== undefined &&
    !(Redacted.isRedacted(apiKey) && typeof Redacted.value(apiKey) === "string" && Redacted.value(apiKey) !== "")
  ) {
    return false
  }
  if (o.hedge !== undefined && typeof o.hedge !== "boolean") return false // `{ delay }`: Schema
  if (o.budgets !== undefined && !budgetsOk(o.budgets)) return false
  const priority = o.priority
  if (
    priority !== undefined && priority !== "critical" && priority !== "high" && priority !== "normal" &&
    priority !== "low"
  ) {
    return false
  }
  return o.retries === undefined || (Number.isInteger(o.retries) && inRange(o.retries, 0, 10))
}

/** True only for values the `LlmCall` Schema accepts unchanged (conservative: false means "ask the Schema"). */
export const isPlainLlmCall = (u: unknown): u is LlmCall => {
  if (!isObject(u) || !onlyKeys(u, callKeys)) return false
  if (typeof u.model !== "string" || u.model.length === 0) return false
  if (u.toolChoice !== undefined && u.toolChoice !== "auto" && u.toolChoice !== "none" && u.toolChoice !== "required") {
    return false
  }
  const messages = u.messages
  if (!Array.isArray(messages) || messages.length === 0 || Object.getPrototypeOf(messages) !== Array.prototype) {
    return false
  }
  for (let i = 0; i < messages.length; i++) if (!messageOk(messages[i])) return false
  return (u.params === undefined || paramsOk(u.params)) && (u.options === undefined || optionsOk(u.options))
}

/**
 * How deeply a call may nest arrays and objects (tool schemas, response formats, tool-call arguments): the response
 * cache's canonical-JSON bound plus the levels of the call itself. A deeper call fails with `InvalidLlmRequest`
 * before the Schema walks it (20,000 levels would overflow the stack).
 */
export const MAX_CALL_DEPTH = MAX_CANONICAL_DEPTH + 4

const decodeSlow = Schema.decodeUnknownEffect(LlmCall)

/**
 * Decodes an untrusted call, failing with `InvalidLlmRequest` (every issue, the first one's path named).
 *
 * @example
 * ```ts
 * const call = yield* decodeLlmCall({ model: "fast", messages: [{ role: "user", content: "hi" }] })
 * ```
 */
export const decodeLlmCall = (input: unknown): Effect.Effect<LlmCall, InvalidLlmRequest> => {
  if (isPlainLlmCall(input)) return Exit.succeed(input)
  if (nestedDeeperThan(input, MAX_CALL_DEPTH)) {
    const reason = `nested deeper than ${MAX_CALL_DEPTH} levels`
    return Exit.fail(InvalidLlmRequest.at("", reason))
  }
  return decodeSlow(input, { errors: "all" }).pipe(Effect.mapError((e) => invalidRequestFromIssue(e.issue)))
}

/** The provider request of `call` for `model`, with `params` (already merged) in place of the call's. */
export const providerRequest = (call: LlmCall, model: string, params: LlmRequest["params"]): LlmRequest => {
  const request: {
    -readonly [K in keyof LlmRequest]: LlmRequest[K]
  } = { model, messages: call.messages }
  if (call.tools !== undefined) request.tools = call.tools
  if (call.toolChoice !== undefined) request.toolChoice = call.toolChoice
  if (params !== undefined) request.params = params
  if (call.responseFormat !== undefined) request.responseFormat = call.responseFormat
  return request
}

/**
 * The parameters sent for `call` to a target whose configured defaults are `defaults`: the call's own win; the
 * config's `timeout` is not a sampling parameter and is left out (the pipeline applies it as the call timeout).
 */
export const mergeParams = (
  defaults: {
    readonly temperature?: number
    readonly maxTokens?: number
    readonly topP?: number
    readonly timeout?: number
  },
  params: LlmRequest["params"]
): LlmRequest["params"] => {
  const hasDefaults = defaults.temperature !== undefined || defaults.maxTokens !== undefined ||
    defaults.topP !== undefined
  if (!hasDefaults) return params
  const out: { temperature?: number; maxTokens?: number; topP?: number; stop?: ReadonlyArray<string> } = {}
  if (defaults.temperature !== undefined) out.temperature = defaults.temperature
  if (defaults.maxTokens !== undefined) out.maxTokens = defaults.maxTokens
  if (defaults.topP !== undefined) out.topP = defaults.topP
  return params === undefined ? out : { ...out, ...params }
}

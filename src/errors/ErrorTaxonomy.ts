/**
 * The error taxonomy: every typed failure tag of troupe (pipeline, providers, budgets, rate limits, guard, gateway,
 * agents, and the runtime and stores under them) classified once, in one table.
 *
 * Rules (the README's `## Error taxonomy` uses the same words):
 * - Every error tag in src/ is classified. `taxonomy` is a typed exhaustive map: its key type is derived from the
 *   error modules themselves, so adding a `Schema.TaggedError` to one of them fails to compile until it is
 *   classified; a test also scans src/ for every tag, so an error declared elsewhere cannot slip through.
 * - Each class has a transience (`transient`: the same call may succeed later; `permanent`: it never will), a
 *   source (`provider`: the upstream model API; `client`: the caller's input or credentials; `internal`: troupe,
 *   its stores or its configuration), whether it is retryable, and one recovery strategy:
 *   `retry` (same target, with backoff), `fallback` (next target of the chain), `wait` (retry after the advertised
 *   delay), `reject` (return to the caller, do not retry), `restart` (let the supervisor restart the process),
 *   `alert` (an operator must act: configuration or a store is broken).
 * - An unknown tag (a defect, a foreign error) classifies as `unknown`: permanent, internal, not retryable, `alert`.
 *
 * Mirrors the retry predicate of the pipeline's `RetryStep` (transient provider failures are retried, the rest
 * fall back or are returned) and reuses nothing at run time: it is data.
 *
 * @since 0.1.0
 */
import type * as AgentError from "../agent/AgentError.ts"
import type * as InvalidTroupeOptionsModule from "../app/TroupeOptions.ts"
import type * as BudgetError from "../budget/BudgetError.ts"
import type * as CacheError from "../cache/CacheError.ts"
import type * as ResponseKey from "../cache/ResponseKey.ts"
import type * as ConfigError from "../config/ConfigError.ts"
import type * as Costs from "../costs/Costs.ts"
import type * as DlqError from "../dlq/DlqError.ts"
import type * as GatewayError from "../gateway/GatewayError.ts"
import type * as GuardError from "../guard/GuardError.ts"
import type * as IdentityError from "../identity/IdentityError.ts"
import type * as KeyProvider from "../identity/KeyProvider.ts"
import type * as LlmError from "../llm/LlmError.ts"
import type * as Journal from "../llmagent/Journal.ts"
import type * as LlmAgentError from "../llmagent/LlmAgentError.ts"
import type * as MemoryError from "../memory/MemoryError.ts"
import type * as Embed from "../pipeline/Embed.ts"
import type * as GenerateObject from "../pipeline/GenerateObject.ts"
import type * as PipelineError from "../pipeline/PipelineError.ts"
import type * as QueueError from "../queue/QueueError.ts"
import type * as ResourcePool from "../queue/ResourcePool.ts"
import type * as RateLimitError from "../ratelimit/RateLimitError.ts"
import type * as RuntimeError from "../runtime/RuntimeError.ts"
import type * as TelemetryError from "../telemetry/TelemetryError.ts"

/** The `_tag`s of every error class a module exports (non-error exports contribute nothing). */
type TagsOf<M> = {
  [K in keyof M]: M[K] extends abstract new(...args: never) => { readonly _tag: infer T extends string } ? T : never
}[keyof M]

/** Every error tag troupe declares, plus effect's `CircuitBreakerError` that the pipeline surfaces as it is. */
export type ErrorTag =
  | TagsOf<typeof AgentError>
  | TagsOf<typeof InvalidTroupeOptionsModule>
  | TagsOf<typeof BudgetError>
  | TagsOf<typeof CacheError>
  | TagsOf<typeof ResponseKey>
  | TagsOf<typeof ConfigError>
  | TagsOf<typeof DlqError>
  | TagsOf<typeof GatewayError>
  | TagsOf<typeof GuardError>
  | TagsOf<typeof IdentityError>
  | TagsOf<typeof LlmError>
  | TagsOf<typeof LlmAgentError>
  | TagsOf<typeof MemoryError>
  | TagsOf<typeof Embed>
  | TagsOf<typeof GenerateObject>
  | TagsOf<typeof PipelineError>
  | TagsOf<typeof RateLimitError>
  | TagsOf<typeof RuntimeError>
  | TagsOf<typeof TelemetryError>
  | TagsOf<typeof Costs>
  | TagsOf<typeof KeyProvider>
  | TagsOf<typeof Journal>
  | TagsOf<typeof QueueError>
  | TagsOf<typeof ResourcePool>
  | "CircuitBreakerError"

/** `transient`: the same call may succeed later; `permanent`: it never will as it stands. */
export type Transience = "transient" | "permanent"
/** Who caused it: the upstream model API, the caller, or troupe itself (its stores, configuration, processes). */
export type ErrorSource = "provider" | "client" | "internal"
/** What to do about it (see the module doc). */
export type Recovery = "retry" | "fallback" | "wait" | "reject" | "restart" | "alert"

/** One row of the taxonomy. */
export interface ErrorClass {
  readonly transience: Transience
  readonly source: ErrorSource
  readonly retryable: boolean
  readonly recovery: Recovery
}

const row = (transience: Transience, source: ErrorSource, retryable: boolean, recovery: Recovery): ErrorClass => ({
  transience,
  source,
  retryable,
  recovery
})
const providerRetry = row("transient", "provider", true, "retry")
const providerFallback = row("transient", "provider", false, "fallback")
const providerWait = row("transient", "provider", true, "wait")
const providerPermanent = row("permanent", "provider", false, "fallback")
const clientReject = row("permanent", "client", false, "reject")
const clientWait = row("transient", "client", true, "wait")
const internalRetry = row("transient", "internal", true, "retry")
const internalAlert = row("permanent", "internal", false, "alert")
const internalRestart = row("transient", "internal", false, "restart")
const internalReject = row("permanent", "internal", false, "reject")

/** The classification of an error tag nobody declared (a defect, a foreign error). */
export const unknownClass: ErrorClass = internalAlert

/**
 * The taxonomy: every error tag in src/ classified. Typed exhaustive — a tag added to an error module and missing
 * here is a compile error.
 */
export const taxonomy: { readonly [K in ErrorTag]: ErrorClass } = {
  // providers (src/llm)
  ProviderRateLimited: providerWait,
  ProviderOverloaded: providerRetry,
  ProviderServerError: providerRetry,
  ProviderTimeout: providerRetry,
  ProviderConnectionError: providerRetry,
  MalformedResponse: providerPermanent,
  ContentPolicyViolation: clientReject,
  ContextLengthExceeded: row("permanent", "client", false, "fallback"),
  ProviderRejectedRequest: clientReject,
  QuotaExhausted: providerPermanent,
  AuthenticationFailed: providerPermanent,
  InvalidLlmRequest: clientReject,
  InvalidProviderOptions: internalAlert,
  // pipeline
  RateLimitRefused: clientWait,
  CallDeadlineExceeded: row("transient", "provider", false, "reject"),
  ProviderNotFound: internalAlert,
  InvalidPipelineOptions: internalAlert,
  StreamLimitExceeded: clientReject,
  EmbeddingsUnsupported: providerPermanent,
  InvalidObjectOutput: row("transient", "provider", true, "retry"),
  CircuitBreakerError: providerFallback,
  // budgets, rate limits, guard, cache
  BudgetExceeded: clientReject,
  // costs, queues and pools, secrets, journaled runs
  InvalidCost: internalAlert,
  CostsStoreError: internalRetry,
  QueueFull: clientWait,
  Shed: clientWait,
  PoolTimeout: internalRetry,
  PoolUnhealthy: internalRetry,
  SecretError: internalAlert,
  ToolOutcomeUnknown: internalAlert,
  LedgerFull: internalAlert,
  RunNotFound: clientReject,
  InvalidRunRecord: internalAlert,
  BudgetStoreError: internalRetry,
  RateLimited: clientWait,
  InvalidRateLimitInput: clientReject,
  RateLimitStoreError: internalRetry,
  GuardBlocked: clientReject,
  InvalidGuardOptions: internalAlert,
  CacheKeyTooLarge: clientReject,
  CacheValueTooLarge: internalReject,
  CacheValueEncodingError: internalReject,
  InvalidCacheOptions: internalAlert,
  InvalidResponseRequest: clientReject,
  CanonicalJsonTooDeep: clientReject,
  // gateway, identity
  GatewayHttpError: clientReject,
  InvalidIdentityInput: clientReject,
  KeyRejected: clientReject,
  KeyNotFound: clientReject,
  PermissionDenied: clientReject,
  IdentityStoreError: internalRetry,
  StoreFull: internalAlert,
  ErasureIncomplete: internalRetry,
  // configuration, app, telemetry, memory, dlq
  ConfigSourceError: internalRetry,
  ConfigValidationError: internalAlert,
  InvalidModelSpec: clientReject,
  ModelAliasCycle: internalAlert,
  UnknownModelAlias: clientReject,
  UnknownProvider: internalAlert,
  InvalidTroupeOptions: internalAlert,
  DuplicateHandlerError: internalReject,
  HandlerNotFoundError: internalReject,
  InvalidTelemetryInput: clientReject,
  OtelPackagesMissing: internalAlert,
  TelemetryExportError: internalRetry,
  InvalidMemoryInput: clientReject,
  MemoryBackendError: internalRetry,
  DeadLetterNotFound: clientReject,
  DlqStoreError: internalRetry,
  // agents (src/agent)
  ActionFailed: internalRestart,
  ActionTimeout: row("transient", "internal", true, "retry"),
  AgentNotFound: clientReject,
  BusOverflow: row("transient", "internal", true, "wait"),
  CmdFailed: internalRestart,
  DirectiveQueueFull: row("transient", "internal", true, "wait"),
  InvalidAgentOptions: internalAlert,
  InvalidMessage: clientReject,
  InvalidOutput: internalReject,
  InvalidParams: clientReject,
  InvalidRoute: clientReject,
  InvalidSignal: clientReject,
  InvalidState: internalRestart,
  NoRoute: clientReject,
  StatusTimeout: internalRetry,
  ToolDenied: clientReject,
  UnknownTool: clientReject,
  // LLM agents (src/llmagent)
  AgentBusy: row("transient", "client", true, "wait"),
  AgentStartFailed: internalRestart,
  InvalidAgentId: clientReject,
  InvalidAgentOutput: row("transient", "provider", true, "retry"),
  InvalidTurnInput: clientReject,
  TurnCancelled: clientReject,
  TurnCrashed: internalRestart,
  TurnFailed: row("transient", "provider", false, "fallback"),
  UnknownAgentKind: clientReject,
  // runtime
  ActorExited: internalRestart,
  AlreadyPresent: internalReject,
  AlreadyStarted: internalReject,
  CallTimeout: internalRetry,
  CallingSelf: internalReject,
  ChildNotFound: internalReject,
  ChildRestarting: row("transient", "internal", true, "wait"),
  ChildRunning: internalReject,
  FailedToStartChild: internalRestart,
  InitFailed: internalRestart,
  InvalidOptions: internalAlert,
  MailboxFull: row("transient", "internal", true, "wait"),
  MaxChildren: internalAlert,
  NoProc: internalRestart,
  StartIgnored: internalReject,
  StopFailed: internalAlert
}

/** The tag of an error value: its `_tag` when it has a string one, else `unknown`. Never throws. */
export const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "unknown"

/** Whether a string is a classified tag. */
export const isErrorTag = (tag: string): tag is ErrorTag => Object.hasOwn(taxonomy, tag)

/** The class of an error value or tag; `unknownClass` for anything unclassified. */
export const classify = (error: unknown): ErrorClass => {
  const tag = typeof error === "string" ? error : tagOf(error)
  return isErrorTag(tag) ? taxonomy[tag] : unknownClass
}

/** The taxonomy as a markdown table (the README's table is this output). */
export const taxonomyMarkdown = (): string => {
  const lines = ["| tag | transience | source | retryable | recovery |", "| --- | --- | --- | --- | --- |"]
  for (const tag of Object.keys(taxonomy).sort()) {
    const c = taxonomy[tag as ErrorTag] // keys of `taxonomy` are ErrorTags by construction
    lines.push(`| ${tag} | ${c.transience} | ${c.source} | ${c.retryable ? "yes" : "no"} | ${c.recovery} |`)
  }
  return lines.join("\n")
}

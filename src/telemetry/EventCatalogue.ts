/**
 * The catalogue of every telemetry event troupe emits, as documentation and as data.
 *
 * Modelled on the "Telemetry events" sections of Elixir libraries (Phoenix, Ecto, Finch): every event has a fixed
 * name path, documented measurements (with units) and metadata keys. `Events` holds the names as frozen constants
 * (emitting with a constant also hits the hub's identity cache); `eventCatalogue` is the same list as data, and
 * `catalogueMarkdown()` renders it as the table below for the README.
 *
 * Units: `duration`/`monotonic_time` nanoseconds (Effect `Clock`), `system_time` Unix ms, tokens are counts,
 * `cost` is USD. Span events (`start`/`stop`/`exception`) follow `:telemetry.span/3`; `exception` metadata adds
 * `kind` (`failure` | `defect` | `interrupt`), `reason` and `error_type`.
 *
 * | event | status | measurements | metadata | emitted by |
 * |---|---|---|---|---|
 * | troupe.llm.call.start | emitted | monotonic_time, system_time | provider, model, operation, temperature?, max_tokens?, top_p?, component | TelemetryHub.trackLlmCall |
 * | troupe.llm.call.stop | emitted | duration, monotonic_time, input_tokens?, output_tokens?, total_tokens?, estimated_input_tokens?, cost? | start metadata + response_model?, finish_reason? | TelemetryHub.trackLlmCall |
 * | troupe.llm.call.exception | emitted | duration, monotonic_time | start metadata + kind, reason, error_type | TelemetryHub.trackLlmCall |
 * | troupe.llm.token.usage | emitted | input_tokens, output_tokens, total_tokens, estimated_input_tokens?, cost? | provider, model, response_model? | TelemetryHub.trackLlmCall |
 * | troupe.tool.execution.start/stop/exception | emitted | span measurements | tool, agent?, component (+ exception keys) | TelemetryHub.trackToolExecution |
 * | troupe.agent.action.start/stop/exception | emitted | span measurements | agent, action, component (+ exception keys) | TelemetryHub.trackAgentAction |
 * | troupe.agent.turn.start/stop/exception | emitted | span measurements; stop adds steps, tool_calls, input_tokens, output_tokens, total_tokens, estimated_input_tokens, cost, repairs | agent, agent_id, mode, component (+ stop_reason; exception keys) | LlmAgents |
 * | troupe.algorithm.execution.start/stop/exception | emitted | span measurements | algorithm, component (+ exception keys) | TelemetryHub.trackAlgorithmExecution |
 * | troupe.budget.alert | emitted | threshold, spent, limit | scope, reason | Budgets |
 * | troupe.cache.hit | emitted | count | cache | Cache |
 * | troupe.cache.miss | emitted | count | cache | Cache |
 * | troupe.cache.eviction | emitted | count | cache, reason (ttl, capacity, explicit) | Cache |
 * | troupe.rate_limiter.limited | emitted | count, retry_after (ms) | limiter, policy | RateLimiter |
 * | troupe.config.changed | emitted | changed_paths (count) | paths (secrets masked), source (update, patch, reload) | ConfigStore |
 * | troupe.supervisor.started | emitted | system_time | supervisor | LifecycleBridge |
 * | troupe.supervisor.stopped | emitted | system_time | supervisor, reason?, reason_detail? | LifecycleBridge |
 * | troupe.supervisor.child.started | emitted | system_time | supervisor, child_id, pid? | LifecycleBridge |
 * | troupe.supervisor.child.exited | emitted | system_time | supervisor, child_id, pid?, reason, reason_detail | LifecycleBridge |
 * | troupe.supervisor.child.restarted | emitted | system_time, delay_millis? | supervisor, child_id, reason?, reason_detail? | LifecycleBridge |
 * | troupe.supervisor.child.start_failed | emitted | system_time | supervisor, child_id, reason, reason_detail | LifecycleBridge |
 * | troupe.supervisor.restart_intensity.reached | emitted | system_time | supervisor, reason?, reason_detail? | LifecycleBridge |
 *
 * Supervisor `reason` is the exit reason's kind (`normal`, `shutdown`, `killed`, `failure`, `noproc`) and
 * `reason_detail` its rendering (`ExitReason.format`).
 * | troupe.telemetry.handler.failure | emitted | system_time | handler_id, event_name, kind (failure, defect, throw), reason, error_type | TelemetryHub |
 * | troupe.breaker.opened / half_opened / closed / rejected | reserved | count | breaker, reason? | CircuitBreaker (later) |
 * | troupe.security.injection.detected / policy.violation / redaction.applied | reserved | count | detector or policy, severity | Security (later) |
 *
 * @since 0.1.0
 */
import type { EventName } from "./TelemetryEvent.ts"

const name = (...segments: ReadonlyArray<string>): EventName => Object.freeze([...segments])

/** Frozen event-name constants for every catalogued event. */
export const Events = {
  llmCallStart: name("troupe", "llm", "call", "start"),
  llmCallStop: name("troupe", "llm", "call", "stop"),
  llmCallException: name("troupe", "llm", "call", "exception"),
  llmTokenUsage: name("troupe", "llm", "token", "usage"),
  toolExecutionStart: name("troupe", "tool", "execution", "start"),
  toolExecutionStop: name("troupe", "tool", "execution", "stop"),
  toolExecutionException: name("troupe", "tool", "execution", "exception"),
  agentActionStart: name("troupe", "agent", "action", "start"),
  agentActionStop: name("troupe", "agent", "action", "stop"),
  agentActionException: name("troupe", "agent", "action", "exception"),
  agentTurnStart: name("troupe", "agent", "turn", "start"),
  agentTurnStop: name("troupe", "agent", "turn", "stop"),
  agentTurnException: name("troupe", "agent", "turn", "exception"),
  algorithmExecutionStart: name("troupe", "algorithm", "execution", "start"),
  algorithmExecutionStop: name("troupe", "algorithm", "execution", "stop"),
  algorithmExecutionException: name("troupe", "algorithm", "execution", "exception"),
  budgetAlert: name("troupe", "budget", "alert"),
  cacheHit: name("troupe", "cache", "hit"),
  cacheMiss: name("troupe", "cache", "miss"),
  cacheEviction: name("troupe", "cache", "eviction"),
  rateLimited: name("troupe", "rate_limiter", "limited"),
  configChanged: name("troupe", "config", "changed"),
  supervisorStarted: name("troupe", "supervisor", "started"),
  supervisorStopped: name("troupe", "supervisor", "stopped"),
  supervisorChildStarted: name("troupe", "supervisor", "child", "started"),
  supervisorChildExited: name("troupe", "supervisor", "child", "exited"),
  supervisorChildRestarted: name("troupe", "supervisor", "child", "restarted"),
  supervisorChildStartFailed: name("troupe", "supervisor", "child", "start_failed"),
  supervisorRestartIntensityReached: name("troupe", "supervisor", "restart_intensity", "reached"),
  telemetryHandlerFailure: name("troupe", "telemetry", "handler", "failure"),
  errorsAnomaly: name("troupe", "errors", "anomaly"),
  breakerOpened: name("troupe", "breaker", "opened"),
  breakerHalfOpened: name("troupe", "breaker", "half_opened"),
  breakerClosed: name("troupe", "breaker", "closed"),
  breakerRejected: name("troupe", "breaker", "rejected"),
  securityInjectionDetected: name("troupe", "security", "injection", "detected"),
  securityPolicyViolation: name("troupe", "security", "policy", "violation"),
  securityRedactionApplied: name("troupe", "security", "redaction", "applied"),
  auditRecorded: name("troupe", "audit", "recorded")
} as const

/** The span prefixes used by the `track*` helpers (`span` appends `start` / `stop` / `exception`). */
export const SpanPrefixes = {
  llmCall: name("troupe", "llm", "call"),
  toolExecution: name("troupe", "tool", "execution"),
  agentAction: name("troupe", "agent", "action"),
  algorithmExecution: name("troupe", "algorithm", "execution")
} as const

/** One catalogue row. */
export interface CatalogueEntry {
  readonly name: EventName
  /** `reserved`: the name is fixed now; the emitting subsystem lands later. */
  readonly status: "emitted" | "reserved"
  readonly measurements: ReadonlyArray<string>
  readonly metadata: ReadonlyArray<string>
  readonly emittedBy: string
  readonly description: string
}

const spanMeasurements = {
  start: ["monotonic_time", "system_time"],
  stop: ["duration", "monotonic_time"],
  exception: ["duration", "monotonic_time"]
} as const
const exceptionKeys = ["kind", "reason", "error_type"] as const
const lifecycle = (
  n: EventName,
  metadata: ReadonlyArray<string>,
  description: string,
  measurements: ReadonlyArray<string> = ["system_time"]
): CatalogueEntry => ({ name: n, status: "emitted", measurements, metadata, emittedBy: "LifecycleBridge", description })
const spanTriple = (
  prefix: string,
  start: EventName,
  stop: EventName,
  exception: EventName,
  metadata: ReadonlyArray<string>,
  emittedBy: string
): ReadonlyArray<CatalogueEntry> => [
  {
    name: start,
    status: "emitted",
    measurements: spanMeasurements.start,
    metadata,
    emittedBy,
    description: `${prefix} began`
  },
  {
    name: stop,
    status: "emitted",
    measurements: spanMeasurements.stop,
    metadata,
    emittedBy,
    description: `${prefix} succeeded`
  },
  {
    name: exception,
    status: "emitted",
    measurements: spanMeasurements.exception,
    metadata: [...metadata, ...exceptionKeys],
    emittedBy,
    description: `${prefix} failed, died or was interrupted`
  }
]
const reserved = (
  n: EventName,
  metadata: ReadonlyArray<string>,
  emittedBy: string,
  description: string
): CatalogueEntry => ({
  name: n,
  status: "reserved",
  measurements: ["count"],
  metadata,
  emittedBy,
  description
})

/** Every event troupe emits or reserves, in catalogue order. */
export const eventCatalogue: ReadonlyArray<CatalogueEntry> = [
  {
    name: Events.llmCallStart,
    status: "emitted",
    measurements: spanMeasurements.start,
    metadata: ["provider", "model", "operation", "temperature?", "max_tokens?", "top_p?", "component"],
    emittedBy: "TelemetryHub.trackLlmCall",
    description: "an LLM request was sent"
  },
  {
    name: Events.llmCallStop,
    status: "emitted",
    measurements: [
      ...spanMeasurements.stop,
      "input_tokens?",
      "output_tokens?",
      "total_tokens?",
      "estimated_input_tokens?",
      "cost?"
    ],
    metadata: ["provider", "model", "operation", "response_model?", "finish_reason?", "component"],
    emittedBy: "TelemetryHub.trackLlmCall",
    description: "an LLM request completed"
  },
  {
    name: Events.llmCallException,
    status: "emitted",
    measurements: spanMeasurements.exception,
    metadata: ["provider", "model", "operation", "component", ...exceptionKeys],
    emittedBy: "TelemetryHub.trackLlmCall",
    description: "an LLM request failed, died or was interrupted"
  },
  {
    name: Events.llmTokenUsage,
    status: "emitted",
    measurements: ["input_tokens", "output_tokens", "total_tokens", "estimated_input_tokens?", "cost?"],
    metadata: ["provider", "model", "response_model?"],
    emittedBy: "TelemetryHub.trackLlmCall",
    description: "token usage (and cost, when known) of one completed LLM call"
  },
  ...spanTriple(
    "a tool execution",
    Events.toolExecutionStart,
    Events.toolExecutionStop,
    Events.toolExecutionException,
    ["tool", "agent?", "component"],
    "TelemetryHub.trackToolExecution"
  ),
  ...spanTriple("an agent action", Events.agentActionStart, Events.agentActionStop, Events.agentActionException, [
    "agent",
    "action",
    "component"
  ], "TelemetryHub.trackAgentAction"),
  {
    name: Events.agentTurnStart,
    status: "emitted",
    measurements: spanMeasurements.start,
    metadata: ["agent", "agent_id", "mode", "component"],
    emittedBy: "LlmAgents",
    description: "a supervised LLM agent began a turn (mode: ask, stream or tell)"
  },
  {
    name: Events.agentTurnStop,
    status: "emitted",
    measurements: [
      ...spanMeasurements.stop,
      "steps",
      "tool_calls",
      "input_tokens",
      "output_tokens",
      "total_tokens",
      "estimated_input_tokens",
      "cost",
      "repairs"
    ],
    metadata: ["agent", "agent_id", "mode", "stop_reason", "component"],
    emittedBy: "LlmAgents",
    description: "a supervised LLM agent answered a turn"
  },
  {
    name: Events.agentTurnException,
    status: "emitted",
    measurements: spanMeasurements.exception,
    metadata: ["agent", "agent_id", "mode", "component", ...exceptionKeys],
    emittedBy: "LlmAgents",
    description: "a turn failed, crashed its agent (defect) or was cancelled (interrupt)"
  },
  ...spanTriple(
    "an algorithm execution",
    Events.algorithmExecutionStart,
    Events.algorithmExecutionStop,
    Events.algorithmExecutionException,
    ["algorithm", "component"],
    "TelemetryHub.trackAlgorithmExecution"
  ),
  {
    name: Events.budgetAlert,
    status: "emitted",
    measurements: ["threshold", "spent", "limit"],
    metadata: ["scope", "reason"],
    emittedBy: "Budgets",
    description:
      "a budget's spend reached an alert threshold (reason spend), or it refused a reservation (reason exhausted)"
  },
  {
    name: Events.cacheHit,
    status: "emitted",
    measurements: ["count"],
    metadata: ["cache"],
    emittedBy: "Cache",
    description: "a lookup found a live entry"
  },
  {
    name: Events.cacheMiss,
    status: "emitted",
    measurements: ["count"],
    metadata: ["cache"],
    emittedBy: "Cache",
    description: "a lookup found no live entry"
  },
  {
    name: Events.cacheEviction,
    status: "emitted",
    measurements: ["count"],
    metadata: ["cache", "reason"],
    emittedBy: "Cache",
    description: "entries were evicted (reason: ttl, capacity or explicit)"
  },
  {
    name: Events.rateLimited,
    status: "emitted",
    measurements: ["count", "retry_after"],
    metadata: ["limiter", "policy"],
    emittedBy: "RateLimiter",
    description: "a request was rejected or delayed by a rate-limit policy (retry_after in ms)"
  },
  {
    name: Events.configChanged,
    status: "emitted",
    measurements: ["changed_paths"],
    metadata: ["paths", "source"],
    emittedBy: "ConfigStore",
    description: "the live configuration changed; paths are listed with secrets masked"
  },
  lifecycle(Events.supervisorStarted, ["supervisor"], "a supervisor started"),
  lifecycle(Events.supervisorStopped, ["supervisor", "reason?", "reason_detail?"], "a supervisor stopped"),
  lifecycle(Events.supervisorChildStarted, ["supervisor", "child_id", "pid?"], "a supervised child started"),
  lifecycle(
    Events.supervisorChildExited,
    ["supervisor", "child_id", "pid?", "reason", "reason_detail"],
    "a supervised child exited"
  ),
  lifecycle(
    Events.supervisorChildRestarted,
    ["supervisor", "child_id", "reason?", "reason_detail?"],
    "a supervised child was restarted",
    ["system_time", "delay_millis?"]
  ),
  lifecycle(
    Events.supervisorChildStartFailed,
    ["supervisor", "child_id", "reason", "reason_detail"],
    "a supervised child failed to start"
  ),
  lifecycle(
    Events.supervisorRestartIntensityReached,
    ["supervisor", "reason?", "reason_detail?"],
    "a supervisor exceeded maxRestarts within maxSeconds and gave up"
  ),
  {
    name: Events.telemetryHandlerFailure,
    status: "emitted",
    measurements: ["system_time"],
    metadata: ["handler_id", "event_name", "kind", "reason", "error_type"],
    emittedBy: "TelemetryHub",
    description: "a handler threw, failed or died; it was detached (like :telemetry's handler failure event)"
  },
  {
    name: Events.errorsAnomaly,
    status: "emitted",
    measurements: ["count", "mean", "stddev", "system_time"],
    metadata: ["error_class", "recovery", "source"],
    emittedBy: "ErrorAnalytics",
    description:
      "an error class's rate in the current bucket rose above its baseline by k σ (once per class and bucket)"
  },
  {
    name: Events.breakerOpened,
    status: "emitted",
    measurements: ["count", "retry_after", "consecutive_openings"],
    metadata: ["breaker", "provider", "from"],
    emittedBy: "BreakerStep",
    description: "a provider's circuit breaker opened"
  },
  {
    name: Events.breakerHalfOpened,
    status: "emitted",
    measurements: ["count"],
    metadata: ["breaker", "provider", "from"],
    emittedBy: "BreakerStep",
    description: "a circuit breaker admits a probe"
  },
  {
    name: Events.breakerClosed,
    status: "emitted",
    measurements: ["count"],
    metadata: ["breaker", "provider", "from"],
    emittedBy: "BreakerStep",
    description: "a circuit breaker closed again"
  },
  {
    name: Events.breakerRejected,
    status: "emitted",
    measurements: ["count", "retry_after?"],
    metadata: ["breaker", "provider", "reason"],
    emittedBy: "BreakerStep",
    description: "a call was rejected by an open breaker"
  },
  {
    name: Events.securityInjectionDetected,
    status: "emitted",
    measurements: ["count"],
    metadata: ["stage", "scanner", "action", "detector", "route?", "tenant?", "agent?"],
    emittedBy: "Guard",
    description: "the prompt-injection scanner flagged a text"
  },
  {
    name: Events.securityPolicyViolation,
    status: "emitted",
    measurements: ["count"],
    metadata: ["stage", "scanner", "action", "policy", "route?", "tenant?", "agent?"],
    emittedBy: "Guard",
    description: "a guard policy blocked a text"
  },
  {
    name: Events.securityRedactionApplied,
    status: "emitted",
    measurements: ["count"],
    metadata: ["stage", "scanner", "action", "route?", "tenant?", "agent?"],
    emittedBy: "Guard",
    description: "secrets or PII were redacted from a text (count: the findings)"
  },
  {
    name: Events.auditRecorded,
    status: "emitted",
    measurements: ["count", "seq"],
    metadata: ["tenant", "action", "status"],
    emittedBy: "Audit",
    description:
      "a security-relevant event was appended to the audit log (actor, resource and metadata stay in the log)"
  }
]

/** Renders `eventCatalogue` as a Markdown table (for the README). */
export const catalogueMarkdown = (entries: ReadonlyArray<CatalogueEntry> = eventCatalogue): string =>
  [
    "| event | status | measurements | metadata | emitted by | description |",
    "|---|---|---|---|---|---|",
    ...entries.map((e) =>
      `| \`${e.name.join(".")}\` | ${e.status} | ${e.measurements.join(", ")} | ${
        e.metadata.join(", ")
      } | ${e.emittedBy} | ${e.description} |`
    )
  ].join("\n")

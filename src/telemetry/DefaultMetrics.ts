/**
 * troupe's default metric definitions: one or more metrics for every emitted event of the catalogue.
 *
 * The equivalent of the `metrics/0` function a Phoenix app's `Telemetry` supervisor returns (a list of
 * `Telemetry.Metrics` definitions handed to reporters). `TelemetryHub.layer()` records exactly these; pass your own
 * list (for instance `[...defaultMetrics, myMetric]`) to `TelemetryHub.layerWith`. Durations are recorded in
 * seconds (`scale: 1e-9`, Prometheus base units).
 *
 * Tags are low-cardinality by rule: never an id that grows without bound (agent ids, child ids, tool call ids), which
 * stays in the event metadata instead. Supervision restarts are tagged by `supervisor` only and start failures by
 * `supervisor` and `reason` (the exit reason's tag).
 *
 * @since 0.1.0
 */
import { Events } from "./EventCatalogue.ts"
import type { MetricDefinition } from "./MetricDefinition.ts"
import { counter, distribution, lastValue, sum, summary } from "./MetricDefinition.ts"

/** Bucket bounds (seconds) for LLM calls: 50 ms to 2 min. */
export const llmDurationBuckets: ReadonlyArray<number> = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
/** Bucket bounds (seconds) for tools and algorithms: 1 ms to 30 s. */
export const fastDurationBuckets: ReadonlyArray<number> = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const llmTags = ["provider", "model"] as const
const seconds = { measurement: "duration", unit: "seconds", scale: 1e-9 } as const

/**
 * The metrics every hub defines unless told otherwise: LLM calls, tokens, cost and latency; tool executions, agent
 * actions and turns; rate-limit refusals, config changes, supervision restarts and exits, and handler failures.
 */
export const defaultMetrics: ReadonlyArray<MetricDefinition> = [
  // LLM calls
  counter({
    name: "troupe_llm_calls_total",
    event: Events.llmCallStop,
    tags: llmTags,
    description: "Completed LLM calls"
  }),
  counter({
    name: "troupe_llm_call_exceptions_total",
    event: Events.llmCallException,
    tags: [...llmTags, "kind", "error_type"],
    description: "LLM calls that failed, died or were interrupted"
  }),
  distribution({
    name: "troupe_llm_call_duration_seconds",
    event: Events.llmCallStop,
    tags: llmTags,
    ...seconds,
    buckets: llmDurationBuckets,
    description: "LLM call response time"
  }),
  sum({
    name: "troupe_llm_input_tokens_total",
    event: Events.llmTokenUsage,
    measurement: "input_tokens",
    tags: llmTags,
    unit: "tokens",
    description: "Prompt (input) tokens used"
  }),
  sum({
    name: "troupe_llm_output_tokens_total",
    event: Events.llmTokenUsage,
    measurement: "output_tokens",
    tags: llmTags,
    unit: "tokens",
    description: "Completion (output) tokens used"
  }),
  sum({
    name: "troupe_llm_tokens_total",
    event: Events.llmTokenUsage,
    measurement: "total_tokens",
    tags: llmTags,
    unit: "tokens",
    description: "Tokens used (input + output)"
  }),
  lastValue({
    name: "troupe_llm_call_cost_usd",
    event: Events.llmTokenUsage,
    measurement: "cost",
    tags: llmTags,
    unit: "usd",
    description: "Cost of the most recent LLM call"
  }),
  sum({
    name: "troupe_llm_cost_usd_total",
    event: Events.llmTokenUsage,
    measurement: "cost",
    tags: llmTags,
    unit: "usd",
    description: "Accumulated LLM cost"
  }),
  // tools, agents, algorithms
  counter({
    name: "troupe_tool_executions_total",
    event: Events.toolExecutionStop,
    tags: ["tool"],
    description: "Completed tool executions"
  }),
  counter({
    name: "troupe_tool_execution_exceptions_total",
    event: Events.toolExecutionException,
    tags: ["tool", "kind", "error_type"],
    description: "Tool executions that failed, died or were interrupted"
  }),
  distribution({
    name: "troupe_tool_execution_duration_seconds",
    event: Events.toolExecutionStop,
    tags: ["tool"],
    ...seconds,
    buckets: fastDurationBuckets,
    description: "Tool execution time"
  }),
  counter({
    name: "troupe_agent_actions_total",
    event: Events.agentActionStop,
    tags: ["agent", "action"],
    description: "Completed agent actions"
  }),
  counter({
    name: "troupe_agent_action_exceptions_total",
    event: Events.agentActionException,
    tags: ["agent", "action", "kind", "error_type"],
    description: "Agent actions that failed, died or were interrupted"
  }),
  summary({
    name: "troupe_agent_action_duration_seconds",
    event: Events.agentActionStop,
    tags: ["agent"],
    ...seconds,
    quantiles: [0.5, 0.9, 0.99],
    maxAgeMillis: 60_000,
    maxSize: 1_000,
    description: "Agent action time (1 min window)"
  }),
  // supervised LLM agents (`LlmAgents`): turns by definition (never by agent id: ids are unbounded)
  counter({
    name: "troupe_agent_turns_total",
    event: Events.agentTurnStop,
    tags: ["agent", "stop_reason"],
    description: "Turns answered by LLM agents"
  }),
  counter({
    name: "troupe_agent_turn_exceptions_total",
    event: Events.agentTurnException,
    tags: ["agent", "kind", "error_type"],
    description: "LLM agent turns that failed, crashed their agent or were cancelled"
  }),
  distribution({
    name: "troupe_agent_turn_duration_seconds",
    event: Events.agentTurnStop,
    tags: ["agent"],
    ...seconds,
    buckets: llmDurationBuckets,
    description: "LLM agent turn time"
  }),
  sum({
    name: "troupe_agent_turn_steps_total",
    event: Events.agentTurnStop,
    measurement: "steps",
    tags: ["agent"],
    description: "Model calls made by LLM agent turns"
  }),
  sum({
    name: "troupe_agent_turn_tool_calls_total",
    event: Events.agentTurnStop,
    measurement: "tool_calls",
    tags: ["agent"],
    description: "Tool calls made by LLM agent turns"
  }),
  sum({
    name: "troupe_agent_turn_input_tokens_total",
    event: Events.agentTurnStop,
    measurement: "input_tokens",
    tags: ["agent"],
    unit: "tokens",
    description: "Input tokens used by LLM agent turns"
  }),
  sum({
    name: "troupe_agent_turn_output_tokens_total",
    event: Events.agentTurnStop,
    measurement: "output_tokens",
    tags: ["agent"],
    unit: "tokens",
    description: "Output tokens used by LLM agent turns"
  }),
  sum({
    name: "troupe_agent_turn_cost_usd_total",
    event: Events.agentTurnStop,
    measurement: "cost",
    tags: ["agent"],
    description: "Estimated cost of LLM agent turns (USD)"
  }),
  counter({
    name: "troupe_algorithm_executions_total",
    event: Events.algorithmExecutionStop,
    tags: ["algorithm"],
    description: "Completed algorithm executions"
  }),
  counter({
    name: "troupe_algorithm_execution_exceptions_total",
    event: Events.algorithmExecutionException,
    tags: ["algorithm", "kind", "error_type"],
    description: "Algorithm executions that failed, died or were interrupted"
  }),
  distribution({
    name: "troupe_algorithm_execution_duration_seconds",
    event: Events.algorithmExecutionStop,
    tags: ["algorithm"],
    ...seconds,
    buckets: fastDurationBuckets,
    description: "Algorithm execution time"
  }),
  // rate limiter, config. (Cache hits, misses and evictions are recorded by the cache itself as
  // `troupe_cache_*` Effect metrics in the same registry — see `src/cache/CacheMetrics.ts` — so the hub does not
  // record its cache events again, which would double-count them.)
  sum({
    name: "troupe_rate_limited_total",
    event: Events.rateLimited,
    measurement: "count",
    tags: ["limiter"],
    description: "Requests rejected or delayed by a rate limit"
  }),
  counter({
    name: "troupe_config_changes_total",
    event: Events.configChanged,
    tags: ["source"],
    description: "Configuration changes applied"
  }),
  // supervision: by supervisor (and exit reason where the event has one), never by child id (a dynamic supervisor's ids, such as agent ids or
  // tool call ids, are unbounded); the child id stays in the event metadata
  counter({
    name: "troupe_supervisor_child_restarts_total",
    event: Events.supervisorChildRestarted,
    tags: ["supervisor"],
    description: "Supervised children restarted"
  }),
  counter({
    name: "troupe_supervisor_child_exits_total",
    event: Events.supervisorChildExited,
    tags: ["supervisor", "reason"],
    description: "Supervised children exited"
  }),
  counter({
    name: "troupe_supervisor_child_start_failures_total",
    event: Events.supervisorChildStartFailed,
    tags: ["supervisor", "reason"],
    description: "Supervised children that failed to start"
  }),
  counter({
    name: "troupe_supervisor_restart_intensity_reached_total",
    event: Events.supervisorRestartIntensityReached,
    tags: ["supervisor"],
    description: "Supervisors that exceeded their restart intensity"
  }),
  // telemetry itself
  counter({
    name: "troupe_telemetry_handler_failures_total",
    event: Events.telemetryHandlerFailure,
    tags: ["handler_id", "kind"],
    description: "Telemetry handlers detached after a failure"
  })
]

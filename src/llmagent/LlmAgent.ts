/**
 * `LlmAgent`: the definition of a supervised, tool-using LLM agent — what `LlmAgents` runs as one process per
 * conversation.
 *
 * A definition is data: a name (which is also the id prefix it serves, `<name>:<key>`), instructions (the system
 * prompt), the model (an alias or `provider:model` spec) and optionally the model client (default: the pipeline's
 * `Llm` from the context), the tools (actions, and other agents offered as tools with `asTool`), the step budget,
 * the memory policy (`"conversation"`: history kept in `ConversationMemory` under the agent id, loaded at start
 * and before every turn; `"none"`: every turn stands alone), an optional output Schema (the final answer is JSON
 * decoded with it; a decode failure is sent back to the model for repair up to `repairs` times), the OTP restart
 * type (`permanent`, `transient` — the default —, `temporary` for one-shot tasks) and the idle timeout after which
 * an agent without work hibernates and stops (it comes back on its next message, with its history), and whether its
 * turns are durable (`durable`: each turn a workflow run whose model and tool calls are journaled, see `Journal`;
 * `idempotentTools` names the tools that may run again after a crash, every other tool runs at most once).
 *
 * Every requirement is in the type: `LlmAgent<Out, E, R>` has `ConversationMemory` in `R` when it keeps
 * conversation memory, `Llm` when it has no model client of its own, `WorkflowEngine`, `RunJournal` and `ToolLedger`
 * when its turns are durable, and the requirements of its tools' actions and of its sub-agents. `LlmAgents.layer` requires the union of its definitions' `R`, so a program that forgets a
 * service does not compile, and no service is looked up at run time.
 *
 * Mirrors a Jido agent definition (`use Jido.Agent` with an LLM strategy) and the agent constructors of LLM
 * toolkits (OpenAI Agents SDK `Agent(name, instructions, tools, output_type)`, Vercel AI SDK `Agent`). Definitions
 * are code: a malformed option throws at definition time, naming the field (like `Action.make`).
 */
import { Duration, Option, Schema } from "effect"
import type { WorkflowEngine } from "effect/workflow"
import type { Action, AgentLoop } from "../agent/index.ts"
import type { ToolDefinition } from "../agent/Tool.ts"
import type { ToolPolicy } from "../agent/ToolRunner.ts"
import type { LlmParams, ToolChoice } from "../llm/index.ts"
import type { ConversationMemory } from "../memory/index.ts"
import type { Llm, LlmError } from "../pipeline/index.ts"
import type { ToolLedger } from "./Journal.ts"
import type { RunJournal } from "./RunJournal.ts"

/** The brand that marks an `LlmAgent` definition. */
export const TypeId: unique symbol = Symbol.for("troupe/llmagent/LlmAgent")
export type TypeId = typeof TypeId

/** Where the conversation lives: `ConversationMemory` under the agent id, or nowhere (turns stand alone). */
export type MemoryPolicy = "conversation" | "none"

/** OTP restart types: `permanent` always restarted, `transient` after a crash only, `temporary` never. */
export type RestartType = "permanent" | "transient" | "temporary"

/** Another agent offered as a tool (see `asTool`): a child of the calling agent, supervised under it. */
export interface SubAgentTool<R = unknown> {
  readonly _tag: "SubAgentTool"
  readonly name: string
  readonly description: string
  readonly agent: AnyLlmAgent
  readonly _R?: (_: never) => R
}

/** What a definition is made of (validated by `make`). */
export interface LlmAgentOptions {
  /** the definition name: ids `<name>:<key>` are served by it; `[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 characters */
  readonly name: string
  /** the system prompt */
  readonly instructions?: string
  /** the model alias or `provider:model` spec put in every request */
  readonly model: string
  /** the model client; default: the pipeline's `Llm` from the context (then `Llm` is in `R`) */
  readonly llm?: AgentLoop.ModelClient<unknown, never>
  readonly tools?: ReadonlyArray<ToolDefinition | SubAgentTool<unknown>>
  /** model calls per turn, output repairs included; default 8 */
  readonly maxSteps?: number
  /** default `"conversation"` (then `ConversationMemory` is in `R`) */
  readonly memory?: MemoryPolicy
  /** the answer's Schema: the final text is JSON decoded with it (a value with no services) */
  readonly output?: Schema.Codec<unknown, unknown, never, never>
  /**
   * repair rounds for an answer that does not decode with `output`, within the turn's `maxSteps`; default 2. A turn
   * that runs out of steps without a decodable answer fails with `TurnFailed` tagged `MaxSteps`.
   */
  readonly repairs?: number
  /** default `"transient"` */
  readonly restart?: RestartType
  /** no message for this long: hibernate and stop (revived on the next message); default 5 minutes; `"infinity"` never */
  readonly idleTimeout?: Duration.Input | "infinity"
  readonly params?: LlmParams
  readonly toolChoice?: ToolChoice
  readonly policy?: ToolPolicy
  /** tool calls running at once; default 4 */
  readonly concurrency?: number
  /** per tool call; default 30 seconds */
  readonly toolTimeout?: Duration.Input
  /** turns waiting in one agent's queue before `tell`/`ask` are refused; default 1,000 */
  readonly maxQueuedTurns?: number
  /**
   * durable turns (see `Journal`): each turn is a workflow run whose model and tool calls are journaled, resumed
   * after a crash; tools not named in `idempotentTools` are non-idempotent (they use the `ToolLedger`). Then
   * `WorkflowEngine`, `RunJournal` and `ToolLedger` are in `R`. Default: not durable
   */
  readonly durable?: boolean | DurableOptions
}

/** The durable-turn settings of a definition (`durable: { … }`). */
export interface DurableOptions {
  /** tools that may run again after a crash without harm (lookups, reads); every other tool runs at most once */
  readonly idempotentTools?: ReadonlyArray<string>
}

/** The services a definition's options need (see the module doc). */
export type RequirementsOf<O> =
  | (O extends { readonly memory: "none" } ? never : ConversationMemory)
  | (O extends { readonly llm: AgentLoop.ModelClient<unknown, never> } ? never : Llm)
  | (O extends { readonly tools: ReadonlyArray<infer T> } ? ToolRequirements<T> : never)
  | (O extends { readonly durable: true | DurableOptions } ? WorkflowEngine.WorkflowEngine | RunJournal | ToolLedger
    : never)

type ToolRequirements<T> = T extends SubAgentTool<infer R> ? R
  : T extends ToolDefinition<infer A> ? Action.Requirements<A>
  : never

/** The model error a definition's turns can fail with. */
export type ErrorOf<O> = O extends { readonly llm: AgentLoop.ModelClient<infer E, never> } ? E : LlmError

/** The decoded answer type: the output Schema's type, else the answer text. */
export type OutputOf<O> = O extends { readonly output: Schema.Codec<infer A, unknown, never, never> } ? A : string

/** A validated definition. `Out` is the answer's type, `E` the model's error, `R` what it needs to run. */
export interface LlmAgent<Out = string, E = unknown, R = never> {
  readonly [TypeId]: { readonly _Out: (_: never) => Out; readonly _E: (_: never) => E; readonly _R: (_: never) => R }
  readonly name: string
  readonly instructions: string | undefined
  readonly model: string
  readonly llm: AgentLoop.ModelClient<unknown, never> | undefined
  readonly tools: ReadonlyArray<ToolDefinition>
  readonly subAgents: ReadonlyArray<SubAgentTool>
  readonly maxSteps: number
  readonly memory: MemoryPolicy
  readonly output: Schema.Codec<unknown, unknown, never, never> | undefined
  readonly repairs: number
  readonly restart: RestartType
  /** milliseconds, or `undefined` for never */
  readonly idleMillis: number | undefined
  readonly params: LlmParams | undefined
  readonly toolChoice: ToolChoice | undefined
  readonly policy: ToolPolicy | undefined
  readonly concurrency: number | undefined
  readonly toolTimeout: Duration.Input | undefined
  readonly maxQueuedTurns: number
  /** durable turns: the idempotent tools' names; `undefined` when turns are not durable */
  readonly durable: { readonly idempotentTools: ReadonlySet<string> } | undefined
}

/** Any definition, whatever its types (for lists). */
export type AnyLlmAgent = LlmAgent<unknown, unknown, unknown>

/** The requirements of a definition. */
export type Requirements<A> = A extends LlmAgent<unknown, unknown, infer R> ? R : never

/** How long an agent waits with no turn before it hibernates and stops (5 minutes). */
export const DEFAULT_IDLE_TIMEOUT = Duration.minutes(5)
/** The default step budget of a turn (model calls with tool rounds). */
export const DEFAULT_MAX_STEPS = 8
/** How many times a structured answer that does not decode is sent back to the model for repair. */
export const DEFAULT_REPAIRS = 2
/** The default bound on turns waiting in one agent's mailbox. */
export const DEFAULT_MAX_QUEUED_TURNS = 1_000

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/

const OptionsSchema = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(NAME)),
  instructions: Schema.optionalKey(Schema.String),
  model: Schema.String.check(Schema.isMinLength(1)),
  maxSteps: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 }))),
  memory: Schema.optionalKey(Schema.Literals(["conversation", "none"])),
  repairs: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 }))),
  restart: Schema.optionalKey(Schema.Literals(["permanent", "transient", "temporary"])),
  concurrency: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))),
  maxQueuedTurns: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })))
})
const decodeOptions = Schema.decodeUnknownOption(OptionsSchema)
const decodeOptionsExit = Schema.decodeUnknownExit(OptionsSchema)

const millisOf = (input: Duration.Input | "infinity" | undefined, field: string, name: string): number | undefined => {
  if (input === "infinity") return undefined
  const d = input === undefined ? DEFAULT_IDLE_TIMEOUT : Duration.fromInputUnsafe(input)
  const ms = Duration.toMillis(d)
  if (!(ms > 0)) throw new TypeError(`LlmAgent ${name}: ${field} must be a positive duration or "infinity"`)
  return ms
}

/**
 * Defines an LLM agent. Throws a `TypeError` naming the field when an option is malformed (definitions are code).
 *
 * @example
 * ```ts
 * const Support = LlmAgent.make({
 *   name: "support",
 *   instructions: "You answer questions about orders.",
 *   model: "fast",
 *   tools: [Tool.fromAction(LookupOrder)],
 *   maxSteps: 6
 * })
 * // Support: LlmAgent<string, LlmError, ConversationMemory | Llm>
 * ```
 */
export const make = <const O extends LlmAgentOptions>(
  options: O
): LlmAgent<OutputOf<O>, ErrorOf<O>, RequirementsOf<O>> => {
  if (Option.isNone(decodeOptions(options))) {
    const exit = decodeOptionsExit(options, { errors: "first" })
    // the options failed to decode; only their name is read, as unknown
    throw new TypeError(`LlmAgent ${String((options as { name?: unknown }).name)}: invalid options: ${String(exit)}`)
  }
  if (
    options.llm !== undefined &&
    (typeof options.llm.generate !== "function" || typeof options.llm.stream !== "function")
  ) {
    throw new TypeError(`LlmAgent ${options.name}: llm must have generate and stream functions`)
  }
  const tools: Array<ToolDefinition> = []
  const subAgents: Array<SubAgentTool> = []
  const names = new Set<string>()
  for (const tool of options.tools ?? []) {
    if (names.has(tool.name)) throw new TypeError(`LlmAgent ${options.name}: duplicate tool ${tool.name}`)
    names.add(tool.name)
    // the tag says it is a SubAgentTool (the union is not narrowed through `in`)
    if ("_tag" in tool && tool._tag === "SubAgentTool") subAgents.push(tool as SubAgentTool)
    // not a SubAgentTool, so a ToolDefinition (the other member of the union)
    else tools.push(tool as ToolDefinition)
  }
  const durable = durableOf(options, tools, subAgents)
  const definition = {
    // the TypeId value only marks the definition; its phantom fields carry the types
    [TypeId]: TypeId as never,
    name: options.name,
    instructions: options.instructions,
    model: options.model,
    llm: options.llm,
    tools,
    subAgents,
    maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
    memory: options.memory ?? "conversation",
    output: options.output,
    repairs: options.repairs ?? DEFAULT_REPAIRS,
    restart: options.restart ?? "transient",
    idleMillis: millisOf(options.idleTimeout, "idleTimeout", options.name),
    params: options.params,
    toolChoice: options.toolChoice,
    policy: options.policy,
    concurrency: options.concurrency,
    toolTimeout: options.toolTimeout,
    maxQueuedTurns: options.maxQueuedTurns ?? DEFAULT_MAX_QUEUED_TURNS,
    durable
  }
  // the phantom types of a definition are computed from the options it was built from
  return definition as LlmAgent<OutputOf<O>, ErrorOf<O>, RequirementsOf<O>>
}

const durableOf = (
  options: LlmAgentOptions,
  tools: ReadonlyArray<ToolDefinition>,
  subAgents: ReadonlyArray<SubAgentTool>
): { readonly idempotentTools: ReadonlySet<string> } | undefined => {
  const durable = options.durable
  if (durable === undefined || durable === false) return undefined
  if (durable !== true && (typeof durable !== "object" || durable === null)) {
    throw new TypeError(`LlmAgent ${options.name}: durable must be a boolean or { idempotentTools }`)
  }
  if (subAgents.length > 0) throw new TypeError(`LlmAgent ${options.name}: durable turns do not support sub-agents`)
  const idempotentTools = new Set<string>()
  // a tool name is a string literal type; the Set compares them as strings
  const names = new Set(tools.map((t) => t.name as string))
  for (const name of durable === true ? [] : durable.idempotentTools ?? []) {
    if (!names.has(name)) {
      throw new TypeError(`LlmAgent ${options.name}: durable.idempotentTools names an unknown tool ${name}`)
    }
    idempotentTools.add(name)
  }
  return { idempotentTools }
}

/**
 * Offers an agent as a tool of another (Jido's `SpawnAgent` as a tool): the model calls it with `{ task }`, the
 * child agent — id `<parent id>/<name>`, started on demand and supervised under the parent's own dynamic
 * supervisor, so it stops when the parent stops — runs the task as a turn of its own conversation and its answer is
 * the tool result. Its requirements become the parent's.
 *
 * @example
 * ```ts
 * const Researcher = LlmAgent.make({ name: "researcher", model: "fast", memory: "none" })
 * const Lead = LlmAgent.make({ name: "lead", model: "fast", tools: [LlmAgent.asTool(Researcher)] })
 * ```
 */
export const asTool = <Out, E, R>(
  agent: LlmAgent<Out, E, R>,
  options: { readonly name?: string; readonly description?: string } = {}
): SubAgentTool<R> => {
  const name = options.name ?? agent.name
  if (!NAME.test(name)) throw new TypeError(`LlmAgent.asTool: invalid tool name ${JSON.stringify(name)}`)
  return {
    _tag: "SubAgentTool",
    name,
    description: options.description ?? agent.instructions ?? `Delegates a task to the ${agent.name} agent`,
    agent
  }
}

/** Whether a value is a definition made by `make`. */
export const isLlmAgent = (u: unknown): u is AnyLlmAgent => typeof u === "object" && u !== null && TypeId in u

/**
 * Running model tool calls: decode against the tool's Schema, enforce the agent's allow/deny policy, run
 * supervised with a timeout under a concurrency limit, and always answer with a value.
 *
 * Mirrors what Jido's LLM integration does with a tool call (`Jido.Action.Tool` → `Jido.Exec.run`), with
 * troupe's guarantees: a bad call (unknown tool, denied tool, malformed JSON, params that do not decode, a failing
 * or crashing or slow action) becomes a `ToolFailure` returned to the model — never a failure of the caller.
 *
 * Reuses the runtime (each call runs as a temporary `ChildSpec.task` under the runner's own `DynamicSupervisor`,
 * so a crash is contained and a timed-out call is stopped) and Effect (`Semaphore` for the concurrency limit,
 * `Deferred` for the result, `Effect.timeoutOrElse` for the timeout).
 */
import { Deferred, Duration, Effect, Exit, Result, Schema, type Scope, Semaphore } from "effect"
import { ChildSpec, DynamicSupervisor, ExitReason, type InvalidOptions } from "../runtime/index.ts"
import * as ActionRunner from "./ActionRunner.ts"
import { decodeOptions, InvalidAgentOptions, InvalidParams, ToolDenied, UnknownTool } from "./AgentError.ts"
import { type ToolDefinition, type ToolError, toToolError } from "./Tool.ts"

/** A tool call from a model: `params` is the arguments object or its JSON text. */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly params: unknown
}

/** The result of one tool call: its output, or a `ToolError` (never a crash of the agent). */
export type ToolResult =
  | { readonly _tag: "ToolSuccess"; readonly id: string; readonly name: string; readonly output: unknown }
  | { readonly _tag: "ToolFailure"; readonly id: string; readonly name: string; readonly error: ToolError }

/** Which tools an agent may call: `deny` wins over `allow`; no `allow` means every tool not denied. */
export interface ToolPolicy {
  readonly allow?: ReadonlyArray<string>
  readonly deny?: ReadonlyArray<string>
}

/** Options of `ToolRunner.make`: the tools, the allow/deny policy, the concurrency and the per-call timeout. */
export interface ToolRunnerOptions {
  readonly tools: ReadonlyArray<ToolDefinition>
  readonly policy?: ToolPolicy
  /** concurrent tool calls; default 4 */
  readonly concurrency?: number
  /** per call (on top of each action's own timeout); default 30 seconds */
  readonly timeout?: Duration.Input
  readonly name?: string
}

/**
 * Runs a model's tool calls as supervised tasks: arguments decoded with each action's params schema, policy checked,
 * bounded concurrency and timeout; every failure becomes a `ToolResult` failure.
 */
export interface ToolRunner {
  /** the tools the policy allows, as offered to a model */
  readonly definitions: ReadonlyArray<{
    readonly name: string
    readonly description: string
    readonly parameters: unknown
    readonly strict: boolean
  }>
  readonly handle: (call: ToolCall) => Effect.Effect<ToolResult>
  /** runs calls concurrently (bounded by `concurrency`); results in call order */
  readonly handleAll: (calls: ReadonlyArray<ToolCall>) => Effect.Effect<ReadonlyArray<ToolResult>>
}

const OptionsSchema = Schema.Struct({
  tools: Schema.Array(Schema.Unknown),
  policy: Schema.optional(Schema.Struct({
    allow: Schema.optional(Schema.Array(Schema.String)),
    deny: Schema.optional(Schema.Array(Schema.String))
  })),
  concurrency: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  name: Schema.optional(Schema.String)
})

/** Is `name` allowed by `policy`? */
export const isAllowed = (policy: ToolPolicy | undefined, name: string): boolean =>
  !(policy?.deny?.includes(name) ?? false) && (policy?.allow === undefined || policy.allow.includes(name))

const failure = (call: ToolCall, error: unknown): ToolResult => ({
  _tag: "ToolFailure",
  id: call.id,
  name: call.name,
  error: toToolError(error)
})

/**
 * Creates a tool runner owned by the current scope. Fails with `InvalidAgentOptions` when the options (tools,
 * policy, concurrency) are invalid and `InvalidOptions` when its tool supervisor rejects its options.
 *
 * @example
 * ```ts
 * const runner = yield* ToolRunner.make({ tools: [Tool.fromAction(Add)], policy: { deny: ["rm"] }, concurrency: 2 })
 * const result = yield* runner.handle({ id: "call_1", name: "add", params: "{\"a\":1,\"b\":2}" })
 * ```
 */
export const make = (
  options: ToolRunnerOptions
): Effect.Effect<ToolRunner, InvalidAgentOptions | InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const checked = decodeOptions(OptionsSchema, options, "tool runner options")
    if (checked instanceof Error) return yield* checked
    // a tool's name type may be a literal; the map is keyed by plain strings
    const byName = new Map(options.tools.map((t) => [t.name as string, t]))
    const semaphore = yield* Semaphore.make(options.concurrency ?? 4)
    const parsedTimeout = options.timeout === undefined ? undefined : Duration.fromInput(options.timeout)
    if (parsedTimeout !== undefined && (parsedTimeout._tag === "None" || Duration.toMillis(parsedTimeout.value) <= 0)) {
      return yield* new InvalidAgentOptions({
        subject: "tool runner options",
        path: "timeout",
        detail: "Expected a positive duration"
      })
    }
    const timeout = parsedTimeout === undefined ? Duration.seconds(30) : parsedTimeout.value
    const supervisor = yield* DynamicSupervisor.start({ name: options.name ?? "tools", maxRestarts: 1_000_000 })

    const run = (call: ToolCall, tool: ToolDefinition): Effect.Effect<ToolResult> =>
      Effect.gen(function*() {
        let args = call.params
        if (typeof args === "string") {
          try {
            args = JSON.parse(args)
          } catch {
            return failure(
              call,
              new InvalidParams({
                action: call.name,
                subject: `params of ${call.name}`,
                path: "",
                detail: "(root): arguments are not valid JSON"
              })
            )
          }
        }
        const decoded = tool.decode(args)
        if (Result.isFailure(decoded)) return failure(call, decoded.failure)
        const done = yield* Deferred.make<Exit.Exit<ActionRunner.ActionResult<unknown>, unknown>>()
        // run as a supervised task: its services were provided when the runner was made, its failure lands in `done`
        const work = Effect.exit(ActionRunner.executeDecoded(tool.action, decoded.success)).pipe(
          Effect.flatMap((exit) => Deferred.succeed(done, exit))
        ) as unknown as Effect.Effect<unknown, unknown>
        const started = yield* Effect.exit(
          DynamicSupervisor.startChild(
            supervisor,
            ChildSpec.task({ id: `tool:${call.id}`, run: work, restart: "temporary" })
          )
        )
        if (Exit.isFailure(started) || started.value === undefined) {
          return failure(call, new Error("could not start the tool"))
        }
        const process = started.value
        const exit = yield* Deferred.await(done).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () =>
              Effect.sync(() => {
                process.signalStop(ExitReason.shutdownWith("tool timeout"))
                return undefined
              })
          })
        )
        if (exit === undefined) {
          return failure(call, {
            _tag: "ToolTimeout",
            message: `tool ${call.name} timed out after ${Duration.toMillis(timeout)} ms`
          })
        }
        if (Exit.isSuccess(exit)) {
          return { _tag: "ToolSuccess", id: call.id, name: call.name, output: exit.value.output }
        }
        const reason = exit.cause.reasons[0]
        return failure(
          call,
          reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : "interrupted"
        )
      })

    const handle = (call: ToolCall): Effect.Effect<ToolResult> =>
      Effect.suspend(() => {
        const tool = byName.get(call.name)
        if (tool === undefined) {
          return Effect.succeed(failure(call, new UnknownTool({ tool: call.name, available: [...byName.keys()] })))
        }
        if (!isAllowed(options.policy, call.name)) {
          return Effect.succeed(failure(call, new ToolDenied({ tool: call.name })))
        }
        return semaphore.withPermits(1)(run(call, tool))
      })

    return {
      definitions: options.tools
        .filter((t) => isAllowed(options.policy, t.name))
        .map((t) => ({ name: t.name, description: t.description, parameters: t.parameters, strict: t.strict })),
      handle,
      handleAll: (calls) => Effect.forEach(calls, handle, { concurrency: "unbounded" })
    }
  })

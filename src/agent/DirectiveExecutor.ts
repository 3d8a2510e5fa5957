/**
 * Directive executors: one `Context.Service` per directive kind, provided as Layers.
 *
 * Mirrors Jido's `DirectiveExec` protocol (one implementation per directive struct), made type-checked: running
 * a directive requires the executor service of its kind in `R`, so `execute(Directive.stop())` is an
 * `Effect<void, never, StopExecutor>` and a program whose layers lack an executor for a directive kind it can
 * produce does not compile (see the `@ts-expect-error` test). The `AgentServer` requires all of them.
 *
 * An executor receives the directive and the `DirectiveContext` the agent server offers (the primitives: start
 * and stop children, deliver signals, schedule, run actions, stop, report errors). The default layers are thin:
 * they map each directive to its primitive; replace one (e.g. an `EmitExecutor` that also writes to an audit
 * log, or a recorder in tests) by providing another layer.
 */
import { Context, type Duration, Effect, Layer, Result } from "effect"
import type * as ExitReason from "../runtime/ExitReason.ts"
import type { Process } from "../runtime/Process.ts"
import type * as Action from "./Action.ts"
import { Bus } from "./Bus.ts"
import type * as Directive from "./Directive.ts"
import * as Signal from "./Signal.ts"

/** The primitives an agent server offers to executors; they never fail (problems go to `reportError`). */
export interface DirectiveContext {
  readonly agentId: string
  readonly self: Process
  /** the parent agent's id, if any */
  readonly parentId: string | undefined
  /** the Clock time (ms) at which the directive runs */
  readonly now: () => number
  readonly sendToParent: (signal: Signal.Signal) => Effect.Effect<void>
  readonly sendToAgent: (id: string, signal: Signal.Signal) => Effect.Effect<void>
  readonly startChild: (spec: Directive.Spawn["spec"]) => Effect.Effect<void>
  readonly startAgent: (directive: Directive.SpawnAgent) => Effect.Effect<void>
  readonly stopChild: (id: string, reason: ExitReason.ExitReason) => Effect.Effect<void>
  readonly scheduleSignal: (delay: Duration.Duration, signal: Signal.Signal) => Effect.Effect<void>
  readonly runAction: (action: Action.Any, params: unknown) => Effect.Effect<void>
  readonly stop: (reason: ExitReason.ExitReason) => Effect.Effect<void>
  readonly reportError: (error: unknown) => Effect.Effect<void>
}

/** Runs one kind of directive for an agent process. */
export type Executor<D extends Directive.Directive> = (directive: D, context: DirectiveContext) => Effect.Effect<void>

/** The executor of `Emit` directives (the default needs a `Bus`). */
export class EmitExecutor
  extends Context.Service<EmitExecutor, Executor<Directive.Emit>>()("troupe/agent/EmitExecutor")
{}
/** The executor of `Spawn` directives. */
export class SpawnExecutor
  extends Context.Service<SpawnExecutor, Executor<Directive.Spawn>>()("troupe/agent/SpawnExecutor")
{}
/** The executor of `SpawnAgent` directives. */
export class SpawnAgentExecutor
  extends Context.Service<SpawnAgentExecutor, Executor<Directive.SpawnAgent>>()("troupe/agent/SpawnAgentExecutor")
{}
/** The executor of `StopChild` directives. */
export class StopChildExecutor
  extends Context.Service<StopChildExecutor, Executor<Directive.StopChild>>()("troupe/agent/StopChildExecutor")
{}
/** The executor of `Schedule` directives. */
export class ScheduleExecutor
  extends Context.Service<ScheduleExecutor, Executor<Directive.Schedule>>()("troupe/agent/ScheduleExecutor")
{}
/** The executor of `RunAction` directives. */
export class RunActionExecutor
  extends Context.Service<RunActionExecutor, Executor<Directive.RunAction>>()("troupe/agent/RunActionExecutor")
{}
/** The executor of `Stop` directives. */
export class StopExecutor
  extends Context.Service<StopExecutor, Executor<Directive.Stop>>()("troupe/agent/StopExecutor")
{}
/** The executor of `Error` directives. */
export class ErrorExecutor
  extends Context.Service<ErrorExecutor, Executor<Directive.Error>>()("troupe/agent/ErrorExecutor")
{}

/** The executor service a directive kind needs. */
export type ExecutorFor<D extends Directive.Directive> = D extends Directive.Emit ? EmitExecutor
  : D extends Directive.Spawn ? SpawnExecutor
  : D extends Directive.SpawnAgent ? SpawnAgentExecutor
  : D extends Directive.StopChild ? StopChildExecutor
  : D extends Directive.Schedule ? ScheduleExecutor
  : D extends Directive.RunAction ? RunActionExecutor
  : D extends Directive.Stop ? StopExecutor
  : D extends Directive.Error ? ErrorExecutor
  : never

/** Every executor: what an AgentServer needs. */
export type Executors = ExecutorFor<Directive.Directive>

/** Stamps a signal input (id, time, source) at `millis`. */
export const stamp = (
  signal: Signal.Signal | Signal.SignalInput,
  source: string,
  millis: number
): Result.Result<Signal.Signal, import("./AgentError.ts").InvalidSignal> =>
  // only a made Signal has specversion (Signal.make sets it)
  "specversion" in signal ? Result.succeed(signal as Signal.Signal) : Signal.makeAt({ source, ...signal }, millis)

const withSignal = (
  context: DirectiveContext,
  input: Signal.Signal | Signal.SignalInput,
  f: (signal: Signal.Signal) => Effect.Effect<void>
): Effect.Effect<void> => {
  const stamped = stamp(input, `agent:${context.agentId}`, context.now())
  return Result.isSuccess(stamped) ? f(stamped.success) : context.reportError(stamped.failure)
}

/**
 * Runs one directive with the executor of its kind.
 *
 * @example
 * ```ts
 * const run = DirectiveExecutor.execute(Directive.stop(), context) // Effect<void, never, StopExecutor>
 * ```
 */
export const execute = <D extends Directive.Directive>(
  directive: D,
  context: DirectiveContext
): Effect.Effect<void, never, ExecutorFor<D>> => {
  // D extends Directive; the switch narrows the erased form
  const d = directive as Directive.Directive
  switch (d._tag) {
    case "Emit":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return EmitExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "Spawn":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return SpawnExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "SpawnAgent":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return SpawnAgentExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "StopChild":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return StopChildExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "Schedule":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return ScheduleExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "RunAction":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return RunActionExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "Stop":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return StopExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
    case "Error":
      // the executor of the directive's tag is the service ExecutorFor<D> names for it
      return ErrorExecutor.use((run) => run(d, context)) as Effect.Effect<void, never, ExecutorFor<D>>
  }
}

/** Runs directives in order. */
export const executeAll = <D extends Directive.Directive>(
  directives: ReadonlyArray<D>,
  context: DirectiveContext
): Effect.Effect<void, never, ExecutorFor<D>> =>
  // each directive needs its own executor, all named by ExecutorFor<D>
  Effect.forEach(directives, (d) => execute(d, context), { discard: true }) as Effect.Effect<
    void,
    never,
    ExecutorFor<D>
  >

/** Emit: to the `Bus` (a full buffer under `fail` is reported as an error), the parent, or another agent. */
export const emitLayer: Layer.Layer<EmitExecutor, never, Bus> = Layer.effect(
  EmitExecutor,
  Effect.map(
    Bus,
    (bus): Executor<Directive.Emit> => (directive, context) =>
      withSignal(context, directive.signal, (signal) => {
        switch (directive.to._tag) {
          case "Bus":
            return Effect.catch(Effect.asVoid(bus.publish(signal)), (error) => context.reportError(error))
          case "Parent":
            return context.sendToParent(signal)
          case "Agent":
            return context.sendToAgent(directive.to.id, signal)
        }
      })
  )
)

/** The default `Spawn` executor: starts the child under the agent's supervisor. */
export const spawnLayer = Layer.succeed(SpawnExecutor, (d, context) => context.startChild(d.spec))
/** The default `SpawnAgent` executor: starts the child agent on the same server. */
export const spawnAgentLayer = Layer.succeed(SpawnAgentExecutor, (d, context) => context.startAgent(d))
/** The default `StopChild` executor. */
export const stopChildLayer = Layer.succeed(StopChildExecutor, (d, context) => context.stopChild(d.id, d.reason))
/** The default `Schedule` executor: a timer that sends the signal to the agent. */
export const scheduleLayer = Layer.succeed(
  ScheduleExecutor,
  (d, context) => withSignal(context, d.signal, (signal) => context.scheduleSignal(d.delay, signal))
)
/** The default `RunAction` executor. */
export const runActionLayer = Layer.succeed(RunActionExecutor, (d, context) => context.runAction(d.action, d.params))
/** The default `Stop` executor. */
export const stopLayer = Layer.succeed(StopExecutor, (d, context) => context.stop(d.reason))
/** The default `Error` executor: applies the agent's error policy. */
export const errorLayer = Layer.succeed(ErrorExecutor, (d, context) => context.reportError(d.error))

/** Every default executor; the Emit executor needs a `Bus`. */
export const layer: Layer.Layer<Executors, never, Bus> = Layer.mergeAll(
  emitLayer,
  spawnLayer,
  spawnAgentLayer,
  stopChildLayer,
  scheduleLayer,
  runActionLayer,
  stopLayer,
  errorLayer
)

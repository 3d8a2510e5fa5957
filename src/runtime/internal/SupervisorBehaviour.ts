/**
 * The supervisor's behaviour: a gen_server that starts children, reacts to their exits, and answers
 * management calls — OTP's `supervisor` module, rule for rule.
 *
 * - Start: children start left to right; if one fails, the started ones are terminated in reverse order and
 *   `init` stops with `{shutdown, FailedToStartChild}`. An ignored temporary child is not kept.
 * - A child that exits on its own is restarted per its `restart` type (permanent always, transient only on an
 *   abnormal reason, temporary never — its spec is then removed). Each restart first passes the intensity check
 *   (`RestartIntensity`); a refused restart terminates all children in reverse start order and the supervisor
 *   exits with `shutdown`. A cascade counts once.
 * - Strategies: `oneForOne` restarts the child; `oneForAll` terminates the others in reverse start order and
 *   restarts all in start order; `restForOne` does that for the children started after it. Temporary children
 *   terminated by a cascade are removed, not restarted.
 * - A failing restart leaves the child `restarting` and sends `TryAgain` to itself; every retry counts toward the
 *   intensity (OTP's `try_again_restart`), so a hanging restart loop ends in shutdown.
 * - Auto-shutdown: a significant child that exits on its own and is not restarted shuts the supervisor down
 *   under `anySignificant`; under `allSignificant`, when no significant child is left running.
 * - Beyond OTP: a child with `backoff` waits Akka's backoff delay before its restart (cascade terminations
 *   happen at once; the restarts after the delay). The intensity counts the restart when it is decided.
 * - Scoped children (`startScopedUnderParent`): `StartUniqueChild` picks the first free id of `name`, `name#2`, …
 *   and starts the child in the same request (no race for an id); `RemoveChild` removes only the child added with
 *   that spec object and does nothing once it is gone, so a later child that reused the id is never touched.
 */
import { Effect, Result, Schema } from "effect"
import * as Actor from "../Actor.ts"
import * as Behaviour from "../Behaviour.ts"
import type { ChildSpec } from "../ChildSpec.ts"
import { normalize } from "../ChildSpec.ts"
import * as ExitReason from "../ExitReason.ts"
import type { Process } from "../Process.ts"
import {
  AlreadyPresent,
  AlreadyStarted,
  ChildNotFound,
  ChildRestarting,
  ChildRunning,
  FailedToStartChild,
  type InvalidOptions
} from "../RuntimeError.ts"
import * as BackoffRestart from "./BackoffRestart.ts"
import * as Options from "./Options.ts"
import { RestartWindow } from "./RestartIntensity.ts"
import {
  type Child,
  type ChildExit,
  emit,
  linkChildren,
  makeChild,
  makeSupervisorContext,
  shouldRestart,
  startChild,
  type SupervisorContext,
  terminateChild
} from "./SupervisorChild.ts"

export type Strategy = "oneForOne" | "oneForAll" | "restForOne"
export type AutoShutdown = "never" | "anySignificant" | "allSignificant"

/** What `init` receives: options already validated. */
export interface SupervisorConfig {
  readonly name: string
  readonly strategy: Strategy
  readonly maxRestarts: number
  readonly periodMillis: number
  readonly autoShutdown: AutoShutdown
  readonly children: ReadonlyArray<Child>
}

export interface SupervisorState {
  readonly config: SupervisorConfig
  readonly context: SupervisorContext
  children: Array<Child>
  readonly restarts: RestartWindow
}

export interface ChildInfo {
  readonly id: string
  /** the running process, `"restarting"`, or `undefined` when not running */
  readonly process: Process | "restarting" | undefined
  readonly type: "worker" | "supervisor"
  readonly restart: "permanent" | "transient" | "temporary"
}

export interface ChildCounts {
  readonly specs: number
  readonly active: number
  readonly supervisors: number
  readonly workers: number
}

export type Request =
  | { readonly _tag: "StartChild"; readonly spec: ChildSpec<unknown> }
  | { readonly _tag: "StartUniqueChild"; readonly name: string; readonly spec: (id: string) => ChildSpec<unknown> }
  | { readonly _tag: "RemoveChild"; readonly spec: ChildSpec<unknown> }
  | { readonly _tag: "TerminateChild"; readonly id: string }
  | { readonly _tag: "RestartChild"; readonly id: string }
  | { readonly _tag: "DeleteChild"; readonly id: string }
  | { readonly _tag: "WhichChildren" }
  | { readonly _tag: "CountChildren" }
  | { readonly _tag: "GetChildSpec"; readonly id: string }

export type ManagementError =
  | ChildNotFound
  | ChildRunning
  | ChildRestarting
  | AlreadyPresent
  | AlreadyStarted
  | FailedToStartChild
  | InvalidOptions

export type Response = Result.Result<unknown, ManagementError>

export type Info =
  | ChildExit
  | { readonly _tag: "TryAgain"; readonly child: Child }
  | BackoffRestart.BackoffDue

export type SupervisorProtocol = {
  readonly call: Request
  readonly reply: Response
  readonly info: Info
}

type Next = Effect.Effect<Behaviour.NoReplyResult<SupervisorState>>

const find = (state: SupervisorState, id: string): Child | undefined => state.children.find((c) => c.spec.id === id)

const remove = (state: SupervisorState, child: Child): void => {
  state.children = state.children.filter((c) => c !== child)
}

/** Terminates `children` in reverse order; temporary ones are removed from the supervisor. */
const terminateInReverse = (state: SupervisorState, children: ReadonlyArray<Child>): Effect.Effect<void> =>
  Effect.forEach([...children].reverse(), (child) =>
    Effect.map(terminateChild(state.context, child), () => {
      if (child.spec.restart === "temporary") remove(state, child)
    }), { discard: true })

/** The children a restart of `child` affects, in start order (including `child`). */
const affected = (state: SupervisorState, child: Child): ReadonlyArray<Child> => {
  switch (state.config.strategy) {
    case "oneForOne":
      return [child]
    case "oneForAll":
      return state.children
    case "restForOne":
      return state.children.slice(state.children.indexOf(child))
  }
}

/** Starts the children of a restart in start order; a failure leaves that child `restarting` and retries. */
const executeRestart = (state: SupervisorState, child: Child, delayMillis?: number): Next => {
  const plan = affected(state, child)
  const from = (index: number): Next => {
    for (let i = index; i < plan.length; i++) {
      // i < plan.length, so the element exists
      const c = plan[i] as Child
      if (c.process !== undefined || !state.children.includes(c)) continue
      if (c !== child && c.spec.restart === "temporary") continue
      return Effect.flatMap(startChild(state.context, c), (outcome): Next => {
        if (outcome._tag === "Started") {
          emit(state.context, "ChildRestarted", {
            childId: c.spec.id,
            pid: outcome.process.pid,
            ...(delayMillis !== undefined && c === child ? { delayMillis } : {})
          })
          return from(i + 1)
        }
        if (outcome._tag === "Ignored") {
          c.restarting = false
          if (c.spec.restart === "temporary") remove(state, c)
          return from(i + 1)
        }
        c.restarting = true
        Actor.sendSystemUnsafe(state.context.self, { _tag: "TryAgain", child: c } satisfies Info)
        return Effect.succeed(Behaviour.noreply(state))
      })
    }
    return Effect.succeed(Behaviour.noreply(state))
  }
  return from(0)
}

/** OTP's `restart/2`: intensity check, then the strategy (immediately, or after the child's backoff delay). */
const restart = (state: SupervisorState, child: Child): Next => {
  const now = state.context.now()
  if (!state.restarts.add(now, state.config.maxRestarts, state.config.periodMillis)) {
    emit(state.context, "RestartIntensityReached", { childId: child.spec.id })
    return Effect.succeed(Behaviour.stop(ExitReason.shutdown, state))
  }
  const others = affected(state, child).filter((c) => c !== child)
  const next = (): Next =>
    child.spec.backoff === undefined
      ? executeRestart(state, child)
      : Effect.as(BackoffRestart.schedule(state.context, child, now), Behaviour.noreply(state))
  return others.length === 0 ? next() : Effect.flatMap(terminateInReverse(state, others), next)
}

const autoShutdownDue = (state: SupervisorState, child: Child): boolean => {
  if (!child.spec.significant) return false
  switch (state.config.autoShutdown) {
    case "never":
      return false
    case "anySignificant":
      return true
    case "allSignificant":
      return !state.children.some((c) => c.spec.significant && (c.process !== undefined || c.restarting))
  }
}

const onChildExit = (state: SupervisorState, message: ChildExit): Next | Behaviour.NoReplyResult<SupervisorState> => {
  const { child, process, reason } = message
  if (child.process !== process) return Behaviour.noreply(state) // stale: already terminated or replaced
  child.process = undefined
  child.offExit = undefined
  emit(state.context, "ChildExited", { childId: child.spec.id, pid: process.pid, reason })
  if (shouldRestart(child, reason)) return restart(state, child)
  if (child.spec.restart === "temporary") remove(state, child)
  return autoShutdownDue(state, child) ? Behaviour.stop(ExitReason.shutdown, state) : Behaviour.noreply(state)
}

/** The spec as added, with OTP's defaults filled in (what `get_childspec` returns). */
const filledSpec = (child: Child): ChildSpec<unknown> => {
  const { backoff: _backoff, ...given } = child.spec.original
  const { spec } = child
  const filled = {
    ...given,
    id: spec.id,
    start: spec.start,
    restart: spec.restart,
    shutdown: spec.shutdown,
    type: spec.type,
    significant: spec.significant
  }
  return child.spec.original.backoff === undefined ? filled : { ...filled, backoff: child.spec.original.backoff }
}

const ById = (tag: "TerminateChild" | "RestartChild" | "DeleteChild" | "GetChildSpec") =>
  Schema.TaggedStruct(tag, { id: Schema.String })

/** The management requests' shape (a raw `Actor.call` to a supervisor can send anything). */
const RequestSchema = Schema.Union([
  Schema.TaggedStruct("StartChild", { spec: Schema.Unknown }),
  Schema.TaggedStruct("StartUniqueChild", { name: Schema.String, spec: Options.AFunction }),
  Schema.TaggedStruct("RemoveChild", { spec: Schema.Unknown }),
  ById("TerminateChild"),
  ById("RestartChild"),
  ById("DeleteChild"),
  ById("GetChildSpec"),
  Schema.TaggedStruct("WhichChildren", {}),
  Schema.TaggedStruct("CountChildren", {})
])
const isRequest = Schema.is(RequestSchema)

const invalidRequest = (request: unknown): InvalidOptions => {
  const checked = Options.validate(RequestSchema, request, "supervisor request")
  return Result.isFailure(checked) ? checked.failure : Options.invalid("supervisor request", "", "not a request")
}

const ok = (value: unknown): Response => Result.succeed(value)
const error = (e: ManagementError): Response => Result.fail(e)

/** `start_child`: validates `input`, adds and starts the child; replies its process. */
const addChild = (state: SupervisorState, input: ChildSpec<unknown>): Effect.Effect<Response> =>
  Effect.gen(function*() {
    const spec = normalize(input, "", state.config.autoShutdown)
    if (Result.isFailure(spec)) return error(spec.failure)
    const existing = find(state, spec.success.id)
    if (existing !== undefined) {
      return error(
        existing.process !== undefined
          ? new AlreadyStarted({ name: existing.spec.id, pid: existing.process.pid })
          : new AlreadyPresent({ id: existing.spec.id })
      )
    }
    // the state stores erased specs; R is provided by the supervisor's context
    const child = makeChild(spec.success as Child["spec"])
    const outcome = yield* startChild(state.context, child)
    if (outcome._tag === "Failed") return error(new FailedToStartChild({ id: child.spec.id, reason: outcome.reason }))
    if (outcome._tag === "Started" || child.spec.restart !== "temporary") state.children.push(child)
    return ok(outcome._tag === "Started" ? outcome.process : undefined)
  })

const handleRequest = (state: SupervisorState, request: Request): Effect.Effect<Response> =>
  Effect.gen(function*() {
    switch (request._tag) {
      case "StartChild":
        return yield* addChild(state, request.spec)
      case "StartUniqueChild": {
        let id = request.name
        for (let n = 2; find(state, id) !== undefined; n++) id = `${request.name}#${n}`
        const spec = request.spec(id)
        const added = yield* addChild(state, spec)
        return Result.isSuccess(added) ? ok({ id, process: added.success, spec }) : added
      }
      case "RemoveChild": {
        const child = state.children.find((c) => c.spec.original === request.spec)
        if (child === undefined) return ok(undefined)
        yield* terminateChild(state.context, child)
        remove(state, child)
        return ok(undefined)
      }
      case "TerminateChild": {
        const child = find(state, request.id)
        if (child === undefined) return error(new ChildNotFound({ id: request.id }))
        yield* terminateChild(state.context, child)
        child.restarting = false
        if (child.spec.restart === "temporary") remove(state, child)
        return ok(undefined)
      }
      case "RestartChild": {
        const child = find(state, request.id)
        if (child === undefined) return error(new ChildNotFound({ id: request.id }))
        if (child.process !== undefined) return error(new ChildRunning({ id: request.id }))
        if (child.restarting) return error(new ChildRestarting({ id: request.id }))
        const outcome = yield* startChild(state.context, child)
        if (outcome._tag === "Failed") {
          return error(new FailedToStartChild({ id: child.spec.id, reason: outcome.reason }))
        }
        return ok(outcome._tag === "Started" ? outcome.process : undefined)
      }
      case "DeleteChild": {
        const child = find(state, request.id)
        if (child === undefined) return error(new ChildNotFound({ id: request.id }))
        if (child.process !== undefined) return error(new ChildRunning({ id: request.id }))
        if (child.restarting) return error(new ChildRestarting({ id: request.id }))
        remove(state, child)
        return ok(undefined)
      }
      case "WhichChildren":
        return ok(state.children.map((c): ChildInfo => ({
          id: c.spec.id,
          process: c.process ?? (c.restarting ? "restarting" : undefined),
          type: c.spec.type,
          restart: c.spec.restart
        })))
      case "CountChildren": {
        const counts: ChildCounts = {
          specs: state.children.length,
          active: state.children.filter((c) => c.process !== undefined).length,
          supervisors: state.children.filter((c) => c.spec.type === "supervisor").length,
          workers: state.children.filter((c) => c.spec.type === "worker").length
        }
        return ok(counts)
      }
      case "GetChildSpec": {
        const child = find(state, request.id)
        return child === undefined ? error(new ChildNotFound({ id: request.id })) : ok(filledSpec(child))
      }
    }
  })

export const behaviour = Behaviour.make<SupervisorProtocol>()({
  name: "supervisor",
  init: (config: SupervisorConfig) =>
    Effect.gen(function*() {
      const context = yield* makeSupervisorContext(config.name)
      const self = context.self
      const state: SupervisorState = { config, context, children: [...config.children], restarts: new RestartWindow() }
      linkChildren(self, () => state.children)
      for (const child of config.children) {
        const outcome = yield* startChild(context, child)
        if (outcome._tag === "Failed") {
          yield* terminateInReverse(state, state.children.slice(0, state.children.indexOf(child)))
          state.children = []
          const failure = new FailedToStartChild({ id: child.spec.id, reason: outcome.reason })
          return Behaviour.stopInit(ExitReason.shutdownWith(failure))
        }
        if (outcome._tag === "Ignored" && child.spec.restart === "temporary") remove(state, child)
      }
      emit(context, "SupervisorStarted", { pid: self.pid })
      return Behaviour.ok(state)
    }),
  handleCall: (request, _from, state) => {
    // a malformed request (from a raw `Actor.call`) is answered with InvalidOptions; the supervisor keeps running
    if (!isRequest(request)) return Behaviour.reply(error(invalidRequest(request)), state)
    return Effect.map(handleRequest(state, request), (response) => Behaviour.reply(response, state))
  },
  // OTP's supervisor logs and ignores an unexpected cast
  handleCast: (_message, state) => Behaviour.noreply(state),
  handleInfo: (message, state) => {
    // only its own notices about its own children are acted on; anything else sent to it is dropped
    if (
      typeof message !== "object" || message === null || !("child" in message) ||
      !state.children.includes(message.child)
    ) {
      return Behaviour.noreply(state)
    }
    switch (message._tag) {
      case "ChildExit":
        return onChildExit(state, message)
      case "TryAgain":
        return message.child.restarting ? restart(state, message.child) : Behaviour.noreply(state)
      case "BackoffDue":
        message.child.timer = undefined
        return message.child.restarting
          ? executeRestart(state, message.child, message.delayMillis)
          : Behaviour.noreply(state)
      default:
        return Behaviour.noreply(state)
    }
  },
  terminate: (reason, state) =>
    Effect.gen(function*() {
      yield* terminateInReverse(state, state.children)
      emit(state.context, "SupervisorStopped", { pid: state.context.self.pid, reason })
    })
})

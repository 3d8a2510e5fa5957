/**
 * Agent definitions: the static description of a kind of agent — name, state Schema, actions, signal routes and
 * the optional `onBeforeCmd` / `onAfterCmd` hooks.
 *
 * Mirrors `use Jido.Agent, name:, schema:, actions:` plus `signal_routes` and the `on_before_cmd/2` /
 * `on_after_cmd/3` callbacks. A route's target is either an action (the signal's `data` are its params) or a
 * pure handler `(signal, agent) => Decision`. Definitions are plain values; the route trie is compiled once per
 * definition, on first use.
 */
import { Result, type Schema } from "effect"
import type * as Action from "./Action.ts"
import type { Agent, Status } from "./Agent.ts"
import type { InvalidRoute } from "./AgentError.ts"
import type { Directive } from "./Directive.ts"
import type { Instruction } from "./Instruction.ts"
import * as Router from "./Router.ts"
import type { Signal } from "./Signal.ts"
import type { StateOp } from "./StateOp.ts"

/** What a pure handler decides: a new state and/or operations, a status, directives, follow-up instructions. */
export interface Decision<S> {
  /** replaces the state (applied before `ops`) */
  readonly state?: S
  readonly ops?: ReadonlyArray<StateOp>
  readonly status?: Status
  readonly directives?: ReadonlyArray<Directive>
  /** processed right after this decision, in the same `cmd` */
  readonly instructions?: ReadonlyArray<Instruction>
}

/**
 * A route target written as a function: given the signal and the agent, it returns a decision (new state,
 * directives, instructions) or nothing.
 */
export type Handler<S> = Action.Bivariant<[signal: Signal, agent: Agent<S>], Decision<S> | void>

/** What a route runs: an action (its params are the signal's data) or a handler. */
export type RouteTarget<S> = Action.Any | Handler<S>

/** A signal route: a pattern (`user.*.created`, `**`) and its target, with an optional priority. */
export interface Route<S> {
  readonly pattern: string
  readonly target: RouteTarget<S>
  /** higher runs first; default 0 */
  readonly priority?: number
}

/** Optional hooks around each command, as Jido's `on_before_cmd` / `on_after_cmd`. */
export interface Hooks<S> {
  /** runs before each instruction; may rewrite the agent or the instruction */
  readonly onBeforeCmd?: Action.Bivariant<
    [agent: Agent<S>, instruction: Instruction],
    { readonly agent: Agent<S>; readonly instruction: Instruction }
  >
  /** runs after each instruction; may rewrite the agent or the directives */
  readonly onAfterCmd?: Action.Bivariant<
    [agent: Agent<S>, instruction: Instruction, directives: ReadonlyArray<Directive>],
    { readonly agent: Agent<S>; readonly directives: ReadonlyArray<Directive> }
  >
}

/**
 * An agent definition made by `Agent.define`: name, description, state schema, routes, actions and hooks. Routes and
 * actions are compiled once, when first used.
 */
export interface Definition<S, I = unknown> extends Hooks<S> {
  readonly name: string
  readonly description: string
  /** decodes the initial state (defaults applied); the state after each command must satisfy its type side */
  readonly schema: Schema.Codec<S, I, never, never>
  readonly actions: ReadonlyArray<Action.Any>
  readonly routes: ReadonlyArray<Route<S>>
  /** check the state against the schema after every command that changed it; default true */
  readonly validateState: boolean
}

/** A definition of any state and input type. */
export type AnyDefinition = Definition<unknown, unknown>

/** The state type of definition `D`. */
export type StateOf<D> = D extends Definition<infer S, unknown> ? S : never

/**
 * What `Agent.define` takes: name, description, state schema, routes, actions and hooks. Invalid routes fail the
 * agent's start with `InvalidRoute`.
 */
export interface DefineOptions<S, I> extends Hooks<S> {
  readonly name: string
  readonly description?: string
  readonly schema: Schema.Codec<S, I, never, never>
  readonly actions?: ReadonlyArray<Action.Any>
  readonly routes?: ReadonlyArray<Route<S>>
  readonly validateState?: boolean
}

/**
 * Defines an agent.
 *
 * @example
 * ```ts
 * const Counter = Agent.define({
 *   name: "counter",
 *   schema: Schema.Struct({ count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))) }),
 *   actions: [Increment],
 *   routes: [{ pattern: "counter.increment", target: Increment }]
 * })
 * ```
 */
export const define = <S, I>(options: DefineOptions<S, I>): Definition<S, I> => ({
  name: options.name,
  description: options.description ?? "",
  schema: options.schema,
  actions: options.actions ?? [],
  routes: options.routes ?? [],
  validateState: options.validateState ?? true,
  ...(options.onBeforeCmd !== undefined ? { onBeforeCmd: options.onBeforeCmd } : {}),
  ...(options.onAfterCmd !== undefined ? { onAfterCmd: options.onAfterCmd } : {})
})

/** What the router of a definition holds. */
export type CompiledRouter = Router.Router<RouteTarget<unknown>>

/**
 * What a definition compiles to on first use (cached on it): the router, a bounded route cache and the set of
 * actions.
 */
export interface Compiled {
  readonly router: Result.Result<CompiledRouter, InvalidRoute>
  /** signal type → targets (a definition's routes never change, so this is safe); bounded */
  readonly routeCache: Map<string, ReadonlyArray<RouteTarget<unknown>>>
  readonly actions: ReadonlySet<Action.Any>
  readonly actionNames: ReadonlySet<string>
}

// Cached on the definition under a symbol: a property read on the hot path instead of a WeakMap lookup.
const COMPILED: unique symbol = Symbol.for("troupe/agent/Compiled")
interface WithCompiled {
  [COMPILED]?: Compiled
}

/** The definition's route trie and registered actions (compiled once). */
export const compile = (definition: AnyDefinition): Compiled => {
  // the compiled form is cached on the definition under our own symbol
  let found = (definition as WithCompiled)[COMPILED]
  if (found === undefined) {
    const router = Router.fromRoutes(
      definition.routes.map((r) => ({
        pattern: r.pattern,
        handler: r.target,
        ...(r.priority !== undefined ? { priority: r.priority } : {})
      }))
    )
    const actions = new Set<Action.Any>(definition.actions)
    for (const r of definition.routes) if (typeof r.target !== "function") actions.add(r.target)
    found = { router, routeCache: new Map(), actions, actionNames: new Set([...actions].map((a) => a.name)) }
    Object.defineProperty(definition, COMPILED, { value: found, enumerable: false })
  }
  return found
}

/** The route trie of a definition, or the first bad pattern. */
export const router = (definition: AnyDefinition): Result.Result<CompiledRouter, InvalidRoute> =>
  compile(definition).router

const ROUTE_CACHE_LIMIT = 1_024

/** The route targets for a signal type, highest priority first (memoised per definition, in `compiled`). */
export const targetsFor = (
  compiled: Compiled,
  router: CompiledRouter,
  type: string
): ReadonlyArray<RouteTarget<unknown>> => {
  const cache = compiled.routeCache
  let targets = cache.get(type)
  if (targets === undefined) {
    targets = Router.route(router, type)
    if (cache.size < ROUTE_CACHE_LIMIT) cache.set(type, targets)
  }
  return targets
}

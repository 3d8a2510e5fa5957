/**
 * `GatewayRouteContext`: what the gateway gives the extra routes of `GatewayOptions.routes` (e.g. the agent routes):
 * its run-time state (so their SSE streams are counted and ended by the drain), its API auth (the same `ApiAuth` as
 * `/v1/*`), and a way to fork work into the server's scope (it ends when the server stops).
 *
 * @since 0.1.0
 */
import { Context, Effect, type Fiber, Redacted, Scope } from "effect"
import type { HttpServerRequest, HttpServerResponse } from "effect/http"
import type { ApiAuth } from "../GatewayAuth.ts"
import { Caller } from "../GatewayAuth.ts"
import type { GatewayState } from "./GatewayState.ts"

export interface GatewayRouteContextShape {
  readonly state: GatewayState
  /** Runs `handler` as the request's authenticated caller, or answers 401/403 as `/v1/*` does. */
  readonly authorize: <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, Exclude<R, Caller>>
  /** Forks `effect` into the server's scope (fire and forget). */
  readonly fork: (effect: Effect.Effect<void>) => void
  /** Forks `effect` into the server's scope and returns its fiber. */
  readonly forkFiber: <A>(effect: Effect.Effect<A>) => Effect.Effect<Fiber.Fiber<A>>
}

export class GatewayRouteContext extends Context.Service<GatewayRouteContext, GatewayRouteContextShape>()(
  "troupe/gateway/GatewayRouteContext"
) {}

const bearerOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const header = request.headers["authorization"] ?? ""
  return header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : ""
}

/** The context over a gateway's state, its `ApiAuth` and the server scope. */
export const makeRouteContext = (
  state: GatewayState,
  api: ApiAuth["Service"],
  scope: Scope.Scope
): GatewayRouteContextShape => ({
  state,
  authorize: (request, handler) =>
    // the built-in and user-provided bearer checks read only the credential (the endpoint and group are HttpApi's)
    api.bearer(handler as never, {
      credential: Redacted.make(bearerOf(request)),
      endpoint: undefined as never,
      group: undefined as never // (as endpoint)
    }) as never,
  fork: (effect) => {
    Effect.runFork(Effect.forkIn(effect, scope))
  },
  forkFiber: (effect) => Effect.forkIn(effect, scope)
})

/**
 * `GatewayAgents`: supervised LLM agents (`LlmAgents`) over the gateway's HTTP server — the agent routes
 * (`POST /v1/agents/{id}/turns` as JSON or SSE with replay, `GET`/`DELETE /v1/agents/{id}`,
 * `POST /v1/agents/{id}/cancel`; rules in `internal/AgentRoutes.ts` and `internal/TurnReplay.ts`), and the default
 * definition `troupe serve` runs.
 *
 * Hooked in through `GatewayOptions.routes`: `layer(service)` is an `HttpRouter` layer over an already running
 * `LlmAgents` (so a restart of the HTTP server does not restart the agents); `withAgents` is `Gateway.layer` with
 * them over the `LlmAgents` of the context.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { HttpRouter } from "effect/http"
import type { Usage } from "../llm/index.ts"
import { LlmAgent, LlmAgents } from "../llmagent/index.ts"
import type { AnyLlmAgent } from "../llmagent/LlmAgent.ts"
import type { LlmAgentsShape } from "../llmagent/LlmAgents.ts"
import { costOf, defaultPrices, findPrice } from "../pipeline/index.ts"
import type { PriceTable } from "../pipeline/index.ts"
import type { GatewayOptions } from "./Gateway.ts"
import * as Gateway from "./Gateway.ts"
import { agentRoutes } from "./internal/AgentRoutes.ts"
import type { AgentRoutesOptions } from "./internal/AgentRoutes.ts"
import type { GatewayRouteContext } from "./internal/RouteContext.ts"

export { agentHttpError, eventFrame } from "./internal/AgentRoutes.ts"
export type { AgentRoutesOptions } from "./internal/AgentRoutes.ts"
export { GatewayRouteContext } from "./internal/RouteContext.ts"
export type { GatewayRouteContextShape } from "./internal/RouteContext.ts"

/** The definition `troupe serve` runs for every agent id: a conversational assistant on the `fast` alias. */
export const DefaultAgent = LlmAgent.make({
  name: "assistant",
  instructions: "You are a helpful assistant served by the troupe gateway.",
  model: "fast",
  memory: "conversation"
})

/** `costOf` for `done` events from definitions and a price table: the price of one model call's usage (its `perRequest` fee included; the definition is picked as `LlmAgents` does). */
export const costFromDefinitions = (
  definitions: ReadonlyArray<AnyLlmAgent>,
  options: { readonly default?: string; readonly prices?: PriceTable } = {}
) => {
  const byName = new Map(definitions.map((d) => [d.name, d]))
  const prices = options.prices ?? defaultPrices
  return (agentId: string, usage: Usage): number => {
    const colon = agentId.indexOf(":")
    const definition = (colon > 0 ? byName.get(agentId.slice(0, colon)) : undefined) ??
      (options.default !== undefined ? byName.get(options.default) : undefined)
    const price = definition === undefined ? undefined : findPrice(prices, definition.model)
    return price === undefined ? 0 : costOf(price, usage)
  }
}

/** The agent routes over a running `LlmAgents` service, for `GatewayOptions.routes`. */
export const layer = (
  { agents, ...options }: AgentRoutesOptions & { readonly agents: LlmAgentsShape }
): Layer.Layer<never, never, HttpRouter.HttpRouter | GatewayRouteContext> =>
  agentRoutes(options).pipe(Layer.provide(Layer.succeed(LlmAgents, agents)))

/**
 * `Gateway.layer(options)` with the agent routes over the `LlmAgents` of the context (beside `options.routes`).
 */
export const withAgents = ({ agentRoutes: routesOptions = {}, ...options }: GatewayOptions & {
  readonly agentRoutes?: AgentRoutesOptions
} = {}) =>
  Layer.unwrap(Effect.map(LlmAgents, (agents) =>
    Gateway.layer({
      ...options,
      routes: Layer.mergeAll(layer({ ...routesOptions, agents }), options.routes ?? Layer.empty)
    })))

/**
 * What `troupe serve` runs (`serveLayer`): the gateway over the whole application, with issued keys, costs, budgets
 * and dead letters. Its own module so that the other commands of the CLI do not load the application: `serve`
 * imports it when it runs.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { Troupe } from "../app/index.ts"
import type { TroupeOptions } from "../app/index.ts"
import { GatewayAgents } from "../gateway/index.ts"
import type { GatewayOptions } from "../gateway/index.ts"
import { LlmAgents } from "../llmagent/index.ts"
import * as ServeAccess from "./internal/ServeAccess.ts"

/**
 * What `serve` runs: the gateway over the application layer, with the agent routes over `LlmAgents` serving
 * `GatewayAgents.DefaultAgent` for every agent id, until interrupted. The application records costs, enforces
 * budgets and dead-letters permanent failures (`Troupe.layer({ costs, budgets, deadLetters })`, unless
 * `options.troupe` says otherwise), and the gateway serves issued keys and abuse blocks (`ServeAccess`) unless
 * `options.gateway` gives its own `auth` / `access`.
 */
export const serveLayer = (options: { readonly gateway?: GatewayOptions; readonly troupe?: TroupeOptions } = {}) =>
  Layer.unwrap(Effect.map(ServeAccess.make({ redis: options.troupe?.redis }), (access) =>
    GatewayAgents.withAgents({
      ...access,
      ...options.gateway,
      agentRoutes: { costOf: GatewayAgents.costFromDefinitions([GatewayAgents.DefaultAgent], { default: "assistant" }) }
    }))).pipe(
      Layer.provide(LlmAgents.layer({ agents: [GatewayAgents.DefaultAgent], default: "assistant" })),
      Layer.provide(Troupe.layer({ costs: true, budgets: true, deadLetters: true, ...options.troupe }))
    )

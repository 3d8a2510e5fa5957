/**
 * Starts a gateway over `Troupe.layerTest` (in memory, scripted model) on a free loopback port for a test file, and
 * stops it (drain included) afterwards.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Troupe } from "../../src/app/index.ts"
import type { TroupeOptions } from "../../src/app/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import type { GatewayOptions, GatewayShape } from "../../src/gateway/index.ts"

export interface Running {
  readonly gateway: GatewayShape
  readonly url: string
  readonly stop: () => Promise<void>
}

export const startGateway = async (troupe: TroupeOptions = {}, gateway: GatewayOptions = {}): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const layer = Gateway.layer({ port: 0, ...gateway }).pipe(Layer.provide(Troupe.layerTest(troupe)))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const gw = Context.get(context, Gateway)
  return { gateway: gw, url: gw.address.url, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

/**
 * `troupe serve` built in this process (`serveLayer`, port 0, no environment) with the admin key `adminKey` and
 * issued keys on: its URL and a `stop` that closes the layer's scope.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { serveLayer } from "../../../src/cli/ServeLayer.ts"
import { Gateway } from "../../../src/gateway/index.ts"

export const serveInProcess = async (adminKey: string): Promise<{ url: string; stop: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const layer = serveLayer({
    gateway: { port: 0 },
    troupe: {
      config: { env: {}, defaults: { gateway: { accessLog: false, auth: { adminKey, issuedKeys: true } } } }
    }
  })
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    url: Context.get(context, Gateway).address.url,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

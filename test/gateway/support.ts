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

/** A POST whose JSON body is sent chunked (`transfer-encoding: chunked`, no `content-length`), in two parts. */
export const postChunked = (url: string, body: unknown) => {
  const bytes = new TextEncoder().encode(JSON.stringify(body))
  const half = Math.floor(bytes.length / 2)
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, half))
        controller.enqueue(bytes.slice(half))
        controller.close()
      }
    }),
    duplex: "half"
  } as RequestInit) // `duplex` (required by undici for a stream body) is not in lib.dom's RequestInit
}

/** One server-sent event: its `event:` name (default `message`) and its `data:` parsed as JSON. */
export interface SseFrame {
  readonly event: string
  readonly data: unknown
}

/**
 * Reads the SSE stream of `GET url` frame by frame, calling `onFrame` for each, until it answers `true`, the stream
 * ends or `ms` pass (then the request is aborted); answers whether `onFrame` said `true`.
 */
export const readSse = async (
  url: string,
  headers: Record<string, string>,
  onFrame: (frame: SseFrame) => boolean | Promise<boolean>,
  ms = 5_000
): Promise<boolean> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  try {
    const r = await fetch(url, { headers, signal: controller.signal })
    const reader = r.body!.getReader()
    const dec = new TextDecoder()
    let buf = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return false
      buf += dec.decode(value, { stream: true })
      let i: number
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const data = /^data: (.*)$/m.exec(chunk)?.[1]
        if (data === undefined) continue
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? "message"
        if (await onFrame({ event, data: JSON.parse(data) })) return true
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return false
    throw e
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
}

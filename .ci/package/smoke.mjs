// Package smoke test, run with plain `node` (no type stripping, no loader) from a scratch project that installed
// the packed tarball: imports every subpath, runs a small supervised program and an `Llm` call on
// `Troupe.layerTest()`, and checks that no Redis or OpenTelemetry code was loaded. Also bundled by esbuild.
import { registerHooks } from "node:module"

// Every module Node resolves from here on, to check below that no Redis or OpenTelemetry code was loaded. (In the
// esbuild bundle the imports below are inlined and nothing is resolved at run time; there, the original failure —
// node-redis's `require("node:crypto")` in an ESM bundle — would crash the run.)
const resolved = []
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    resolved.push(result.url)
    return result
  }
})

const { Effect } = await import("effect")
const Root = await import("troupe")
const Agent = await import("troupe/agent")
const { Troupe } = await import("troupe/app")
const Cache = await import("troupe/cache")
const Config = await import("troupe/config")
const LlmModule = await import("troupe/llm")
const Memory = await import("troupe/memory")
const { Llm } = await import("troupe/pipeline")
const RateLimit = await import("troupe/ratelimit")
const { Actor, Behaviour, ChildSpec, Supervisor } = await import("troupe/runtime")
const Telemetry = await import("troupe/telemetry")

const subpaths = { Root, Agent, Cache, Config, LlmModule, Memory, RateLimit, Telemetry }
for (const [name, module] of Object.entries(subpaths)) {
  if (Object.keys(module).length === 0) throw new Error(`troupe subpath ${name} exports nothing`)
}
// every other subpath the package exports (new subsystems are picked up from package.json without editing this file)
const { createRequire } = await import("node:module")
const manifest = createRequire(import.meta.url)("troupe/package.json")
for (const key of Object.keys(manifest.exports)) {
  if (key === "./package.json") continue
  const module = await import(key === "." ? "troupe" : `troupe/${key.slice(2)}`)
  if (Object.keys(module).length === 0) throw new Error(`troupe subpath ${key} exports nothing`)
}
if (typeof Troupe.layerTest !== "function" || typeof Supervisor.start !== "function") throw new Error("missing exports")

const Counter = Behaviour.make()({
  init: (start) => Behaviour.ok(start),
  handleCall: (_request, _from, n) => Behaviour.reply(n, n),
  handleCast: ({ add }, n) => Behaviour.noreply(n + add)
})

const supervised = Effect.gen(function*() {
  const sup = yield* Supervisor.start({ strategy: "oneForOne", children: [ChildSpec.actor("counter", Counter, 40)] })
  const [child] = yield* Supervisor.whichChildren(sup)
  yield* Actor.cast(child.process, { add: 2 })
  return yield* Actor.call(child.process, "get")
}).pipe(Effect.scoped)

const llmCall = Effect.gen(function*() {
  const llm = yield* Llm
  const first = yield* llm.generate({ model: "fast", messages: [{ role: "user", content: "Hello" }] })
  const second = yield* llm.generate({ model: "fast", messages: [{ role: "user", content: "Hello" }] })
  return { text: first.text, cached: second.meta.cached }
}).pipe(Effect.provide(Troupe.layerTest()))

const count = await Effect.runPromise(supervised)
if (count !== 42) throw new Error(`supervised counter answered ${count}, expected 42`)
const answer = await Effect.runPromise(llmCall)
if (typeof answer.text !== "string" || answer.text.length === 0 || answer.cached !== true) {
  throw new Error(`unexpected Llm answer ${JSON.stringify(answer)}`)
}

// Nothing a layer did not use was loaded: no node-redis, no OpenTelemetry, no undici in the module graph.
const unwanted = resolved.filter((url) => /[\\/]node_modules[\\/](redis|@redis|@opentelemetry|@effect[\\/]opentelemetry|undici)[\\/]/.test(url))
if (unwanted.length > 0) throw new Error(`loaded modules no layer used: ${unwanted.join(", ")}`)
const troupeModules = resolved.filter((url) => url.includes("/node_modules/troupe/dist/")).length

console.log(`package smoke: node ${process.version}: every subpath imported (${troupeModules} troupe modules resolved); supervised counter = ${count}; Llm answered "${answer.text.slice(0, 40)}" (repeat cached: ${answer.cached})`)

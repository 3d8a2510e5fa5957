import { Effect, Layer } from "effect"
import { Troupe } from "/work/issue-18/src/app/index.ts"
import { Gateway } from "/work/issue-18/src/gateway/index.ts"
const prog = Effect.gen(function*() {
  console.log("building")
  const gw = yield* Gateway.Gateway
  console.log("addr", gw.address)
  const r = yield* Effect.promise(() => fetch(gw.address.url + "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hello" }] }) }).then(async (r) => [r.status, await r.text()]))
  console.log(r)
}).pipe(Effect.provide(Gateway.layer({ port: 0 }).pipe(Layer.provide(Troupe.layer()))))
Effect.runPromise(Effect.timeout(prog, "5 seconds")).then(() => console.log("done"), (e) => console.log("err", e))

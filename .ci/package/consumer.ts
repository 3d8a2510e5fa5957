// A consumer of the packed troupe, type-checked by CI with `moduleResolution` nodenext and again with bundler under
// the consumer's own strict flags (see tsconfig.*.json beside it): every subpath resolves to its `.d.ts`, and the
// consumer's own `effect` Schemas type-check against troupe's APIs (one copy of effect, as a peer).
import { Effect, Layer, Schema } from "effect"
import * as Troupe_ from "troupe"
import { Action, Tool } from "troupe/agent"
import { InvalidTroupeOptions, Troupe } from "troupe/app"
import { Budgets } from "troupe/budget"
import { Cache } from "troupe/cache"
import { Costs } from "troupe/costs"
import { ConfigStore } from "troupe/config"
import type { LlmMessage } from "troupe/llm"
import { ConversationMemory } from "troupe/memory"
import { Llm } from "troupe/pipeline"
import { type QueueFull, RequestQueue } from "troupe/queue"
import { RateLimiter } from "troupe/ratelimit"
import { Actor, Behaviour, ChildSpec, Supervisor } from "troupe/runtime"
import { OtelExport, TelemetryHub } from "troupe/telemetry"

type CounterProtocol = { call: "get"; reply: number; cast: { add: number } }
const Counter = Behaviour.make<CounterProtocol>()({
  init: (start: number) => Behaviour.ok(start),
  handleCall: (_request, _from, n) => Behaviour.reply(n, n),
  handleCast: ({ add }, n) => Behaviour.noreply(n + add)
})

export const supervised: Effect.Effect<number, unknown> = Effect.gen(function*() {
  const sup = yield* Supervisor.start({ strategy: "oneForOne", children: [ChildSpec.actor("counter", Counter, 0)] })
  const [child] = yield* Supervisor.whichChildren(sup)
  // the child's process is typed as a plain Process; the protocol is the one we started it with
  const counter = child?.process as Actor.ActorRef<CounterProtocol>
  yield* Actor.cast(counter, { add: 2 })
  return yield* Actor.call(counter, "get")
}).pipe(Effect.scoped)

// the consumer's own Schema values go into troupe's APIs
const Add = Action.make({
  name: "add",
  description: "Adds two numbers",
  params: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  run: ({ a, b }) => Effect.succeed(a + b)
})
export const tools = [Tool.fromAction(Add, { strict: true })]

const question: LlmMessage = { role: "user", content: "Hello" }

export const program = Effect.gen(function*() {
  const llm = yield* Llm
  const answer = yield* llm.generate({ model: "fast", messages: [question] })
  const cache = yield* Cache
  yield* cache.put("last-answer", answer.text)
  const memory = yield* ConversationMemory
  const limiter = yield* RateLimiter
  const config = yield* ConfigStore
  const hub = yield* TelemetryHub
  return { text: answer.text, meta: answer.meta, memory, limiter, config, hub }
}).pipe(
  Effect.provide(Troupe.layerTest()),
  Effect.catchTag("InvalidTroupeOptions", (error: InvalidTroupeOptions) => Effect.die(error.path))
)

export const live = Layer.mergeAll(Troupe.layer({ redis: { url: "redis://127.0.0.1:6379" } }), OtelExport.layer({ serviceName: "consumer" }))
export const root: typeof Troupe_.Troupe = Troupe

// budgets: the layer and the service's reserve/settle types
export const budgeted = Effect.gen(function*() {
  const budgets = yield* Budgets
  yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month" })
  return yield* budgets.withBudget(Effect.succeed(1), { scopes: ["tenant:acme"], amount: 0.01, actual: () => 0.005 })
}).pipe(Effect.provide(Budgets.layerMemory()))

// queues: a request queue in front of an effect, its typed backpressure errors
export const queued = Effect.flatMap(
  RequestQueue.make({ name: "consumer", concurrency: 2 }),
  (q) => q.run(Effect.succeed(1), { priority: "high", tenant: "acme" })
).pipe(Effect.catchTag("QueueFull", (e: QueueFull) => Effect.succeed(e.capacity)))
// costs: the ledger's record and stats
export const costed = Effect.gen(function*() {
  const costs = yield* Costs
  yield* costs.record({ cost: 0.01, tenant: "acme" })
  return (yield* costs.stats({ period: "day", groupBy: "tenant" })).total
}).pipe(Effect.provide(Costs.layerMemory()))

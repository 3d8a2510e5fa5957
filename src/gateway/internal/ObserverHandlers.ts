/**
 * Handlers of the `observer` group (see `ObserverApi`): the `/admin/events` SSE stream and the supervision actions.
 *
 * The stream (`ObserverStream`) merges three sources into one bounded sliding queue (1,000 frames; a slow reader
 * loses the oldest): periodic snapshots, Lifecycle events (as they happen, so a restart shows without waiting for
 * the next snapshot) and TelemetryHub events under the filter prefix (a handler attached per connection, detached
 * when the connection ends). All it holds is taken when the response body runs, so a `HEAD` holds nothing. The last
 * exit reason per `supervisor/child` is kept in a bounded map (10,000 entries). The stream never ends by itself: it
 * is counted as an open stream, and it ends when the gateway stops accepting (a drain does not wait for an open
 * dashboard) with a last `error` event `shutting_down`.
 *
 * A snapshot holds the tree (with last exit reasons) and the panels: the gateway, the cache, the rate limiter, the
 * breakers, the request queues (`QueueStep.stats`: depth and in flight per route), the budgets (`Budgets.list`, the
 * first 50 by scope: spent, reserved, limit, used ratio), the agents (`LlmAgents`: the 100 most recently used live
 * agents with their state, queue and current step) and the LLM history (`ObserverFeed`: calls, p50/p95, tokens and
 * cost per provider and model over ten minutes in 10-second buckets). A panel whose service is not in the gateway's
 * context is `null`; a store that fails its read gives `{ error }` for that panel, never a failed stream.
 *
 * Every action (restart, stop) is audited (`AdminAudit`), a refused one (400, 404, 409) as a failure. The root
 * (400), the gateway's own HTTP server and the gateway supervisor above it (409: the server's drain is one-shot, so
 * it would never serve again) are refused.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Budgets } from "../../budget/index.ts"
import { LlmAgents } from "../../llmagent/index.ts"
import { QueueStep } from "../../pipeline/index.ts"
import { Actor, Lifecycle, Supervisor } from "../../runtime/index.ts"
import type { Process } from "../../runtime/Process.ts"
import { TelemetryHub } from "../../telemetry/index.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"
import { recordAdminAction } from "./AdminAudit.ts"
import { makeObserverFeed } from "./ObserverFeed.ts"
import { observerHtml } from "./ObserverPage.ts"
import { observerStream, reasonText } from "./ObserverStream.ts"
import type { OpsDeps, TreeNode } from "./OpsHandlers.ts"
import { makeServiceStats, masked, treeOf } from "./OpsHandlers.ts"

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })
/** A tree node with its last exit reason attached (recursively). */
const withExits = (
  nodes: ReadonlyArray<TreeNode>,
  parent: string,
  exits: ReadonlyMap<string, string>
): ReadonlyArray<unknown> =>
  nodes.map((n) => ({
    ...n,
    lastExit: exits.get(`${parent}/${n.id}`) ?? null,
    ...(n.children !== undefined ? { children: withExits(n.children, n.name ?? n.id, exits) } : {})
  }))

/** The router has already decoded the parameter once; a second decoding is tolerated, a stray `%` kept as is. */
const safeDecode = (raw: string): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** The `observer` group's handlers over the gateway's state and restart counts. */
export const observerHandlers = (deps: OpsDeps) =>
  HttpApiBuilder.group(GatewayApi, "observer", (handlers) =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      const lifecycle = yield* Lifecycle
      const hub = yield* TelemetryHub
      const serviceStats = yield* makeServiceStats(deps.state)
      const queues = yield* Effect.serviceOption(QueueStep)
      const budgets = yield* Effect.serviceOption(Budgets)
      const agents = yield* Effect.serviceOption(LlmAgents)

      // the LLM history of the charts, fed for as long as the gateway runs
      const feed = makeObserverFeed(yield* Clock.Clock)
      const feedId = `troupe/observer:feed:${crypto.randomUUID()}`
      yield* Effect.ignore(hub.attach(feedId, [["troupe", "llm", "call"]], feed.onEvent))
      yield* Effect.addFinalizer(() => Effect.ignore(hub.detach(feedId)))
      /** A panel's read: its value, or `{ error }` when its store fails (the stream goes on). */
      const panel = <A, E>(read: Effect.Effect<A, E>) =>
        Effect.catch(read, (e) => Effect.succeed({ error: e instanceof Error ? e.message : String(e) }))
      const agentsPanel = (service: LlmAgents["Service"]) =>
        Effect.gen(function*() {
          const live = yield* service.live
          const recent = live.slice(-100).reverse()
          return yield* Effect.forEach(recent, (id) =>
            Effect.map(Effect.option(service.status(id)), (s) =>
              Option.match(s, {
                onNone: () => ({ id, state: "unknown" }),
                onSome: (st) => ({
                  id,
                  state: st.state,
                  queued: st.queued,
                  turns: st.turns,
                  incarnation: st.incarnation,
                  step: st.current?.step ?? null,
                  phase: st.current?.phase ?? null,
                  tools: st.current?.tools ?? []
                })
              })))
        })

      // last exit reason per `supervisor/child` (bounded)
      const exits = new Map<string, string>()
      const lifecycleEvents = yield* lifecycle.subscribe
      yield* lifecycleEvents.pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            if (event._tag !== "ChildExited" || event.childId === undefined) return
            const key = `${event.supervisor}/${event.childId}`
            if (!exits.has(key) && exits.size >= 10_000) return
            exits.set(key, reasonText(event.reason))
          })
        ),
        Effect.forkScoped
      )

      const snapshot = Effect.gen(function*() {
        const children = yield* treeOf(root, deps.restarts, 0)
        return {
          at: Date.now(),
          tree: {
            id: root.name,
            type: "supervisor",
            pid: root.pid,
            state: root.exitReason === undefined ? "running" : "stopped",
            children: withExits(children, root.name, exits)
          },
          stats: masked({
            ...(yield* serviceStats),
            queues: Option.isSome(queues) ? yield* queues.value.stats : null,
            budgets: Option.isSome(budgets)
              ? yield* panel(Effect.map(budgets.value.list({ limit: 50 }), (list) =>
                list.map((b) => ({
                  scope: b.scope,
                  period: b.period,
                  spent: b.spent,
                  reserved: b.reserved,
                  limit: b.limit,
                  used: b.limit > 0 ? Math.round((b.spent / b.limit) * 1000) / 1000 : 1
                }))))
              : null,
            agents: Option.isSome(agents) ? yield* agentsPanel(agents.value) : null
          }),
          llm: feed.snapshot(),
          telemetry: yield* hub.stats()
        }
      })

      /** Resolves a `/`-separated path of child ids to the child's supervisor and id. */
      const resolve = (raw: string) =>
        Effect.gen(function*() {
          const ids = safeDecode(raw).split("/").filter((s) => s.length > 0)
          if (ids[0] === root.name) ids.shift()
          if (ids.length === 0) {
            return yield* Effect.fail(
              httpError(400, "invalid_request_error", "the root supervisor cannot be restarted or stopped here")
            )
          }
          let parent: Supervisor.SupervisorRef = root
          for (let i = 0; i < ids.length - 1; i++) {
            const children = yield* Effect.orElseSucceed(Supervisor.whichChildren(parent), () => [])
            const child = children.find((c) => c.id === ids[i])
            if (child === undefined || child.type !== "supervisor" || typeof child.process !== "object") {
              return yield* Effect.fail(
                httpError(404, "not_found_error", `no running supervisor at ${ids.slice(0, i + 1).join("/")}`)
              )
            }
            parent = child.process as Supervisor.SupervisorRef // a supervisor child's process is a SupervisorRef
          }
          if (ids.join("/") === "gateway/http-server" || ids.join("/") === "gateway") {
            // killing the server that answers this request (or the gateway supervisor above it, which kills it too)
            // would start its one-shot drain and never serve again
            return yield* Effect.fail(
              httpError(
                409,
                "invalid_request_error",
                "the gateway's own HTTP server and its gateway supervisor cannot be restarted or stopped through its admin API; restart the process"
              )
            )
          }
          // ids is not empty (an empty path is refused above)
          const id = ids[ids.length - 1] as string
          const children = yield* Effect.orElseSucceed(Supervisor.whichChildren(parent), () => [])
          const child = children.find((c) => c.id === id)
          if (child === undefined) {
            return yield* Effect.fail(httpError(404, "not_found_error", `no child at ${ids.join("/")}`))
          }
          // a child's process is a Process, "restarting" or undefined: an object is a Process
          return {
            parent,
            id,
            path: ids.join("/"),
            process: typeof child.process === "object" ? child.process as Process : undefined // see above
          }
        })

      const audited = (
        action: "restart" | "stop",
        raw: string,
        run: (r: Effect.Success<ReturnType<typeof resolve>>) => Effect.Effect<string, unknown>
      ) =>
        resolve(raw).pipe(
          Effect.flatMap((r) =>
            run(r).pipe(
              Effect.tap((outcome) =>
                recordAdminAction(hub, deps.audit, { action, resource: r.path, outcome, ok: true })
              ),
              Effect.map((outcome) => json({ action, path: r.path, outcome })),
              Effect.catch((e) =>
                Effect.as(
                  recordAdminAction(hub, deps.audit, { action, resource: r.path, outcome: "failed", ok: false }),
                  httpError(
                    409,
                    "invalid_request_error",
                    `${action} of ${r.path} failed: ${e instanceof Error ? e.message : String(e)}`
                  ).toResponse()
                )
              )
            )
          ),
          // a refused action (the root, an unknown child, the gateway's own server) is audited as a failure too
          Effect.catch((e) =>
            Effect.as(
              recordAdminAction(hub, deps.audit, {
                action,
                resource: safeDecode(raw).slice(0, 512),
                outcome: `refused (${e.status})`,
                ok: false
              }),
              e.toResponse()
            )
          )
        )

      return handlers
        .handle("events", ({ query }) =>
          // everything the connection holds is taken when the body runs (a HEAD runs none): see ObserverStream
          Effect.succeed(HttpServerResponse.stream(
            observerStream({
              hub,
              lifecycle,
              state: deps.state,
              prefix: (query.filter ?? "troupe").split(".").filter((s) => s.length > 0),
              every: query.interval ?? 1_000,
              snapshot
            }),
            {
              contentType: "text/event-stream",
              headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
            }
          )))
        .handle("restartChild", ({ params }) =>
          audited("restart", params.path, (r) =>
            r.process !== undefined && r.process.exitReason === undefined
              ? Effect.as(Actor.kill(r.process), "killed")
              : Effect.as(Supervisor.restartChild(r.parent, r.id), "restarted")))
        .handle("stopChild", ({ params }) =>
          audited("stop", params.path, (r) =>
            Effect.as(Supervisor.terminateChild(r.parent, r.id), "stopped")))
    }))

/** `GET /observer`: the page (no data in it; its script reads the admin API with the admin key). */
export const observerRoute = HttpRouter.add(
  "GET",
  "/observer",
  Effect.succeed(HttpServerResponse.text(observerHtml, {
    contentType: "text/html; charset=utf-8",
    headers: {
      "cache-control": "no-store",
      "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      "x-frame-options": "DENY"
    }
  }))
)

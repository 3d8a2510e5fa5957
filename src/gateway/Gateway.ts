/**
 * `Gateway`: troupe as an HTTP server — an OpenAI-compatible API over the `Llm` pipeline, health probes,
 * Prometheus metrics, an admin API, graceful draining and maintenance mode — as one Layer for a program that already
 * has troupe's services (`Troupe.layer`), and the engine of `troupe serve`.
 *
 * Rules (the same words as the README and the tests):
 * - The server runs as the `http-server` task of a `gateway` supervisor under the application's root supervisor: a
 *   crash of the server is restarted by it, the supervision tree shows it, and releasing the layer stops it.
 * - Lifecycle: `starting` until the server listens, then `ready`. A drain — `Gateway.drain`, or the layer being
 *   released (SIGTERM/SIGINT under `troupe serve`) — sets readiness false and keeps serving for
 *   `drain.deregistrationDelay`, then refuses new requests (503, `connection: close`) while in-flight requests and
 *   SSE streams run to completion, up to `drain.timeout`; streams still open then end with a `shutting_down` event.
 *   Only then does the server close and the rest of the tree shut down in order.
 * - A drain reads the `drain` settings once, when it begins (so a change made through the ConfigStore before then,
 *   e.g. `PATCH /admin/config`, is honoured in full), and is bounded by that snapshot alone: it ends at most
 *   `deregistrationDelay + timeout` + 1 s after it began; the server's close then gives requests still running
 *   5 s, and connections still open 10 s after the drain are closed by force. Releasing the layer waits for all of
 *   it (the supervisor never cuts a drain short), so the server never outlives the tree.
 * - Maintenance (`gateway.maintenance`, switched through the admin API or any ConfigStore update): new requests get
 *   the configured status, message and `retry-after`; health and metrics keep answering, exempt route prefixes and
 *   keys are served; readiness is false meanwhile.
 * - Every route's `RequiredPermission` is enforced against the caller's roles (`RoutePermission.enforce` over the
 *   `rbac` option's role definitions): a missing permission is a 403 `permission_denied`, audited when
 *   `access.audit` is given.
 * - Every request has an `x-request-id` (kept from the request when valid), an access-log line without secrets or
 *   prompts, and HTTP metrics; bodies above `maxBodyBytes` are refused with 413; CORS follows `gateway.cors`
 *   (`allowedOrigins`: `"*"` allows any origin, an empty list none).
 * - Settings come from the ConfigStore's `gateway` section (file < env < runtime), `options` override `port` and
 *   `host`; changes to auth keys, maintenance, body limit and access logging apply to the next request, while
 *   `port`, `host` and `cors` apply when the server (re)starts.
 *
 * Mirrors LiteLLM's proxy and Portkey's gateway (OpenAI-compatible routes over a router with caching, limits,
 * retries, fallbacks) and Kubernetes' probe/drain contract. Reuses effect's `HttpApi` (routes, bearer security
 * middleware, OpenAPI at `/openapi.json`), `HttpRouter` middleware and CORS, `NodeHttpServer` (graceful close),
 * `Metric`; troupe's supervisors, ConfigStore and TelemetryHub. Hand-rolled: the drain state machine and the SSE
 * first-element peek (effect 4.1 has neither), the OpenAI wire codec, the socket health probes.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Deferred, Duration, Effect, Layer, Stream } from "effect"
import { HttpMiddleware, HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { createServer, type Server } from "node:http"
import type { GatewaySection, TroupeConfig } from "../config/index.ts"
import { ConfigStore } from "../config/index.ts"
import { Rbac, type RbacShape } from "../identity/Rbac.ts"
import type { Llm } from "../pipeline/index.ts"
import { ChildSpec, Lifecycle, Supervisor } from "../runtime/index.ts"
import { TelemetryHub } from "../telemetry/index.ts"
import { layerCostsErrors } from "./CostsApi.ts"
import { Embedder } from "./Embedder.ts"
import { layerOpenAiErrors } from "./GatewayApi.ts"
import { GatewayApi } from "./GatewayApi.ts"
import type { AdminAuth } from "./GatewayAuth.ts"
import { ApiAuth, layerKeys } from "./GatewayAuth.ts"
import type { HealthCheck } from "./HealthCheck.ts"
import { HealthRegistry, httpGet } from "./HealthCheck.ts"
import { accessHandlers, type AccessServices } from "./internal/AccessHandlers.ts"
import { auditHandlers } from "./internal/AuditHandlers.ts"
import { costsHandlers } from "./internal/CostsHandlers.ts"
import { dlqHandlers } from "./internal/DlqHandlers.ts"
import { errorsHandlers } from "./internal/ErrorsHandlers.ts"
import { makeState } from "./internal/GatewayState.ts"
import type { Phase } from "./internal/GatewayState.ts"
import { HttpMetrics, processMetricsText } from "./internal/HttpMetrics.ts"
import { makeGatewayMiddleware } from "./internal/Middleware.ts"
import { observerHandlers, observerRoute } from "./internal/ObserverHandlers.ts"
import { openAiHandlers } from "./internal/OpenAiHandlers.ts"
import { adminHandlers, healthHandlers } from "./internal/OpsHandlers.ts"
import { privacyHandlers } from "./internal/PrivacyHandlers.ts"
import { GatewayRouteContext, makeRouteContext } from "./internal/RouteContext.ts"
import { runsHandlers } from "./internal/RunsHandlers.ts"
import { enforce } from "./RoutePermission.ts"

export type { Phase } from "./internal/GatewayState.ts"

/** How long the server's close waits for requests still running once the drain is over (then they are interrupted). */
const closeGraceMillis = 5_000
/** When, after the drain, connections still open are closed by force (the drain has already had its timeout). */
const forceCloseMillis = 10_000

/** Options of `Gateway.layer` (everything else comes from the config's `gateway` section). */
export interface GatewayOptions {
  /** Overrides `gateway.port` (0: any free port; read the bound one from `Gateway.address`). */
  readonly port?: number
  /** Overrides `gateway.host`. */
  readonly host?: string
  /** Replaces the built-in bearer-key checks (e.g. by an identity subsystem's issued keys). */
  readonly auth?: Layer.Layer<ApiAuth | AdminAuth>
  /**
   * The issued keys and abuse detector behind the `/admin/keys` and `/admin/blocks` endpoints (404 when absent),
   * and the audit log where the route-permission refusals (`access.denied`) are recorded.
   */
  readonly access?: AccessServices
  /**
   * The role definitions every route's `RequiredPermission` is checked against (default: `Rbac.defaultRoles`;
   * build one from config or a store with `Rbac.make(definitions)`).
   */
  readonly rbac?: RbacShape
  /** Replaces `Embedder.layer` (`Llm.embed`), e.g. by the offline `Embedder.layerScripted`. */
  readonly embedder?: Layer.Layer<Embedder, never, ConfigStore | Llm>
  /** More readiness checks (Redis, PostgreSQL, providers: see `HealthCheck`). */
  readonly checks?: ReadonlyArray<HealthCheck>
  /**
   * Extra routes served beside the API (e.g. `GatewayAgents.routes`), as an `HttpRouter` layer; they may use the
   * gateway's `GatewayRouteContext` (its state for draining streams, its API auth, its server scope).
   */
  readonly routes?: Layer.Layer<never, never, HttpRouter.HttpRouter | GatewayRouteContext>
}

/** Where the server listens. */
export interface GatewayAddress {
  readonly host: string
  readonly port: number
  /** `http://host:port` */
  readonly url: string
}

/** A running gateway: where it listens, its lifecycle phase, the work in flight and `drain`. */
export interface GatewayShape {
  readonly address: GatewayAddress
  readonly phase: Effect.Effect<Phase>
  /** Requests and streams in flight. */
  readonly inFlight: Effect.Effect<{ readonly requests: number; readonly streams: number }>
  /**
   * Drains now (readiness false, deregistration delay, refuse new requests, wait for in-flight work up to the
   * timeout, end open streams). Idempotent; releasing the layer runs it too.
   */
  readonly drain: Effect.Effect<void>
}

/** The running gateway (provided by `Gateway.layer`). */
export class Gateway extends Context.Service<Gateway, GatewayShape>()("troupe/Gateway") {
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
}

/** What `Gateway.layer` needs: troupe's services (as `Troupe.layer` provides them). */
export type GatewayRequirements =
  | Llm
  | ConfigStore
  | TelemetryHub
  | Supervisor.RootSupervisor
  | Lifecycle

const make = (options: GatewayOptions) =>
  Effect.gen(function*() {
    const store = yield* ConfigStore
    const hub = yield* TelemetryHub
    const root = yield* Supervisor.RootSupervisor
    const lifecycle = yield* Lifecycle
    const context = yield* Effect.context<GatewayRequirements>()

    const initial = (yield* store.get).gateway
    let section: GatewaySection = initial
    const state = yield* makeState(initial.maintenance)
    const apply = (config: TroupeConfig) => {
      section = config.gateway
      state.maintenance = config.gateway.maintenance
    }
    const changes = yield* store.subscribe
    yield* changes.pipe(Stream.runForEach((change) => Effect.sync(() => apply(change.config))), Effect.forkScoped)

    // restarts seen since the gateway started, per `supervisor/child` (bounded)
    const restarts = new Map<string, number>()
    const events = yield* lifecycle.subscribe
    yield* events.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (event._tag !== "ChildRestarted" || event.childId === undefined) return
          const key = `${event.supervisor}/${event.childId}`
          if (!restarts.has(key) && restarts.size >= 10_000) return
          restarts.set(key, (restarts.get(key) ?? 0) + 1)
        })
      ),
      Effect.forkScoped
    )

    const metricsContext = yield* Effect.context<never>()
    const metrics = new HttpMetrics(metricsContext, state)
    const checks: Array<HealthCheck> = [
      {
        name: "supervisor",
        run: Effect.suspend(() =>
          root.exitReason === undefined ? Effect.void : Effect.fail(new Error("the root supervisor has exited"))
        )
      },
      { name: "config", run: store.get },
      ...Object.entries(initial.health.probeUrls).map(([name, url]) => httpGet(name, url)),
      ...(options.checks ?? [])
    ]
    const health = new HealthRegistry(checks, {
      timeoutMillis: initial.health.timeout,
      cacheTtlMillis: initial.health.cacheTtl
    })

    // --- drain -----------------------------------------------------------------------------------------------------
    const drained = yield* Deferred.make<void>()
    let draining = false
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      if (draining) return Deferred.await(drained)
      draining = true
      const { deregistrationDelay, timeout } = section.drain
      return Effect.gen(function*() {
        state.phase = "draining"
        yield* Effect.logInfo("gateway draining").pipe(
          Effect.annotateLogs({ in_flight: state.inFlight, streams: state.openStreams })
        )
        if (deregistrationDelay > 0) yield* Effect.sleep(Duration.millis(deregistrationDelay))
        state.phase = "closing"
        yield* Deferred.succeed(state.closed, undefined)
        yield* Effect.timeoutOrElse(state.whenIdle, { duration: Duration.millis(timeout), orElse: () => Effect.void })
        if (!state.idle) {
          yield* Effect.logWarning("drain timeout: ending open streams").pipe(
            Effect.annotateLogs({ in_flight: state.inFlight, streams: state.openStreams })
          )
        }
        yield* Deferred.succeed(state.streamsEnd, undefined)
        yield* Effect.timeoutOrElse(state.whenIdle, { duration: Duration.seconds(1), orElse: () => Effect.void })
        state.phase = "stopped"
      }).pipe(Effect.ensuring(Deferred.succeed(drained, undefined)), Effect.uninterruptible)
    })

    // --- the server ------------------------------------------------------------------------------------------------
    const embedder = options.embedder ?? Embedder.layer
    const rbac = options.rbac ?? (yield* Rbac.make(Rbac.defaultRoles).pipe(Effect.orDie)) // the default roles are valid
    const auth = enforce(options.auth ?? layerKeys(() => section.auth), { rbac, audit: options.access?.audit })
    const ops = { state, health, restarts, apply, audit: options.access?.audit }
    const apiAuth = Context.get(yield* Layer.build(auth), ApiAuth)
    const api = HttpApiBuilder.layer(GatewayApi, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide([
        openAiHandlers(state),
        healthHandlers(ops),
        adminHandlers(ops),
        observerHandlers(ops),
        errorsHandlers,
        dlqHandlers,
        costsHandlers,
        runsHandlers,
        auditHandlers(options.access?.audit),
        privacyHandlers(options.access?.privacy),
        accessHandlers(options.access)
      ]),
      Layer.provide([auth, layerOpenAiErrors, layerCostsErrors, embedder])
    )
    const metricsRoute = HttpRouter.add(
      "GET",
      "/metrics",
      Effect.map(hub.prometheus(), (text) =>
        HttpServerResponse.text(text + processMetricsText(), {
          contentType: "text/plain; version=0.0.4; charset=utf-8"
        }))
    )
    const listening = yield* Deferred.make<GatewayAddress, unknown>()
    let address: GatewayAddress | undefined
    // the server, telling `onServer` its node server, running `onRelease` before it closes
    const serve = (onServer: (server: Server) => void, onRelease: Effect.Effect<void>) =>
      Effect.gen(function*() {
        const current = section
        // CORS runs inside the gateway middleware's request id, metrics and access log, and outside its gates
        const cors = current.cors === false ? undefined : HttpMiddleware.cors({
          // effect's `[]` means any origin: only an explicit "*" does here, an empty list allows none
          allowedOrigins: current.cors.allowedOrigins.includes("*")
            ? []
            : current.cors.allowedOrigins.length === 0
            ? () => false
            : current.cors.allowedOrigins,
          allowedHeaders: current.cors.allowedHeaders,
          exposedHeaders: current.cors.exposedHeaders,
          credentials: current.cors.credentials,
          ...(current.cors.maxAge !== undefined ? { maxAge: current.cors.maxAge } : {})
        })
        const middleware = HttpRouter.middleware(
          makeGatewayMiddleware({
            state,
            metrics,
            settings: () => section,
            ...(cors === undefined ? {} : { cors })
          }),
          { global: true }
        )
        const routeContext = makeRouteContext(state, apiAuth, yield* Effect.scope)
        const routes = options.routes === undefined
          ? Layer.empty
          : options.routes.pipe(Layer.provide(Layer.succeed(GatewayRouteContext, routeContext)))
        const app = Layer.mergeAll(api, metricsRoute, observerRoute, middleware, routes)
        const port = address?.port ?? options.port ?? current.port // a restart keeps the bound port
        const host = options.host ?? current.host
        const server = HttpRouter.serve(app, { disableListenLog: true, disableLogger: true }).pipe(
          Layer.provideMerge(NodeHttpServer.layer(() => {
            const server = createServer({ keepAliveTimeout: 5_000 })
            onServer(server)
            return server
          }, {
            port,
            host,
            // the drain has already given in-flight work its timeout
            gracefulShutdownTimeout: Duration.millis(closeGraceMillis)
          }))
        )
        const built = yield* Layer.build(server).pipe(Effect.tapCause((cause) => Deferred.failCause(listening, cause)))
        const bound = Context.get(built, HttpServer.HttpServer).address
        const boundPort = "port" in bound ? bound.port : port
        address = { host, port: boundPort, url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}` }
        yield* Deferred.succeed(listening, address)
        if (state.phase === "starting") state.phase = "ready"
        // added after the server's own finalizer, so it runs first: drain (and arm the force close), then close
        yield* Effect.addFinalizer(() => onRelease)
        return yield* Effect.never
      })

    // the outer scope outlives the server's: it holds the force-close timer armed when the drain is over
    const serverTask: Effect.Effect<never, unknown, never> = Effect.scoped(Effect.gen(function*() {
      const outer = yield* Effect.scope
      let node: Server | undefined
      const forceClose = Effect.sleep(Duration.millis(forceCloseMillis)).pipe(
        Effect.andThen(Effect.sync(() => node?.closeAllConnections())),
        Effect.forkIn(outer),
        Effect.asVoid
      )
      return yield* Effect.scoped(serve((server) => (node = server), Effect.andThen(drain, forceClose)))
    })).pipe(Effect.provideContext(context))

    // "infinity": the drain is bounded by its own snapshot of the live settings (a fixed limit taken from the initial
    // ones would cut a drain whose settings were raised since, leaving the server running after the tree)
    yield* Supervisor.start({
      name: "gateway",
      strategy: "oneForOne",
      maxRestarts: 3,
      maxSeconds: 5,
      children: [ChildSpec.task({ id: "http-server", run: serverTask, shutdown: "infinity" })]
    }).pipe(Effect.orDie)
    // not proven sound: a listen failure (e.g. a taken port) is passed on as is, though the layer's type does not name it
    const bound = yield* Deferred.await(listening).pipe(Effect.mapError((e) => e as never))
    yield* Effect.logInfo(`troupe gateway listening on ${bound.url}`)

    return Gateway.of({
      address: bound,
      phase: Effect.sync(() => state.phase),
      inFlight: Effect.sync(() => ({ requests: state.inFlight, streams: state.openStreams })),
      drain
    })
  })

/**
 * The gateway layer: needs troupe's services (`Troupe.layer` or your own), provides `Gateway`, and serves until
 * released (which drains first).
 *
 * @example
 * ```ts
 * const main = Layer.launch(Gateway.layer({ port: 7400 }).pipe(Layer.provide(Troupe.layer())))
 * NodeRuntime.runMain(main)
 * ```
 */
export const layer = (options: GatewayOptions = {}): Layer.Layer<Gateway, never, GatewayRequirements> =>
  Layer.effect(Gateway, make(options))

/**
 * Handlers of the `health` and `admin` groups.
 *
 * - `/health/live`: 200 while the process and its root supervisor are up (503 once the root has exited);
 * - `/health/ready`: 200 only when the gateway is `ready` (not starting, draining or closing), not in maintenance,
 *   and every critical check is up; the body lists each check (status, latency, last error, when checked);
 * - `/health/startup`: 200 once the server listens;
 * - `/admin/config`: the effective configuration with every secret as `"<redacted>"`; `PATCH` deep-merges a partial
 *   configuration through `ConfigStore.patch` (validated whole; a rejection is a 400 listing every path);
 * - `/admin/supervision`: the supervision tree from the root (every supervisor and child with pid, state, restart
 *   type and the restarts seen since the gateway started);
 * - `/admin/stats`: gateway, cache, rate limiter, breakers (per configured provider) and config counters;
 * - `/admin/maintenance`: read, or switch on/off (a patch of `gateway.maintenance` through the ConfigStore, so the
 *   config file, the environment and the admin API all drive the same setting).
 *
 * @since 0.1.0
 */
import { Effect, Option, Redacted } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Cache } from "../../cache/index.ts"
import { ConfigStore } from "../../config/index.ts"
import type { TroupeConfig } from "../../config/index.ts"
import type { AuditShape } from "../../identity/Audit.ts"
import { BreakerStep } from "../../pipeline/index.ts"
import { RateLimiter } from "../../ratelimit/index.ts"
import { Supervisor } from "../../runtime/index.ts"
import type { Process } from "../../runtime/Process.ts"
import { TelemetryHub } from "../../telemetry/index.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"
import type { HealthRegistry } from "../HealthCheck.ts"
import { recordAdminAction } from "./AdminAudit.ts"
import type { GatewayState } from "./GatewayState.ts"

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

/** A JSON view with every `Redacted` replaced by `"<redacted>"`. */
export const masked = (value: unknown): unknown => {
  if (Redacted.isRedacted(value)) return "<redacted>"
  if (Array.isArray(value)) return value.map(masked)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = masked(v)
    return out
  }
  return value
}

export interface OpsDeps {
  readonly state: GatewayState
  readonly health: HealthRegistry
  readonly restarts: ReadonlyMap<string, number>
  /** applies a committed configuration to the gateway at once (not only when the change feed delivers it) */
  readonly apply: (config: TroupeConfig) => void
  /** the gateway's audit log (`access.audit`), where admin actions are recorded */
  readonly audit?: AuditShape | undefined
}

/**
 * The counters `GET /admin/stats` and the observer's snapshots share: the gateway's phase and load, the cache, the
 * rate limiter (each `null` when not in the context) and each configured provider's breaker state. Built once per
 * handler group (the services are looked up then); the Effect reads them each time it runs.
 */
export const makeServiceStats = (state: GatewayState) =>
  Effect.gen(function*() {
    const store = yield* ConfigStore
    const cache = yield* Effect.serviceOption(Cache)
    const limiter = yield* Effect.serviceOption(RateLimiter)
    const breaker = yield* Effect.serviceOption(BreakerStep)
    return Effect.gen(function*() {
      const config = yield* store.get
      const breakers: Record<string, string> = {}
      if (Option.isSome(breaker)) {
        for (const provider of Object.keys(config.providers)) {
          const s = yield* Effect.option(breaker.value.state(provider))
          if (Option.isSome(s)) breakers[provider] = s.value._tag
        }
      }
      return {
        gateway: {
          phase: state.phase,
          inFlight: state.inFlight,
          openStreams: state.openStreams,
          maintenance: state.maintenance.enabled
        },
        cache: Option.isSome(cache) ? yield* cache.value.stats() : null,
        rateLimiter: Option.isSome(limiter) ? yield* limiter.value.stats : null,
        breakers
      }
    })
  })

export const healthHandlers = (deps: OpsDeps) =>
  HttpApiBuilder.group(GatewayApi, "health", (handlers) =>
    Effect.gen(function*() {
      const root = yield* Supervisor.RootSupervisor
      const { state, health } = deps
      return handlers
        .handle("live", () =>
          Effect.sync(() => {
            const up = root.exitReason === undefined
            return json({
              status: up ? "up" : "down",
              supervisor: root.name,
              uptimeSeconds: Math.round(process.uptime())
            }, up ? 200 : 503)
          }))
        .handle("startup", () =>
          Effect.sync(() => {
            const started = state.phase !== "starting"
            return json({ status: started ? "started" : "starting", phase: state.phase }, started ? 200 : 503)
          }))
        .handle("ready", () =>
          Effect.map(health.report, (checks) => {
            const checksOk = checks.every((c) => c.status === "up" || !c.critical)
            const ready = state.phase === "ready" && !state.maintenance.enabled && checksOk &&
              root.exitReason === undefined
            return json({
              status: ready ? "ready" : "not_ready",
              phase: state.phase,
              maintenance: state.maintenance.enabled,
              checks
            }, ready ? 200 : 503)
          }))
    }))

/** One node of `/admin/supervision`. */
export interface TreeNode {
  readonly id: string
  readonly type: "supervisor" | "worker"
  readonly pid: number | undefined
  readonly name: string | undefined
  readonly state: "running" | "restarting" | "stopped"
  readonly restart: string
  readonly restarts: number
  readonly children?: ReadonlyArray<TreeNode>
}

/** The supervision tree under `ref` (bounded depth). */
export const treeOf = (
  ref: Supervisor.SupervisorRef,
  restarts: ReadonlyMap<string, number>,
  depth: number
): Effect.Effect<ReadonlyArray<TreeNode>> =>
  Effect.gen(function*() {
    const children = yield* Effect.orElseSucceed(Supervisor.whichChildren(ref), () => [])
    const out: Array<TreeNode> = []
    for (const child of children) {
      // a child's process is a Process, "restarting" or undefined: an object is a Process
      const process = typeof child.process === "object" ? child.process as Process : undefined
      const node: TreeNode = {
        id: child.id,
        type: child.type,
        pid: process?.pid,
        name: process?.name,
        state: child.process === "restarting"
          ? "restarting"
          : process !== undefined && process.exitReason === undefined
          ? "running"
          : "stopped",
        restart: child.restart,
        restarts: restarts.get(`${ref.name}/${child.id}`) ?? 0,
        ...(child.type === "supervisor" && process !== undefined && depth < 16
          ? { children: yield* treeOf(process as Supervisor.SupervisorRef, restarts, depth + 1) } // a supervisor child is a SupervisorRef
          : {})
      }
      out.push(node)
    }
    return out
  })

export const adminHandlers = (deps: OpsDeps) =>
  HttpApiBuilder.group(GatewayApi, "admin", (handlers) =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const root = yield* Supervisor.RootSupervisor
      const hub = yield* TelemetryHub
      const serviceStats = yield* makeServiceStats(deps.state)
      const { state } = deps
      const patch = (partial: Record<string, unknown>) =>
        store.patch(partial).pipe(
          Effect.map((change) => {
            deps.apply(change.config)
            return { version: change.version, paths: change.paths }
          }),
          Effect.catchTag(
            "ConfigValidationError",
            (e) =>
              Effect.succeed(
                httpError(400, "invalid_request_error", e.message, { code: "invalid_config" }).toResponse()
              )
          )
        )
      const maintenanceView = () => ({
        enabled: state.maintenance.enabled,
        status: state.maintenance.status,
        message: state.maintenance.message,
        retryAfter: state.maintenance.retryAfter,
        exemptRoutes: state.maintenance.exemptRoutes,
        exemptKeys: state.maintenance.exemptKeys.length
      })
      return handlers
        .handle("getConfig", () => Effect.map(store.get, (config) => json(masked(config))))
        .handle(
          "patchConfig",
          ({ payload }) => Effect.map(patch(payload), (r) => HttpServerResponse.isHttpServerResponse(r) ? r : json(r))
        )
        .handle("supervision", () =>
          Effect.map(treeOf(root, deps.restarts, 0), (children) =>
            json({
              id: root.name,
              type: "supervisor",
              pid: root.pid,
              state: root.exitReason === undefined ? "running" : "stopped",
              children
            })))
        .handle("stats", () =>
          Effect.gen(function*() {
            return json(masked({ ...(yield* serviceStats), config: yield* store.stats }))
          }))
        .handle("getMaintenance", () => Effect.sync(() => json(maintenanceView())))
        .handle("setMaintenance", ({ payload }) =>
          Effect.flatMap(
            patch({
              gateway: { maintenance: Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined)) }
            }),
            (r) => {
              const refused = HttpServerResponse.isHttpServerResponse(r)
              const on = payload.enabled ?? state.maintenance.enabled
              // every switch is audited, a refused one (an invalid patch) as a failure
              return Effect.as(
                recordAdminAction(hub, deps.audit, {
                  action: on ? "maintenance.on" : "maintenance.off",
                  resource: "maintenance",
                  outcome: refused ? `refused (${r.status})` : on ? "on" : "off",
                  ok: !refused
                }),
                refused ? r : json(maintenanceView())
              )
            }
          ))
    }))

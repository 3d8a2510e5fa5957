/**
 * The record of an admin action (restart or stop a child, maintenance on or off): every action is audited.
 *
 * - Always a `troupe.gateway.admin.action` telemetry event (measurement `count`; metadata `action`, `path`,
 *   `outcome`, `actor`), so the observer's event stream and any handler see it.
 * - With the gateway's audit log (`access.audit`; `troupe serve` has one), also an audit entry: tenant `_`, the
 *   caller as `actor` (`admin` for the admin key, `key:…` for an issued key with the admin role), action
 *   `admin.<action>`, the child's path or `maintenance` as `resource`, `success` or `failure`, the caller's address
 *   and user agent, and the outcome in `metadata`. A failing audit store does not fail the action (it already
 *   happened); the event still says so.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import type { AuditShape } from "../../identity/Audit.ts"
import type { TelemetryHubShape } from "../../telemetry/index.ts"
import { Caller } from "../GatewayAuth.ts"

/** The telemetry event name of an admin action. */
export const adminActionEvent: ReadonlyArray<string> = Object.freeze(["troupe", "gateway", "admin", "action"])

/** What was done, to what, and how it ended. */
export interface AdminAction {
  readonly action: "restart" | "stop" | "maintenance.on" | "maintenance.off"
  readonly resource: string
  readonly outcome: string
  readonly ok: boolean
}

/** Records `entry` as an event and, with `audit`, as an audit entry (see the module doc); never fails. */
export const recordAdminAction = (
  hub: TelemetryHubShape,
  audit: AuditShape | undefined,
  entry: AdminAction
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const caller = yield* Effect.serviceOption(Caller)
    const actor = Option.match(caller, { onNone: () => "admin", onSome: (c) => c.id.slice(0, 256) })
    yield* hub.emit(adminActionEvent, { count: 1 }, {
      action: entry.action,
      path: entry.resource,
      outcome: entry.outcome,
      actor
    })
    if (audit === undefined) return
    const request = Option.getOrUndefined(yield* Effect.serviceOption(HttpServerRequest.HttpServerRequest))
    const ip = request === undefined ? undefined : Option.getOrUndefined(request.remoteAddress ?? Option.none())
    const userAgent = request?.headers["user-agent"]
    yield* Effect.ignore(audit.record({
      tenant: "_",
      actor,
      action: `admin.${entry.action}`,
      resource: entry.resource.slice(0, 512),
      status: entry.ok ? "success" : "failure",
      ...(ip !== undefined && ip !== "" ? { ip: ip.slice(0, 64) } : {}),
      ...(userAgent !== undefined && userAgent !== "" ? { userAgent: userAgent.slice(0, 512) } : {}),
      metadata: { outcome: entry.outcome.slice(0, 256) }
    }))
  })

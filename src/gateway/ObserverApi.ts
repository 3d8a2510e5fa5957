/**
 * The observer's admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /admin/events?filter=<prefix>`: a server-sent-event stream for the `/observer` page and the CLI: a
 *   `snapshot` event at once and every `interval` ms (the supervision tree with each child's state, restarts and
 *   last exit reason, and the `/admin/stats` counters), a `lifecycle` event per supervision event, and a `telemetry`
 *   event per hub event whose dotted name starts with `filter` (all `troupe.*` events when absent); telemetry
 *   metadata is masked (`Redacted` → `"<redacted>"`) and a slow reader loses the oldest events (bounded queue);
 * - `POST /admin/supervision/{path}/restart`: restarts the child at `path` (the ids from the root, `/`-separated and
 *   URL-encoded): a running child is killed (its supervisor restarts it as a crash), a stopped one is restarted;
 * - `POST /admin/supervision/{path}/stop`: terminates the child (its spec is kept, so `restart` starts it again).
 *
 * Each action is audited as the `troupe.gateway.admin.action` telemetry event (action, path, outcome). An unknown
 * path is a 404; a path naming the root is a 400; `gateway/http-server` (the server answering) is a 409.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AdminAuth } from "./GatewayAuth.ts"
import { RequiredPermission } from "./RoutePermission.ts"

const Json = Schema.Unknown

/** The `{path}` parameter of the supervision actions. */
export const ChildPath = Schema.Struct({ path: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1024)) })

/** The `GET /admin/events` query: an event-name prefix (dotted) and the snapshot interval in ms. */
export const EventsQuery = Schema.Struct({
  filter: Schema.optional(Schema.String.check(Schema.isMaxLength(256))),
  interval: Schema.optional(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 100, maximum: 60_000 }))
  )
})

/** The observer group: the live event stream and the supervision actions. */
export class ObserverGroup extends HttpApiGroup.make("observer")
  .add(HttpApiEndpoint.get("events", "/admin/events", { query: EventsQuery, success: Json }))
  .add(
    HttpApiEndpoint.post("restartChild", "/admin/supervision/:path/restart", { params: ChildPath, success: Json })
      .annotate(RequiredPermission, "gateway:admin")
  )
  .add(
    HttpApiEndpoint.post("stopChild", "/admin/supervision/:path/stop", { params: ChildPath, success: Json }).annotate(
      RequiredPermission,
      "gateway:admin"
    )
  )
  .middleware(AdminAuth)
  .annotate(RequiredPermission, "metrics:view")
{}

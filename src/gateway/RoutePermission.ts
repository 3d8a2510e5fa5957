/**
 * Route permissions: every route of the gateway declares the RBAC permission it requires, as HttpApi annotation
 * metadata (`RequiredPermission`), so a test can check that no route lacks one (issue 13 §2).
 *
 * Rules:
 * - a group declares the permission of all its endpoints with `.annotate(RequiredPermission, "<permission>")`
 *   inside its `HttpApiGroup.make(...)` chain; one endpoint may override it with
 *   `HttpApiEndpoint.….annotate(RequiredPermission, "<permission>")` (the endpoint's wins);
 * - the permission strings are the RBAC permissions of `troupe/identity` (`Rbac.Permissions`: `agent:use:*`,
 *   `metrics:view`, `users:manage`, …); `public` (`PublicRoute`) marks a route open to anyone (the probes);
 * - `routePermissions(api)` lists every endpoint of every group with its permission (or `undefined`), generically:
 *   a group added later is checked without any change here.
 *
 * Enforcement (`enforce(auth, { rbac, audit })`, applied by `Gateway.layer` to whatever `ApiAuth` / `AdminAuth`
 * it is given): after the auth middleware has accepted the caller, the route's permission is checked against the
 * caller's roles (`Caller.roles`) through `Rbac`, whose role definitions are data (`Rbac.make(definitions)`):
 * - a route whose roles grant its permission runs, with the `Subject` (the caller's id and roles) provided, so
 *   a handler may also `Rbac.require` a finer permission, and with the caller's tenant in its error context
 *   (`ErrorScope`), so the failures recorded under it count for that tenant;
 * - a permission `p` not granted is still granted on a route with a `{user}` path parameter when the roles grant
 *   `p:own` and the parameter is the caller's own principal (`usage:view:own`: one's own usage) — the parameter as
 *   the router decoded it for the endpoint (`HttpRouter.RouteContext`), never re-read from the URL, so `//…`,
 *   absolute-form targets or `;` suffixes cannot show the check one principal and the handler another; the route then
 *   runs with `OwnAccess` true, and reads only the caller's tenant's records (`/costs/usage/{user}`: the
 *   principal's spend in the key's tenant, never the same principal id's in another tenant);
 * - otherwise the request is refused with 403 (OpenAI error format, `code: "permission_denied"`), audited as
 *   `access.denied` (`denied`; the route and the permission in the metadata; for an issued key's caller — a
 *   principal and a tenant — the principal is the entry's `subject`, so its personal fields are sealed under that
 *   principal's data key and `Privacy.erase` shreds them) — an audit failure never turns the refusal into a 500;
 * - `public` routes pass; a route without metadata (the extra routes of `GatewayOptions.routes`, which reuse
 *   `ApiAuth`) requires `agent:use:*` behind `ApiAuth` and `gateway:admin` behind `AdminAuth`: unannotated is
 *   closed, never open.
 *
 * Mirrors HttpApi's own annotations (`HttpApi.ParseOptions`, `OpenApi.Title`): a `Context.Service` key; the
 * enforcement wraps the security middleware (`HttpApiMiddleware`), which receives the endpoint and its group.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Types } from "effect"
import { dual } from "effect/Function"
import { HttpRouter, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { withErrorContext } from "../errors/ErrorScope.ts"
import type { AuditShape } from "../identity/Audit.ts"
import { type RbacShape, Subject } from "../identity/Rbac.ts"
import { AdminAuth, ApiAuth, Caller, type CallerShape, rolesOf } from "./GatewayAuth.ts"
import { errorResponse, httpError } from "./GatewayError.ts"

/** The annotation key: the permission a route (an endpoint, or every endpoint of a group) requires. */
export class RequiredPermission
  extends Context.Service<RequiredPermission, string>()("troupe/gateway/RequiredPermission")
{}

/** The permission of a route open to anyone (the health probes). */
export const PublicRoute = "public"

/** One route and the permission it declares (`undefined`: none). */
export interface RoutePermission {
  readonly group: string
  readonly endpoint: string
  readonly method: string
  readonly path: string
  readonly permission: string | undefined
}

interface AnnotatedEndpoint {
  readonly identifier: string
  readonly method: string
  readonly path: string
  readonly annotations: Context.Context<never>
}
interface AnnotatedGroup {
  readonly identifier: string
  readonly endpoints: Readonly<Record<string, AnnotatedEndpoint>>
  readonly annotations: Context.Context<never>
}

/** Every endpoint of every group of `api` with the permission it declares (the endpoint's, else the group's). */
export const routePermissions = (
  api: { readonly groups: Readonly<Record<string, AnnotatedGroup>> }
): ReadonlyArray<RoutePermission> =>
  Object.values(api.groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => ({
      group: group.identifier,
      endpoint: endpoint.identifier,
      method: endpoint.method,
      path: endpoint.path,
      permission: Context.getOrUndefined(endpoint.annotations, RequiredPermission) ??
        Context.getOrUndefined(group.annotations, RequiredPermission)
    }))
  )

/** The permission an endpoint declares (its own, else its group's); `undefined` without metadata or endpoint. */
export const permissionOf = (
  endpoint: AnnotatedEndpoint | undefined,
  group: AnnotatedGroup | undefined
): string | undefined =>
  (endpoint === undefined ? undefined : Context.getOrUndefined(endpoint.annotations, RequiredPermission)) ??
    (group === undefined ? undefined : Context.getOrUndefined(group.annotations, RequiredPermission))

/** Options of `enforce`: the role definitions (an `Rbac`) and the audit log of the refusals. */
export interface EnforceOptions {
  readonly rbac: RbacShape
  readonly audit?: AuditShape | undefined
}

/** The decoded path parameters of the matched route, as the router gives them to the endpoint (`{ user: "bob" }`). */
export type RouteParams = Readonly<Record<string, string | undefined>>

/**
 * The `{user}` parameter the route is served for: the router's own decoded value (it ignores duplicate slashes,
 * accepts absolute-form targets and cuts at `;`), never a re-parse of the URL, so the check and the handler see the
 * same principal. `undefined` when the endpoint's path has no `:user` or the router gave none.
 */
const userParam = (template: string, params: RouteParams): string | undefined => {
  if (!template.split("/").includes(":user")) return undefined
  const user = params["user"]
  return user === undefined || user === "" ? undefined : user
}

/**
 * Whether the route runs because the caller's roles grant only `p:own` and the `{user}` parameter is its own
 * principal (not `p` itself): `true` inside such a request, so a handler narrows what it reads to the caller's own
 * (its tenant's) records. `false` by default.
 */
export const OwnAccess = Context.Reference<boolean>("troupe/gateway/OwnAccess", { defaultValue: () => false })

/** How `caller` may use the route: by `permission` itself, by its `:own` rule, or not (`undefined`). */
const grantOf = (
  rbac: RbacShape,
  caller: CallerShape,
  permission: string,
  endpoint: AnnotatedEndpoint | undefined,
  params: RouteParams
): "granted" | "own" | undefined => {
  if (permission === PublicRoute) return "granted"
  const roles = rolesOf(caller)
  if (rbac.can(roles, permission)) return "granted"
  if (endpoint === undefined || !rbac.can(roles, `${permission}:own`)) return undefined
  const owner = userParam(endpoint.path, params)
  return owner !== undefined && owner === (caller.principal ?? caller.id) ? "own" : undefined
}

/**
 * Whether `caller` may use the route (`permission` on `endpoint`, matched by the router with the decoded path
 * `params`, e.g. `HttpRouter.RouteContext`'s).
 */
export const allows = (
  rbac: RbacShape,
  caller: CallerShape,
  permission: string,
  endpoint: AnnotatedEndpoint | undefined,
  params: RouteParams
): boolean => grantOf(rbac, caller, permission, endpoint, params) !== undefined

const guard = (
  options: EnforceOptions,
  fallback: string,
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, Caller>,
  endpoint: AnnotatedEndpoint | undefined,
  group: AnnotatedGroup | undefined,
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, Caller> =>
  Effect.gen(function*() {
    const caller = yield* Caller
    const permission = permissionOf(endpoint, group) ?? fallback
    const roles = rolesOf(caller)
    // the router's decoded params, which the endpoint decodes too (none outside a routed request: no own access)
    const route = yield* Effect.serviceOption(HttpRouter.RouteContext)
    const params = Option.match(route, { onNone: () => ({}), onSome: (r) => r.params })
    const grant = grantOf(options.rbac, caller, permission, endpoint, params)
    if (grant !== undefined) {
      const allowed = Effect.provideService(httpEffect, Subject, { id: caller.id, roles }).pipe(
        Effect.provideService(OwnAccess, grant === "own")
      )
      return yield* (caller.tenant === undefined ? allowed : withErrorContext({ tenant: caller.tenant })(allowed))
    }
    const path = request.url.split("?")[0]!.slice(0, 512) || "/"
    const routeName = endpoint === undefined ? path : `${group?.identifier ?? "?"}.${endpoint.identifier}`
    if (options.audit !== undefined) {
      const ip = Option.getOrUndefined(request.remoteAddress ?? Option.none())
      const userAgent = request.headers["user-agent"]
      yield* options.audit.record({
        tenant: caller.tenant ?? "_",
        actor: caller.id.slice(0, 128),
        action: "access.denied",
        resource: `${request.method} ${path}`.slice(0, 512),
        status: "denied",
        ...(ip !== undefined && ip !== "" ? { ip: ip.slice(0, 64) } : {}),
        ...(userAgent !== undefined && userAgent !== "" ? { userAgent: userAgent.slice(0, 512) } : {}),
        metadata: { route: routeName.slice(0, 256), permission, roles: roles.join(",").slice(0, 256) },
        // an issued key's caller: its principal is the entry's subject (sealed per subject, erasable)
        ...(caller.principal !== undefined && caller.tenant !== undefined ? { subject: caller.principal } : {})
      }).pipe(Effect.ignore)
    }
    return errorResponse(
      httpError(403, "permission_denied", `This caller lacks the permission ${permission}.`, {
        code: "permission_denied"
      })
    )
  })

const withRequest = <A, E, R>(f: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, f)

/**
 * Enforces every route's `RequiredPermission` on top of an `ApiAuth` / `AdminAuth` layer (see the module doc).
 * Pipeable: `auth.pipe(RoutePermission.enforce({ rbac }))`.
 */
export const enforce: {
  (options: EnforceOptions): (auth: Layer.Layer<ApiAuth | AdminAuth>) => Layer.Layer<ApiAuth | AdminAuth>
  (auth: Layer.Layer<ApiAuth | AdminAuth>, options: EnforceOptions): Layer.Layer<ApiAuth | AdminAuth>
} = dual(
  2,
  (auth: Layer.Layer<ApiAuth | AdminAuth>, options: EnforceOptions): Layer.Layer<ApiAuth | AdminAuth> =>
    Layer.effectContext(Effect.gen(function*() {
      const api = yield* ApiAuth
      const admin = yield* AdminAuth
      return Context.make(
        ApiAuth,
        ApiAuth.of({
          bearer: (effect, o) =>
            withRequest((request) => api.bearer(guard(options, "agent:use:*", effect, o.endpoint, o.group, request), o))
        })
      ).pipe(Context.add(
        AdminAuth,
        AdminAuth.of({
          bearer: (effect, o) =>
            withRequest((request) =>
              admin.bearer(guard(options, "gateway:admin", effect, o.endpoint, o.group, request), o)
            )
        })
      ))
    })).pipe(Layer.provide(auth))
)

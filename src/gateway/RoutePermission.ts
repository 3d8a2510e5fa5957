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
 * The metadata is declarative today: the auth middleware does not yet read it (keys carry scopes, not roles).
 *
 * Mirrors HttpApi's own annotations (`HttpApi.ParseOptions`, `OpenApi.Title`): a `Context.Service` key.
 *
 * @since 0.1.0
 */
import { Context } from "effect"

/** The annotation key: the permission a route (an endpoint, or every endpoint of a group) requires. */
export class RequiredPermission extends Context.Service<RequiredPermission, string>()("troupe/gateway/RequiredPermission") {}

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
  readonly name: string
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
export const routePermissions = (api: { readonly groups: Readonly<Record<string, AnnotatedGroup>> }): ReadonlyArray<RoutePermission> =>
  Object.values(api.groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => ({
      group: group.identifier,
      endpoint: endpoint.name,
      method: endpoint.method,
      path: endpoint.path,
      permission: Context.getOrUndefined(endpoint.annotations, RequiredPermission) ??
        Context.getOrUndefined(group.annotations, RequiredPermission)
    }))
  )

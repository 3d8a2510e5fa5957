/**
 * Role-based access control: roles and permissions as data, and `require(permission)` as an Effect guard.
 *
 * Rules:
 * - a permission is a string such as `metrics:view` or `agent:use:chat`; a granted permission may end in `*`
 *   (`agent:use:*` grants every agent kind; `*` alone grants everything);
 * - a role is a named list of granted permissions plus the roles it `inherits` (transitively; a cycle is refused
 *   at load time); role definitions are data, decoded with Schema (`RoleDefinitions`), so they can come from config
 *   or a store; a bad definition fails `InvalidIdentityInput` naming the path;
 * - the permissions (`Permissions`) are the one vocabulary of the gateway's route metadata
 *   (`RequiredPermission`, src/gateway/RoutePermission.ts) and of the guard: `agent:use:<kind>` (`agent:use:*`),
 *   `metrics:view`, `usage:view` (every caller's spend and budgets), `usage:view:own` (one's own usage only),
 *   `admin:read` (the read-only admin GETs), `gateway:admin` (admin writes: config, maintenance, supervision
 *   actions, dead letters, budgets), `users:manage` (keys, blocks, the abuse policy), `data:export`,
 *   `data:erase` (GDPR erasure of a subject, `POST /admin/privacy/erase`: granted by no built-in role but `admin`),
 *   `training:manage`, `documents:upload`, `documents:delete`;
 * - the four built-in roles of the plan (`defaultRoles`): `admin` (everything), `viewer` (view metrics and usage,
 *   the read-only admin GETs), `api_user` (use every agent kind), `user` (what `api_user` may, plus view metrics,
 *   one's own usage, upload and delete documents);
 * - the gateway enforces the same permissions as route metadata (`RequiredPermission`, checked by
 *   `RoutePermission.enforce` before the handler runs, with the `Subject` provided to it);
 * - `require(permission)` reads the current `Subject` (its roles) and fails `PermissionDenied` naming the
 *   permission and the roles when none of the roles grants it; an unknown role grants nothing.
 *
 * Hand-rolled (Effect has no RBAC module); mirrors the usual RBAC0 model (users → roles → permissions).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { InvalidIdentityInput, PermissionDenied } from "./IdentityError.ts"
import { toInvalidInput } from "./Keys.ts"

/** A permission (or a granted pattern ending in `*`): 1–128 characters of `[a-z0-9_.:*-]`. */
export const Permission = Schema.String.pipe(Schema.check(Schema.isPattern(/^[a-z0-9_.:*-]{1,128}$/)))
export type Permission = typeof Permission.Type

/** A role name: 1–64 characters of `[a-z0-9_.-]`. */
export const RoleName = Schema.String.pipe(Schema.check(Schema.isPattern(/^[a-z0-9_.-]{1,64}$/)))

/** A role: its permissions and the roles it inherits. */
export const RoleDefinition = Schema.Struct({
  permissions: Schema.Array(Permission),
  inherits: Schema.optionalKey(Schema.Array(RoleName))
})
/** Roles by name (Schema-validated data). */
export const RoleDefinitions = Schema.Record(RoleName, RoleDefinition)
export type RoleDefinitions = typeof RoleDefinitions.Type

/** The permissions of the enterprise plan. */
export const Permissions = {
  useAgent: (kind: string): string => `agent:use:${kind}`,
  useAnyAgent: "agent:use:*",
  viewMetrics: "metrics:view",
  viewUsage: "usage:view",
  viewOwnUsage: "usage:view:own",
  readAdmin: "admin:read",
  manageGateway: "gateway:admin",
  manageUsers: "users:manage",
  exportData: "data:export",
  eraseData: "data:erase",
  manageTraining: "training:manage",
  uploadDocuments: "documents:upload",
  deleteDocuments: "documents:delete"
} as const

/** The four roles of the plan. */
export const defaultRoles: RoleDefinitions = {
  admin: { permissions: ["*"] },
  viewer: { permissions: [Permissions.viewMetrics, Permissions.viewUsage, Permissions.readAdmin] },
  api_user: { permissions: [Permissions.useAnyAgent] },
  user: {
    permissions: [
      Permissions.viewMetrics,
      Permissions.viewOwnUsage,
      Permissions.uploadDocuments,
      Permissions.deleteDocuments
    ],
    inherits: ["api_user"]
  }
}

/** Who is acting: the roles the guard checks. Provided per request (e.g. by the auth middleware). */
export class Subject extends Context.Service<Subject, { readonly id: string; readonly roles: ReadonlyArray<string> }>()(
  "troupe/identity/Subject"
) {}

/** Role-based access control: the permissions of roles and the `require` guard. */
export interface RbacShape {
  /** Every granted pattern of these roles (inheritance resolved). */
  readonly grantsOf: (roles: ReadonlyArray<string>) => ReadonlyArray<string>
  readonly can: (roles: ReadonlyArray<string>, permission: string) => boolean
  /** Fails `PermissionDenied` when the current `Subject`'s roles do not grant `permission`. */
  readonly require: (permission: string) => Effect.Effect<void, PermissionDenied, Subject>
}

/** The RBAC service. */
export class Rbac extends Context.Service<Rbac, RbacShape>()("troupe/identity/Rbac") {
  /** `Permission` of this module, as a static member. */
  static get Permission() {
    return Permission
  }
  /** `RoleName` of this module, as a static member. */
  static get RoleName() {
    return RoleName
  }
  /** `RoleDefinition` of this module, as a static member. */
  static get RoleDefinition() {
    return RoleDefinition
  }
  /** `RoleDefinitions` of this module, as a static member. */
  static get RoleDefinitions() {
    return RoleDefinitions
  }
  /** `Permissions` of this module, as a static member. */
  static get Permissions() {
    return Permissions
  }
  /** `defaultRoles` of this module, as a static member. */
  static get defaultRoles() {
    return defaultRoles
  }
  /** `Subject` of this module, as a static member. */
  static get Subject() {
    return Subject
  }
  /** `matches` of this module, as a static member. */
  static get matches() {
    return matches
  }
  /** `make` of this module, as a static member. */
  static get make() {
    return make
  }
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
  /** `require` of this module, as a static member. */
  static get require() {
    return require_
  }
}

/** Whether a granted permission covers `permission` (equal, `*`, or a trailing-`*` prefix). */
export const matches = (grant: string, permission: string): boolean =>
  grant === permission || grant === "*" || (grant.endsWith("*") && permission.startsWith(grant.slice(0, -1)))

/** Decodes role definitions and resolves inheritance. Fails `InvalidIdentityInput` (bad data, unknown parent, cycle). */
export const make = (definitions: unknown): Effect.Effect<RbacShape, InvalidIdentityInput> =>
  Effect.gen(function*() {
    const roles = yield* Schema.decodeUnknownEffect(RoleDefinitions)(definitions).pipe(
      Effect.mapError(toInvalidInput("roles"))
    )
    const resolved = new Map<string, ReadonlyArray<string>>()
    const resolve = (name: string, path: ReadonlyArray<string>): ReadonlyArray<string> | InvalidIdentityInput => {
      const done = resolved.get(name)
      if (done !== undefined) return done
      if (path.includes(name)) {
        return InvalidIdentityInput.at(`roles.${name}.inherits`, `inheritance cycle ${[...path, name].join(" -> ")}`)
      }
      // own roles only: `roles.constructor` would find Object.prototype's
      const def = Object.hasOwn(roles, name) ? roles[name] : undefined
      if (def === undefined) {
        return InvalidIdentityInput.at(`roles.${path.at(-1) ?? name}.inherits`, `unknown role ${name}`)
      }
      const grants = new Set(def.permissions)
      for (const parent of def.inherits ?? []) {
        const inherited = resolve(parent, [...path, name])
        if (inherited instanceof InvalidIdentityInput) {
          return inherited
        }
        for (const g of inherited) grants.add(g)
      }
      const list = [...grants]
      resolved.set(name, list)
      return list
    }
    for (const name of Object.keys(roles)) {
      const result = resolve(name, [])
      if (result instanceof InvalidIdentityInput) return yield* result
    }
    const grantsOf = (names: ReadonlyArray<string>) => [...new Set(names.flatMap((n) => resolved.get(n) ?? []))]
    const can = (names: ReadonlyArray<string>, permission: string) =>
      grantsOf(names).some((g) => matches(g, permission))
    return {
      grantsOf,
      can,
      require: (permission) =>
        Effect.gen(function*() {
          const subject = yield* Subject
          if (!can(subject.roles, permission)) {
            return yield* new PermissionDenied({ permission, roles: [...subject.roles] })
          }
        })
    }
  })

/**
 * `Rbac` over the given definitions (default: the four roles of the plan). Building the layer fails with
 * `InvalidIdentityInput` when the definitions do not decode (path under `roles`), a role inherits an unknown role,
 * or inheritance has a cycle.
 */
export const layer = (definitions: unknown = defaultRoles): Layer.Layer<Rbac, InvalidIdentityInput> =>
  Layer.effect(Rbac, make(definitions))

/**
 * The guard: `yield* Rbac.require("metrics:view")` inside a handler. Fails with `PermissionDenied` when no role of
 * the `Subject` in context grants `permission` (directly, by inheritance or by a wildcard).
 */
export const require_ = (permission: string): Effect.Effect<void, PermissionDenied, Rbac | Subject> =>
  Effect.gen(function*() {
    const rbac = yield* Rbac
    yield* rbac.require(permission)
  })
export { require_ as require }

/**
 * Principals: who a key (or an audit entry) belongs to.
 *
 * Rules:
 * - a principal is a `user`, a `service_account` or a `tenant` (a tenant acting as itself, e.g. its billing key);
 * - every principal carries the `tenant` it lives in, and every stored record (key, audit entry) repeats that
 *   tenant id, so that every query can be scoped to one tenant (tenants isolate everything);
 * - ids are short printable strings (1–128 chars of `[A-Za-z0-9._:@-]`), decoded with Schema at every entry point.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** An identifier of a tenant, principal or key: 1–128 characters of `[A-Za-z0-9._:@-]`. */
export const Id = Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9._:@-]{1,128}$/)))

/** What a principal is. */
export const PrincipalKind = Schema.Literals(["user", "service_account", "tenant"])
export type PrincipalKind = typeof PrincipalKind.Type

/** Who a key belongs to: a user, a service account or a tenant. */
export const Principal = Schema.Struct({
  kind: PrincipalKind,
  id: Id,
  tenant: Id
})
export type Principal = typeof Principal.Type

/**
 * Identity, access and audit: issued API keys over a `KeyStore` (memory, PostgreSQL), principals and tenants,
 * RBAC, the audit log and abuse blocking.
 * and secrets at rest (`SecretBox` AES-256-GCM envelopes under a `KeyProvider`).
 *
 * @since 0.1.0
 */
export * from "./IdentityError.ts"
export * from "./KeyRecord.ts"
export * as KeyStore from "./KeyStore.ts"
export * as Keys from "./Keys.ts"
export * from "./Principal.ts"
export * as Rbac from "./Rbac.ts"
export * from "./AuditEntry.ts"
export * as AuditStore from "./AuditStore.ts"
export * as Audit from "./Audit.ts"
export * as GatewayKeyAuth from "./GatewayKeyAuth.ts"
export * as Abuse from "./Abuse.ts"
export * as KeyProvider from "./KeyProvider.ts"
export * as SecretBox from "./SecretBox.ts"
export * as AuditReport from "./AuditReport.ts"

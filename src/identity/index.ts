/**
 * Identity, access and audit: issued API keys over a `KeyStore` (memory, PostgreSQL), principals and tenants,
 * RBAC, the audit log and abuse blocking.
 * and secrets at rest (`SecretBox` AES-256-GCM envelopes under a `KeyProvider`).
 *
 * @since 0.1.0
 */
export * from "./IdentityError.ts"
export * from "./KeyRecord.ts"
export { KeyStore } from "./KeyStore.ts"
export type { KeyPatch, KeyStoreShape } from "./KeyStore.ts"
export { Keys } from "./Keys.ts"
export type { CreateKeyInput, ValidatedKey, CreatedKey, KeysShape, KeysOptions } from "./Keys.ts"
export * from "./Principal.ts"
export { Rbac } from "./Rbac.ts"
export type { Permission, RoleDefinitions, RbacShape } from "./Rbac.ts"
export * from "./AuditEntry.ts"
export { AuditStore } from "./AuditStore.ts"
export type { AuditFilter, AuditStoreShape } from "./AuditStore.ts"
export { Audit } from "./Audit.ts"
export type { AuditShape, AuditCheckpoint, BrokenReason, ChainCheck } from "./Audit.ts"
export * as GatewayKeyAuth from "./GatewayKeyAuth.ts"
export * as Abuse from "./Abuse.ts"
export { KeyProvider, SecretError, SecretErrorReason } from "./KeyProvider.ts"
export type { MasterKey, KeyProviderShape } from "./KeyProvider.ts"
export { SecretBox } from "./SecretBox.ts"
export type { Rotation, SecretBoxShape } from "./SecretBox.ts"
export * as AuditReport from "./AuditReport.ts"

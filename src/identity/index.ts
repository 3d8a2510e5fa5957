/**
 * Identity, access and audit: issued API keys over a `KeyStore` (memory, PostgreSQL), principals and tenants,
 * RBAC, the audit log and abuse blocking, GDPR erasure (`Privacy`, per-subject data keys in `SubjectKeys`),
 * and secrets at rest (`SecretBox` AES-256-GCM envelopes under a `KeyProvider`).
 *
 * @since 0.1.0
 */
export * as Abuse from "./Abuse.ts"
export { Audit } from "./Audit.ts"
export type { AuditBatching, AuditCheckpoint, AuditShape, BrokenReason, ChainCheck } from "./Audit.ts"
export * from "./AuditEntry.ts"
export * as AuditReport from "./AuditReport.ts"
export { AuditStore } from "./AuditStore.ts"
export type { AuditFilter, AuditStoreShape } from "./AuditStore.ts"
export * as GatewayKeyAuth from "./GatewayKeyAuth.ts"
export * from "./IdentityError.ts"
export { KeyProvider, SecretError, SecretErrorReason } from "./KeyProvider.ts"
export type { KeyProviderShape, MasterKey } from "./KeyProvider.ts"
export * from "./KeyRecord.ts"
export { Keys } from "./Keys.ts"
export type { CreatedKey, CreateKeyInput, KeysOptions, KeysShape, ValidatedKey } from "./Keys.ts"
export { KeyStore } from "./KeyStore.ts"
export type { KeyPatch, KeyStoreShape } from "./KeyStore.ts"
export * from "./Principal.ts"
export { Privacy } from "./Privacy.ts"
export type { EraseInput, ErasureItem, ErasureReport, ErasureWhere, PrivacyShape } from "./Privacy.ts"
export { Rbac } from "./Rbac.ts"
export type { Permission, RbacShape, RoleDefinitions } from "./Rbac.ts"
export { SecretBox } from "./SecretBox.ts"
export type { Rotation, SecretBoxShape } from "./SecretBox.ts"
export { SubjectIndex } from "./SubjectIndex.ts"
export type { SubjectIndexShape, SubjectRefKind } from "./SubjectIndex.ts"
export { SubjectKeyRecord, SubjectKeys } from "./SubjectKeys.ts"
export type { SubjectKeysShape } from "./SubjectKeys.ts"

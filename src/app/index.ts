/**
 * troupe's application layer: every service composed under one root supervisor.
 */
export * as Troupe from "./Troupe.ts"
export type { Services, TroupeOptions } from "./Troupe.ts"
export { InvalidTroupeOptions } from "./TroupeOptions.ts"

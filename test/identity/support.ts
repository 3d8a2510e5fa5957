/** Shared fixtures of the identity tests. */
import { Exit, Redacted } from "effect"
import type { Principal } from "../../src/identity/index.ts"

export const PEPPER = Redacted.make("test-pepper-0123456789abcdef0123456789")

let counter = 0
/** A tenant id unique within this process (tests on one shared schema never see each other's records). */
export const freshTenant = (label = "t"): string => `${label}-${process.pid}-${++counter}`

export const user = (tenant: string, id = "alice"): Principal => ({ kind: "user", id, tenant })

export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  }
  return reason.error
}

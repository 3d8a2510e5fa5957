/**
 * The hot-path shortcut of `Budgets.reserve`: a plain check of the common input (scopes and an amount, no `ttl`)
 * that the reservation Schema would accept unchanged, so the Schema decoder runs only for the rest. Conservative:
 * `false` means "ask the Schema". Tested against the Schema with fast-check (test/budget/FastReserve.test.ts).
 * @internal
 */
import { SCOPE_PATTERN } from "../Budget.ts"

/** Most scopes a reservation may name. */
export const MAX_SCOPES = 16

/** True only for `{ scopes, amount }` values the reservation Schema accepts as they are. */
export const isPlainReserve = (
  u: unknown
): u is { readonly scopes: ReadonlyArray<string>; readonly amount: number } => {
  if (typeof u !== "object" || u === null || Object.getPrototypeOf(u) !== Object.prototype) return false
  const o = u as Record<string, unknown> // an object: its own keys are checked below
  let keys = 0
  for (const key in o) {
    if (key !== "scopes" && key !== "amount") return false
    keys++
  }
  if (keys !== 2) return false
  const amount = o["amount"]
  if (typeof amount !== "number" || !(amount >= 0 && amount <= 1e9)) return false
  const scopes = o["scopes"]
  if (!Array.isArray(scopes) || Object.getPrototypeOf(scopes) !== Array.prototype || scopes.length > MAX_SCOPES) {
    return false
  }
  for (let i = 0; i < scopes.length; i++) {
    const s: unknown = scopes[i]
    if (typeof s !== "string" || !SCOPE_PATTERN.test(s)) return false
  }
  return true
}

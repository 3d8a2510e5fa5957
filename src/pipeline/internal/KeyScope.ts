/**
 * The scope of a response-cache or coalescing key: who may share an entry. `ResponseCacheStep` and `CoalesceStep`
 * both key a call by the SHA-256 of its request fields (`hashRequestFields`); this module adds the call's tenant and
 * the identity of its per-call API key to that hash as a separate component, outside anything a request carries.
 *
 * Rules:
 *
 * - **A call without a tenant or an API key keeps its plain request hash**, so those keys are what `ResponseCache`
 *   computes for the same fields (and what they were before scopes existed).
 * - **A scoped call's hash is the SHA-256 of a scope header and the request hash**:
 *   `troupe-scope\n<JSON [tenant, credential]>\n<request hash>`. A request hash's preimage is canonical JSON and
 *   starts with `{`; a scoped preimage starts with `troupe-scope`, so no request content — messages, tools or
 *   params — can produce a scoped key, and `JSON.stringify` of the pair is injective, so tenants and credentials
 *   never share one. (Before this, the scope was merged into the hashed params as `troupe.tenant` /
 *   `troupe.credential`, which a request carrying those params could forge.)
 * - **A call whose params carry `troupe.tenant` or `troupe.credential` is not keyed** (never cached, never
 *   coalesced): such a request hashes to what a scoped key was before the scope moved out of the params, so in a
 *   persistent cache tier it could still read a tenant's entry stored by an older version. `decodeLlmCall` strips
 *   unknown params, so only a caller handing the step raw params reaches this.
 * - **No secret enters a key**: the credential part is a 128-bit prefix of the SHA-256 of the API key, never the
 *   key; the tenant is an identifier, not a secret.
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"
import { hash } from "node:crypto"
import type { LlmRequest } from "../../llm/index.ts"
import type { LlmCall } from "../LlmCall.ts"

/** The credential identity part of a scope: a SHA-256 prefix of the per-call API key (never the key itself). */
export const credentialIdOf = (apiKey: Redacted.Redacted<string>): string =>
  hash("sha256", Redacted.value(apiKey), "hex").slice(0, 32)

/** The request hash `requestHash` of a call with `options`, scoped to its tenant and credential (see the module doc). */
export const scopedHash = (requestHash: string, options: LlmCall["options"]): string => {
  if (options === undefined) return requestHash
  const tenant = options.tenant
  const apiKey = options.apiKey
  if (tenant === undefined && apiKey === undefined) return requestHash
  const scope = JSON.stringify([tenant ?? null, apiKey === undefined ? null : credentialIdOf(apiKey)])
  return hash("sha256", `troupe-scope\n${scope}\n${requestHash}`, "hex")
}

/** Whether `params` carry a name the scope used to be keyed under (`troupe.tenant`, `troupe.credential`). */
export const hasLegacyScopeParam = (params: LlmRequest["params"]): boolean => {
  if (params === undefined) return false
  // params are read by name here, as the canonical JSON reads them; a member set to `undefined` is not keyed
  const record = params as Readonly<Record<string, unknown>>
  return record["troupe.tenant"] !== undefined || record["troupe.credential"] !== undefined
}

/** In-memory `KeyStore` (bounded; never evicts). @internal */
import { Effect, Option } from "effect"
import { IdentityStoreError, StoreFull } from "../IdentityError.ts"
import type { KeyRecord } from "../KeyRecord.ts"
import type { KeyPatch, KeyStoreShape } from "../KeyStore.ts"

export const makeMemoryKeyStore = (maxKeys: number): KeyStoreShape => {
  const byId = new Map<string, KeyRecord>()
  return {
    insert: (record) =>
      Effect.suspend((): Effect.Effect<void, StoreFull | IdentityStoreError> => {
        if (byId.has(record.id)) {
          return Effect.fail(new IdentityStoreError({ operation: "insert", message: `duplicate key id ${record.id}` }))
        }
        if (byId.size >= maxKeys) return Effect.fail(new StoreFull({ store: "keys", capacity: maxKeys }))
        byId.set(record.id, record)
        return Effect.void
      }),
    get: (id) => Effect.sync(() => Option.fromUndefinedOr(byId.get(id))),
    update: (tenant, id, patch: KeyPatch) =>
      Effect.sync(() => {
        const current = byId.get(id)
        if (current === undefined || current.tenant !== tenant) return Option.none()
        const next: KeyRecord = { ...current, ...patch }
        byId.set(id, next)
        return Option.some(next)
      }),
    remove: (tenant, id) =>
      Effect.sync(() => {
        const current = byId.get(id)
        if (current === undefined || current.tenant !== tenant) return false
        byId.delete(id)
        return true
      }),
    list: (tenant, principalId) =>
      Effect.sync(() =>
        [...byId.values()].filter((r) =>
          r.tenant === tenant && (principalId === undefined || r.principal.id === principalId)
        )
      )
  }
}

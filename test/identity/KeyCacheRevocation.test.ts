/** Keys: revocations against the validation cache. */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import type { KeyStoreShape } from "../../src/identity/index.ts"
import type { IdentityStoreError, KeyRejected } from "../../src/identity/index.ts"
import { Keys, KeyStore } from "../../src/identity/index.ts"

const PEPPER = Redacted.make("test-pepper-0123456789abcdef0123456789")
const user = (tenant: string) => ({ kind: "user" as const, id: "alice", tenant })
const reasonOf = (exit: Exit.Exit<unknown, KeyRejected | IdentityStoreError>) => {
  if (Exit.isSuccess(exit)) return "accepted"
  const reason = exit.cause.reasons[0]
  return reason?._tag === "Fail" ? ("reason" in reason.error ? reason.error.reason : reason.error._tag) : "defect"
}

/**
 * The validation cache and revocation: "a revocation by this process applies at once" — also when another process
 * revoked the key first, and when a validation's store read races the revocation.
 */
describe("Keys validation cache: a revocation by this process applies at once", () => {
  it.effect("a revocation by this process applies at once, also for a key another process revoked first", () =>
    Effect.gen(function*() {
      const store = yield* KeyStore
      const storeLayer = Layer.succeed(KeyStore, store)
      const p = yield* Keys.make({ pepper: PEPPER, cache: { ttl: "5 seconds" } }).pipe(Effect.provide(storeLayer))
      const q = yield* Keys.make({ pepper: PEPPER }).pipe(Effect.provide(storeLayer))
      const created = yield* p.create({ principal: user("t1"), name: "k", scopes: ["*"] })
      yield* p.validate(created.key) // cached in P
      yield* q.revoke("t1", created.id) // another process revokes
      yield* p.revoke("t1", created.id) // P revokes too: "a revocation by this process applies at once"
      const after = yield* Effect.exit(p.validate(created.key))
      assert.strictEqual(reasonOf(after), "revoked")
    }).pipe(Effect.provide(KeyStore.layerMemory())))

  it.effect("a validation whose store read raced a revocation by this process does not cache the record from before it", () =>
    Effect.gen(function*() {
      const inner = yield* KeyStore
      const gate = yield* Deferred.make<void>()
      const reading = yield* Deferred.make<void>()
      let slow = false
      const slowStore: KeyStoreShape = {
        ...inner,
        // the row is read, then the reply is slow to arrive (a network round trip)
        get: (id) =>
          Effect.tap(
            inner.get(id),
            () => slow ? Effect.andThen(Deferred.succeed(reading, undefined), Deferred.await(gate)) : Effect.void
          )
      }
      const keys = yield* Keys.make({ pepper: PEPPER, cache: { ttl: "5 seconds" } }).pipe(
        Effect.provide(Layer.succeed(KeyStore, slowStore))
      )
      const created = yield* keys.create({ principal: user("t2"), name: "k", scopes: ["*"] })
      slow = true
      const racing = yield* Effect.forkChild(keys.validate(created.key))
      yield* Deferred.await(reading)
      slow = false
      yield* keys.revoke("t2", created.id)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(racing)
      const after = yield* Effect.exit(keys.validate(created.key))
      assert.strictEqual(reasonOf(after), "revoked")
    }).pipe(Effect.provide(KeyStore.layerMemory())))
})

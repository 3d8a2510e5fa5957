import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import fc from "fast-check"
import { afterAll } from "vitest"
import { Cache } from "../../src/cache/index.ts"
import {
  Audit,
  AuditStore,
  ERASED,
  KeyProvider,
  Keys,
  KeyStore,
  Privacy,
  SubjectIndex,
  SubjectKeys
} from "../../src/identity/index.ts"
import { makeMemoryAuditStore } from "../../src/identity/internal/AuditStoreMemory.ts"
import { makeMemoryKeyStore } from "../../src/identity/internal/KeyStoreMemory.ts"
import { makeMemory as makeMemorySubjectKeys } from "../../src/identity/SubjectKeys.ts"
import { layerMemory as memoryLayer } from "../../src/memory/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { entryOf, privacyConformance, privacyLayer } from "./PrivacyConformance.ts"
import { PEPPER } from "./support.ts"

/**
 * Erasure over memory stores where, once armed, the keys step's first read (`KeyStore.list`) or the audit step's
 * first read (`SubjectKeys.find`) signals `entered` and waits for `release`, so a test can act while that step runs.
 */
const gatedErasure = (
  gated: "keys" | "audit",
  armed: { on: boolean }, // the next gated read waits (once)
  entered: Deferred.Deferred<void>,
  release: Deferred.Deferred<void>
) => {
  const gate = Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(release))
  const keyStore = makeMemoryKeyStore(1000)
  const subjectKeys = makeMemorySubjectKeys(1000)
  const once = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      if (!armed.on) return effect
      armed.on = false
      return Effect.andThen(gate, effect)
    })
  const base = Layer.mergeAll(
    AuditStore.layerMemory(),
    Layer.succeed(SubjectKeys, {
      ...subjectKeys,
      find: (t, p) => gated === "audit" ? once(subjectKeys.find(t, p)) : subjectKeys.find(t, p)
    }),
    KeyProvider.layerStatic({ current: "a".repeat(64) }),
    Layer.succeed(KeyStore, {
      ...keyStore,
      list: (t, p) => gated === "keys" ? once(keyStore.list(t, p)) : keyStore.list(t, p)
    }),
    SubjectIndex.layerMemory(),
    memoryLayer(),
    Cache.layerMemory({ maxEntries: 100 })
  )
  const withAudit = Audit.layer.pipe(Layer.provideMerge(base))
  return Layer.mergeAll(Privacy.layer, Keys.layer({ pepper: PEPPER })).pipe(Layer.provideMerge(withAudit))
}

/** Erases alice while a request made with her key arrives during the `gated` step; what is left afterwards. */
const requestDuringErase = (gated: "keys" | "audit") =>
  Effect.gen(function*() {
    const entered = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const armed = { on: false }
    return yield* Effect.gen(function*() {
      const audit = yield* Audit
      const keys = yield* Keys
      const tenant = "acme"
      const created = yield* keys.create({ principal: { kind: "user", id: "alice", tenant }, name: "k", scopes: ["x"] })
      const request = (ip: string) => ({
        tenant,
        actor: `key:${created.id}`,
        action: "auth.api",
        resource: "/v1/x",
        status: "success" as const,
        ip,
        subject: "alice"
      })
      yield* audit.record(request("10.0.0.1"))
      armed.on = true // only the erasure's read waits
      const erasing = yield* Effect.forkChild((yield* Privacy).erase({ tenant, principal: "alice" }))
      yield* Deferred.await(entered)
      // what the gateway's key auth does for a request arriving now: validate, then audit under the principal
      const valid = yield* Effect.result(keys.validate(created.key))
      if (valid._tag === "Success") yield* audit.record(request("10.9.9.9"))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(erasing)
      const entries = yield* audit.query({ tenant, action: "auth.api" })
      return {
        accepted: valid._tag === "Success",
        readable: entries.flatMap((e) => e.ip !== undefined && e.ip !== ERASED ? [e.ip] : []),
        dataKeyLeft: Option.isSome(yield* (yield* SubjectKeys).find(tenant, "alice"))
      }
    }).pipe(Effect.provide(gatedErasure(gated, armed, entered, release)))
  })

describe("Privacy conformance: memory", () => {
  privacyConformance(() =>
    Effect.sync(() => ({ audit: AuditStore.layerMemory(), subjectKeys: SubjectKeys.layerMemory() }))
  )

  it.effect("property: after an erase, any single mutation of a stored entry is still detected by verify", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 8 }),
          fc.constantFrom("actor", "resource", "sealed", "metadata", "status", "prevHash", "at"),
          async (seq, field) => {
            const check = await Effect.runPromise(Effect.gen(function*() {
              const store = makeMemoryAuditStore(1000)
              const layer = privacyLayer({
                audit: Layer.succeed(AuditStore, store),
                subjectKeys: SubjectKeys.layerMemory()
              })
              return yield* Effect.gen(function*() {
                const audit = yield* Audit
                for (let i = 0; i < 4; i++) {
                  yield* audit.record(entryOf("t", "alice", i))
                  yield* audit.record(entryOf("t", "bob", i))
                }
                yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" }) // entry 8: privacy.erase
                assert.strictEqual((yield* audit.verify())._tag, "Intact")
                const e = store.unsafeEntries[seq]!
                const mutated: Record<string, unknown> = { ...e }
                if (field === "at") mutated["at"] = e.at + 1
                else if (field === "status") mutated["status"] = e.status === "success" ? "failure" : "success"
                else if (field === "metadata") mutated["metadata"] = { forged: true }
                else if (field === "sealed") {
                  mutated["sealed"] = e.sealed === undefined
                    ? "x"
                    : `${e.sealed.slice(0, -2)}AA`
                } else mutated[field] = `${String(e[field])}x`
                store.unsafeEntries[seq] = mutated as typeof e // a cast: a tampered record of the same shape
                return yield* audit.verify()
              }).pipe(Effect.provide(layer))
            }))
            assert.deepInclude(check, { _tag: "Broken", expectedSeq: seq })
          }
        ),
        { numRuns: 40 }
      )
    ))

  it.effect("keys first: a request with the subject's key during the keys step leaves no readable personal data and no data key", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* requestDuringErase("keys"), { accepted: true, readable: [], dataKeyLeft: false })
    }))

  it.effect("keys first: once the keys step is done, a request with the subject's key is refused", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* requestDuringErase("audit"), { accepted: false, readable: [], dataKeyLeft: false })
    }))

  it.effect("only Audit is required: an absent service is a zero count with a note naming it", () =>
    Effect.gen(function*() {
      yield* (yield* Audit).record(entryOf("t", "alice", 0))
      const report = yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" })
      assert.deepStrictEqual(report.items.map((i) => [i.where, i.count]), [
        ["audit", 0],
        ["keys", 0],
        ["memory", 0],
        ["cache", 0]
      ])
      assert.include(report.items[0]!.note, "no SubjectKeys store")
      assert.include(report.items[1]!.note, "no KeyStore")
      assert.include(report.items[2]!.note, "no SubjectIndex")
    }).pipe(
      Effect.provide(Privacy.layer.pipe(Layer.provideMerge(Audit.layer), Layer.provide(AuditStore.layerMemory())))
    ))

  it.effect("with SubjectKeys but no KeyProvider, recording an entry with a subject fails IdentityStoreError rather than store it in clear", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Audit).record(entryOf("t", "alice", 0)))
      assert.strictEqual(error._tag, "IdentityStoreError")
    }).pipe(
      Effect.provide(Audit.layer.pipe(Layer.provide(Layer.merge(AuditStore.layerMemory(), SubjectKeys.layerMemory()))))
    ))

  it.effect("signed checkpoints stay valid across an erase", () =>
    Effect.gen(function*() {
      const audit = yield* Audit
      for (let i = 0; i < 6; i++) yield* audit.record(entryOf("t", "alice", i))
      yield* (yield* Privacy).erase({ tenant: "t", principal: "alice" })
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    }).pipe(Effect.provide(Privacy.layer.pipe(
      Layer.provideMerge(Audit.layerSigned({ every: 2 })),
      Layer.provide(
        Layer.mergeAll(
          AuditStore.layerMemory(),
          SubjectKeys.layerMemory(),
          KeyProvider.layerStatic({ current: "b".repeat(64) })
        )
      )
    ))))
})

describePostgres("Privacy conformance: PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(() => Promise.all(schemas.map(dropSchemaPromise)))
  privacyConformance(() =>
    Effect.sync(() => {
      // two schemas: the two layers are built concurrently, and concurrent `CREATE SCHEMA IF NOT EXISTS` of one
      // name can fail in PostgreSQL
      const schema = uniqueSchema("privacy")
      schemas.push(schema, `${schema}_k`)
      return {
        audit: AuditStore.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)),
        subjectKeys: SubjectKeys.layerPostgres({ schema: `${schema}_k` }).pipe(Layer.provide(pgLayer))
      }
    })
  )
})

/**
 * The erasure suite, run over every audit backend (memory and PostgreSQL, with the matching `SubjectKeys` store):
 * crypto-shredding of the subject's audit fields with the chain intact, the report, idempotence, and the audit of
 * the erasure itself. The rule names match Privacy.ts's and Audit.ts's module docs.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
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
  type SubjectKeys
} from "../../src/identity/index.ts"
import { subjectRef } from "../../src/identity/Privacy.ts"
import { ConversationMemory, layerMemory as memoryLayer } from "../../src/memory/index.ts"
import { PEPPER } from "./support.ts"

export interface PrivacyBackend {
  readonly audit: Layer.Layer<AuditStore, unknown>
  readonly subjectKeys: Layer.Layer<SubjectKeys, unknown>
}

/** Everything `Privacy.erase` can reach, over `backend`. */
export const privacyLayer = (backend: PrivacyBackend) => {
  const base = Layer.mergeAll(
    backend.audit,
    backend.subjectKeys,
    KeyProvider.layerStatic({ current: "a".repeat(64) }),
    KeyStore.layerMemory(),
    SubjectIndex.layerMemory(),
    memoryLayer(),
    Cache.layerMemory({ maxEntries: 100 })
  )
  const withAudit = Audit.layer.pipe(Layer.provideMerge(base))
  return Layer.mergeAll(Privacy.layer, Keys.layer({ pepper: PEPPER })).pipe(Layer.provideMerge(withAudit))
}

let n = 0
const tenantOf = () => `pt-${process.pid}-${++n}`

export const entryOf = (tenant: string, subject: string, i: number) => ({
  tenant,
  actor: `user:${subject}`,
  action: "chat.completion",
  resource: `/v1/chat/completions/${i}`,
  status: "success" as const,
  ip: `10.0.0.${i}`,
  userAgent: `${subject}-agent`,
  metadata: { model: "gpt-x", n: i },
  subject
})

export const privacyConformance = (fresh: () => Effect.Effect<PrivacyBackend, unknown>): void => {
  const run = <A, E>(
    body: Effect.Effect<
      A,
      E,
      Privacy | Audit | AuditStore | Keys | KeyStore | SubjectIndex | ConversationMemory | Cache | SubjectKeys
    >
  ) => Effect.flatMap(fresh(), (backend) => body.pipe(Effect.provide(privacyLayer(backend))))

  it.effect("personal fields sealed per subject: the stored entry holds the subject's ip, user agent, metadata and actor only as an envelope; query reads them back", () =>
    run(Effect.gen(function*() {
      const audit = yield* Audit
      const store = yield* AuditStore
      const tenant = tenantOf()
      const stored = yield* audit.record(entryOf(tenant, "alice", 1))
      const raw = JSON.stringify((yield* store.range(stored.seq, stored.seq + 1))[0])
      for (const text of ["alice", "10.0.0.1", "gpt-x"]) assert.notInclude(raw, text)
      assert.deepStrictEqual(stored.sealedFields, ["actor", "ip", "userAgent", "metadata"])
      assert.strictEqual(stored.actor, "[sealed]")
      const [read] = yield* audit.query({ tenant })
      assert.deepInclude(read!, {
        actor: "user:alice",
        ip: "10.0.0.1",
        userAgent: "alice-agent",
        metadata: { model: "gpt-x", n: 1 }
      })
      // a key actor is a pseudonym: it stays in clear, so queries by key still work
      yield* audit.record({ ...entryOf(tenant, "alice", 2), actor: "key:abc123" })
      assert.strictEqual((yield* audit.query({ tenant, actor: "key:abc123" })).length, 1)
    })))

  it.effect("after erase the subject's fields read as [erased], verify stays Intact, other subjects' entries stay readable", () =>
    run(Effect.gen(function*() {
      const audit = yield* Audit
      const privacy = yield* Privacy
      const tenant = tenantOf()
      for (let i = 0; i < 4; i++) {
        yield* audit.record(entryOf(tenant, "alice", i))
        yield* audit.record(entryOf(tenant, "bob", i))
      }
      yield* audit.record({ tenant, actor: "system", action: "x", resource: "r", status: "success" })
      yield* privacy.erase({ tenant, principal: "alice" })
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
      const entries = yield* audit.query({ tenant })
      const alice = entries.filter((r) => r.userAgent === ERASED)
      assert.strictEqual(alice.length, 4)
      for (const r of alice) {
        assert.deepInclude(r, { actor: ERASED, ip: ERASED, userAgent: ERASED, metadata: { erased: ERASED } })
      }
      const bob = entries.filter((r) => r.userAgent === "bob-agent")
      assert.deepStrictEqual(bob.map((r) => r.actor), ["user:bob", "user:bob", "user:bob", "user:bob"])
      assert.strictEqual(entries.filter((r) => r.action === "x")[0]!.actor, "system")
    })))

  it.effect("the report lists what was erased where: audit entries, keys, linked conversations and cache entries, and the cache's limit", () =>
    run(Effect.gen(function*() {
      const audit = yield* Audit
      const privacy = yield* Privacy
      const keys = yield* Keys
      const index = yield* SubjectIndex
      const memory = yield* ConversationMemory
      const cache = yield* Cache
      const tenant = tenantOf()
      for (let i = 0; i < 3; i++) yield* audit.record(entryOf(tenant, "alice", i))
      const key = yield* keys.create({ principal: { kind: "user", id: "alice", tenant }, name: "laptop", scopes: [] })
      yield* keys.create({ principal: { kind: "user", id: "bob", tenant }, name: "ci", scopes: [] })
      yield* memory.append("conv-a", [{ role: "user", content: "my address is …" }])
      yield* memory.append("conv-b", [{ role: "user", content: "bob's" }])
      yield* index.link(tenant, "alice", "memory", "conv-a")
      yield* cache.put("llm:x:1", "answer for alice")
      yield* index.link(tenant, "alice", "cache", "llm:x:1")
      const report = yield* privacy.erase({ tenant, principal: "alice" })
      assert.deepStrictEqual(report.subject, { tenant, principal: "alice" })
      assert.deepStrictEqual(report.items.map((i) => [i.where, i.count]), [
        ["audit", 3],
        ["keys", 1],
        ["memory", 1],
        ["cache", 1]
      ])
      assert.include(report.items.find((i) => i.where === "cache")!.note, "partitioned by tenant")
      assert.deepStrictEqual(yield* memory.messages("conv-a"), [])
      assert.strictEqual((yield* memory.messages("conv-b")).length, 1)
      assert.isTrue(Option.isNone(yield* cache.get("llm:x:1")))
      assert.deepStrictEqual((yield* keys.list(tenant)).map((k) => k.principal.id), ["bob"])
      const rejected = yield* Effect.flip(keys.validate(key.key))
      assert.deepInclude(rejected, { _tag: "KeyRejected", reason: "unknown" })
    })))

  it.effect("erase is idempotent: a second erase reports zero counts", () =>
    run(Effect.gen(function*() {
      const audit = yield* Audit
      const privacy = yield* Privacy
      const tenant = tenantOf()
      yield* audit.record(entryOf(tenant, "alice", 0))
      yield* privacy.erase({ tenant, principal: "alice" })
      const again = yield* privacy.erase({ tenant, principal: "alice" })
      assert.deepStrictEqual(again.items.map((i) => i.count), [0, 0, 0, 0])
      assert.strictEqual((yield* audit.verify())._tag, "Intact")
    })))

  it.effect("the erasure itself is audited: privacy.erase with the counts and the subject's pseudonym, never its id or data", () =>
    run(Effect.gen(function*() {
      const audit = yield* Audit
      const privacy = yield* Privacy
      const tenant = tenantOf()
      yield* audit.record(entryOf(tenant, "alice", 0))
      yield* privacy.erase({ tenant, principal: "alice", actor: "dpo" })
      const [entry] = yield* audit.query({ tenant, action: "privacy.erase" })
      assert.deepInclude(entry!, {
        actor: "dpo",
        status: "success",
        resource: `subject:${subjectRef(tenant, "alice")}`,
        metadata: { audit: 1, keys: 0, memory: 0, cache: 0 }
      })
      assert.notInclude(JSON.stringify(entry), "alice")
    })))

  it.effect("erase decodes its input: a bad principal is InvalidIdentityInput naming the path, nothing erased", () =>
    run(Effect.gen(function*() {
      const privacy = yield* Privacy
      const error = yield* Effect.flip(privacy.erase({ tenant: "t", principal: "bad id!" }))
      assert.deepInclude(error, { _tag: "InvalidIdentityInput", path: "erase.principal" })
    })))
}

/**
 * The one conformance suite of the audit log, run against every `AuditStore` backend (memory and PostgreSQL):
 * the store's append-only rules and the `Audit` service's record / verify / query over it. Each test gets a fresh
 * chain from `fresh()`, with backend-specific tamper hooks (`edit`, `remove`) standing in for an attacker with
 * write access to the storage, and a fault hook (`withFaults`) failing the store's checkpoint writes, or its
 * `appendAll` after it committed, as a broken connection would.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import {
  Audit,
  type AuditRecord,
  type AuditShape,
  AuditStore,
  type AuditStoreShape,
  IdentityStoreError,
  KeyProvider
} from "../../src/identity/index.ts"
import { hashEntry, verifyChain } from "../../src/identity/internal/AuditChain.ts"
import { afterAppendFailures } from "../../src/identity/internal/AuditWriter.ts"
import { failureOf } from "./support.ts"

export interface Backend {
  readonly layer: Layer.Layer<AuditStore, unknown>
  readonly edit: (seq: number, patch: Partial<AuditRecord>) => Effect.Effect<void, unknown>
  readonly remove: (seq: number) => Effect.Effect<void, unknown>
}

const entry = (i: number, tenant = "t1") => ({
  tenant,
  actor: `user:${i % 2}`,
  action: i % 3 === 0 ? "key.revoke" : "key.create",
  resource: `key/${i}`,
  status: i % 4 === 0 ? ("denied" as const) : ("success" as const),
  ip: "10.0.0.1",
  userAgent: "curl/8",
  metadata: { n: i }
})

export const auditConformance = (fresh: () => Effect.Effect<Backend, unknown>): void => {
  const withAudit = <A, E>(body: (backend: Backend) => Effect.Effect<A, E, Audit | AuditStore>) =>
    Effect.gen(function*() {
      const backend = yield* fresh()
      return yield* body(backend).pipe(Effect.provide(Audit.layer.pipe(Layer.provideMerge(backend.layer))))
    })

  it.effect("append-only: an append at any position but the next one fails", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        const first = yield* audit.record(entry(0))
        const exit = yield* Effect.exit(store.append({ ...first, seq: 0 }))
        assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "IdentityStoreError")
        const gap = yield* Effect.exit(store.append({ ...first, seq: 5 }))
        assert.isTrue(Exit.isFailure(gap))
        assert.strictEqual(Option.getOrThrow(yield* store.last).seq, 0)
      })
    ))

  it.effect("record chains each entry to the previous one; verify of an untouched log is intact", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        const records: Array<AuditRecord> = []
        for (let i = 0; i < 6; i++) {
          yield* TestClock.adjust("1 second")
          records.push(yield* audit.record(entry(i)))
        }
        assert.deepStrictEqual(records.map((r) => r.seq), [0, 1, 2, 3, 4, 5])
        assert.strictEqual(records[1]!.prevHash, records[0]!.hash)
        assert.strictEqual(records[2]!.at, 3000)
        assert.deepStrictEqual(yield* store.range(0, 6), records)
        assert.deepStrictEqual(yield* audit.verify(), { _tag: "Intact", checked: 6, lastHash: records[5]!.hash })
        assert.deepInclude(yield* audit.verify({ from: 2, to: 5 }), { _tag: "Intact", checked: 3 })
      })
    ))

  it.effect("verify names the first edited entry", () =>
    withAudit((backend) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        for (let i = 0; i < 5; i++) yield* audit.record(entry(i))
        yield* backend.edit(2, { status: "success", actor: "user:9" })
        assert.deepInclude(yield* audit.verify(), { _tag: "Broken", index: 2, seq: 2, reason: "hash" })
      })
    ))

  it.effect("verify names the first entry after a deleted one, and a cut tail against the head it wrote", () =>
    withAudit((backend) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        for (let i = 0; i < 5; i++) yield* audit.record(entry(i))
        yield* backend.remove(4)
        assert.deepInclude(yield* audit.verify(), { _tag: "Broken", index: 4, reason: "truncated" })
        yield* backend.remove(1)
        assert.deepInclude(yield* audit.verify(), { _tag: "Broken", index: 1, seq: 2, reason: "sequence" })
      })
    ))

  it.effect("query returns only the tenant's entries, filtered by actor, action, status and time, oldest first", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        for (let i = 0; i < 8; i++) {
          yield* TestClock.adjust("1 second")
          yield* audit.record(entry(i, i % 2 === 0 ? "t1" : "t2"))
        }
        const t1 = yield* audit.query({ tenant: "t1" })
        assert.deepStrictEqual(t1.map((r) => r.resource), ["key/0", "key/2", "key/4", "key/6"])
        assert.deepStrictEqual((yield* audit.query({ tenant: "t1", action: "key.revoke" })).map((r) => r.resource), [
          "key/0",
          "key/6"
        ])
        assert.deepStrictEqual((yield* audit.query({ tenant: "t1", status: "denied" })).map((r) => r.resource), [
          "key/0",
          "key/4"
        ])
        assert.deepStrictEqual(
          (yield* audit.query({ tenant: "t2", actor: "user:1", since: 4000, until: 8000 })).map((r) => r.resource),
          ["key/3", "key/5"]
        )
        assert.deepStrictEqual((yield* audit.query({ tenant: "t1", limit: 1 })).map((r) => r.resource), ["key/0"])
        assert.deepStrictEqual(yield* audit.query({ tenant: "t3" }), [])
      })
    ))

  it.effect("record decodes its input (path named) and redacts credential-looking metadata", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const bad: unknown = { ...entry(0), status: "ok" }
        // a cast: untrusted input the static type would refuse
        const exit = yield* Effect.exit(audit.record(bad as Parameters<AuditShape["record"]>[0]))
        assert.deepInclude(failureOf(exit) as object, { _tag: "InvalidIdentityInput", path: "record.status" })
        const r = yield* audit.record({
          ...entry(1),
          metadata: { key: "tr_live_abcdef", auth: "Bearer xyz", size: 12, model: "gpt-x" }
        })
        assert.deepStrictEqual(r.metadata, { key: "[redacted]", auth: "[redacted]", size: 12, model: "gpt-x" })
        assert.strictEqual((yield* audit.verify())._tag, "Intact")
      })
    ))

  it.effect("secrets and personal data never enter the log unredacted: metadata passes the guard's secret and PII redaction", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const r = yield* audit.record({
          ...entry(2),
          metadata: { note: "mail alice@example.com please", aws: "id AKIAIOSFODNN7EXAMPLE" }
        })
        const stored = JSON.stringify(r.metadata)
        assert.notInclude(stored, "alice@example.com")
        assert.notInclude(stored, "AKIAIOSFODNN7EXAMPLE")
        assert.include(stored, "[PII:")
        assert.strictEqual((yield* audit.verify())._tag, "Intact")
      })
    ))

  const KEY = "c".repeat(64)
  const withSigned = <A, E>(body: (backend: Backend) => Effect.Effect<A, E, Audit | AuditStore | KeyProvider>) =>
    Effect.gen(function*() {
      const backend = yield* fresh()
      const keys = KeyProvider.layerStatic({ current: KEY })
      return yield* body(backend).pipe(
        Effect.provide(Audit.layerSigned({ every: 4 }).pipe(Layer.provideMerge(Layer.merge(backend.layer, keys))))
      )
    })
  // another process: no head in memory, only the store and the key
  const otherProcess = Audit.makeSigned({ every: 4 })

  it.effect("signed checkpoints: a full rewrite that recomputes every hash is named at the first checkpoint it crosses", () =>
    withSigned((backend) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        for (let i = 0; i < 10; i++) yield* audit.record(entry(i))
        assert.deepStrictEqual((yield* store.checkpoints(0, 100)).map((c) => c.seq), [3, 7])
        assert.strictEqual((yield* (yield* otherProcess).verify())._tag, "Intact")
        // the attacker edits entry 5 and recomputes the hashes of 5..9: the chain alone is intact again
        const rows = [...(yield* store.range(0, 10))]
        let prev = rows[4]!.hash
        for (let seq = 5; seq < 10; seq++) {
          const body = { ...rows[seq]!, actor: seq === 5 ? "user:evil" : rows[seq]!.actor, prevHash: prev }
          const hash = hashEntry(prev, body)
          yield* backend.edit(seq, { actor: body.actor, prevHash: prev, hash })
          prev = hash
        }
        const after = yield* store.range(0, 10)
        assert.strictEqual(verifyChain(after)._tag, "Intact")
        assert.deepInclude(yield* (yield* otherProcess).verify(), {
          _tag: "Broken",
          expectedSeq: 7,
          reason: "checkpoint"
        })
      })
    ))

  it.effect("signed checkpoints: a tail cut below the last checkpoint is truncated for any process", () =>
    withSigned((backend) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        for (let i = 0; i < 10; i++) yield* audit.record(entry(i))
        for (const seq of [9, 8, 7]) yield* backend.remove(seq)
        assert.deepInclude(yield* (yield* otherProcess).verify(), {
          _tag: "Broken",
          expectedSeq: 7,
          reason: "truncated"
        })
        assert.deepInclude(yield* (yield* otherProcess).verify({ from: 0, to: 7 }), { _tag: "Intact", checked: 7 })
      })
    ))

  it.effect("several writers share one chain: two writers on one store extend a single linear chain", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const a = yield* Audit.make
        const b = yield* Audit.make
        const written = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) => (i % 2 === 0 ? a : b).record(entry(i)),
          { concurrency: 8 }
        )
        assert.deepStrictEqual(written.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i))
        for (const writer of [a, b, yield* Audit.make]) {
          assert.deepInclude(yield* writer.verify(), { _tag: "Intact", checked: 40 })
        }
      })
    ))

  it.effect("written in batches, never lost when acknowledged: submit returns at once and the next flush writes it", () =>
    withAudit(() =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        yield* audit.submit(entry(0))
        yield* audit.submit(entry(1))
        yield* audit.flush
        const acknowledged = yield* audit.record(entry(2))
        assert.strictEqual(acknowledged.seq, 2)
        assert.deepStrictEqual((yield* store.range(0, 10)).map((r) => r.resource), ["key/0", "key/1", "key/2"])
        assert.deepInclude(yield* audit.verify(), { _tag: "Intact", checked: 3 })
      })
    ))

  /**
   * The backend's store behind `Audit.layerSigned({ every: 4 })`, with faults: the next `faults.checkpoint`
   * `appendCheckpoint` calls fail (nothing written), and the next `faults.afterCommit` successful `appendAll`
   * calls fail after they committed (a connection broken before the answer came back).
   */
  const withFaults = <A, E>(
    body: (faults: { checkpoint: number; afterCommit: number }) => Effect.Effect<A, E, Audit | AuditStore | KeyProvider>
  ) =>
    Effect.gen(function*() {
      const backend = yield* fresh()
      const faults = { checkpoint: 0, afterCommit: 0 }
      const broken = (operation: string) => new IdentityStoreError({ operation, message: "connection reset" })
      const faulty = Layer.effect(
        AuditStore,
        Effect.gen(function*() {
          const inner = yield* AuditStore
          const store: AuditStoreShape = {
            ...inner,
            appendCheckpoint: (c) => {
              if (faults.checkpoint <= 0) return inner.appendCheckpoint(c)
              faults.checkpoint--
              return Effect.fail(broken("appendCheckpoint"))
            },
            appendAll: (records) =>
              Effect.flatMap(inner.appendAll(records), (outcome) => {
                if (outcome !== "appended" || faults.afterCommit <= 0) return Effect.succeed(outcome)
                faults.afterCommit--
                return Effect.fail(broken("appendAll"))
              })
          }
          return store
        })
      ).pipe(Layer.provide(backend.layer))
      const keys = KeyProvider.layerStatic({ current: KEY })
      return yield* body(faults).pipe(
        Effect.provide(Audit.layerSigned({ every: 4 }).pipe(Layer.provideMerge(Layer.merge(faulty, keys))))
      )
    })
  const resources = (store: AuditStoreShape) => Effect.map(store.range(0, 100), (rows) => rows.map((r) => r.resource))
  const checkpointSeqs = (store: AuditStoreShape) =>
    Effect.map(store.checkpoints(0, 100), (found) => found.map((c) => c.seq))
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `key/${i}`)

  it.effect("an appended entry is never written again: a checkpoint write failing after the append acknowledges the durable entry, appends nothing more until the next flush writes the missing checkpoint", () =>
    withFaults((faults) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        for (let i = 0; i < 3; i++) yield* audit.record(entry(i))
        const failuresBefore = (yield* Metric.value(afterAppendFailures)).count
        faults.checkpoint = 1_000
        // entry 3 crosses the checkpoint position: it is durable, so its caller is acknowledged
        const crossing = yield* audit.record(entry(3))
        assert.strictEqual(crossing.seq, 3)
        assert.isAbove((yield* Metric.value(afterAppendFailures)).count, failuresBefore)
        // the checkpoint is owed: the next record is not appended past it, and its caller is told so
        const blocked = yield* Effect.exit(audit.record(entry(4)))
        assert.strictEqual((failureOf(blocked) as { _tag: string })._tag, "IdentityStoreError")
        assert.deepStrictEqual(yield* resources(store), keys(4))
        assert.deepStrictEqual(yield* checkpointSeqs(store), [])
        assert.deepInclude(yield* audit.verify(), { _tag: "Broken", expectedSeq: 3, reason: "checkpoint-missing" })
        // the store is back: the next flush writes the missing checkpoint, and the chain goes on
        faults.checkpoint = 0
        yield* audit.flush
        assert.deepStrictEqual(yield* checkpointSeqs(store), [3])
        assert.deepInclude(yield* audit.verify(), { _tag: "Intact", checked: 4 })
        assert.strictEqual((yield* audit.record(entry(4))).seq, 4)
        for (let i = 5; i < 8; i++) yield* audit.record(entry(i))
        assert.deepStrictEqual(yield* resources(store), keys(8))
        assert.deepStrictEqual(yield* checkpointSeqs(store), [3, 7])
        assert.deepInclude(yield* (yield* otherProcess).verify(), { _tag: "Intact", checked: 8 })
      })
    ))

  it.effect("an appended entry is never written again: a submitted entry whose checkpoint write failed once is not queued again", () =>
    withFaults((faults) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        for (let i = 0; i < 3; i++) yield* audit.record(entry(i))
        faults.checkpoint = 1
        yield* audit.submit(entry(3))
        yield* audit.flush
        yield* audit.flush
        assert.strictEqual((yield* audit.record(entry(4))).seq, 4)
        assert.deepStrictEqual(yield* resources(store), keys(5))
        assert.deepStrictEqual(yield* checkpointSeqs(store), [3])
        assert.deepInclude(yield* audit.verify(), { _tag: "Intact", checked: 5 })
      })
    ))

  it.effect("an appended entry is never written again: an appendAll failing after it committed is read back as appended", () =>
    withFaults((faults) =>
      Effect.gen(function*() {
        const audit = yield* Audit
        const store = yield* AuditStore
        faults.afterCommit = 1
        // a record caller: its entry is in the store, so it is acknowledged
        assert.strictEqual((yield* audit.record(entry(0))).seq, 0)
        // a submitted entry: not queued again
        faults.afterCommit = 1
        yield* audit.submit(entry(1))
        yield* audit.flush
        yield* audit.flush
        // a batch crossing a checkpoint: its checkpoint is written too
        faults.afterCommit = 1
        yield* Effect.forEach([2, 3, 4], (i) => audit.record(entry(i)), { concurrency: "unbounded" })
        assert.deepStrictEqual(yield* resources(store), keys(5))
        assert.deepStrictEqual(yield* checkpointSeqs(store), [3])
        assert.deepInclude(yield* audit.verify(), { _tag: "Intact", checked: 5 })
      })
    ))
}

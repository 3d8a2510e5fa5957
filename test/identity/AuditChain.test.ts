import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { type AuditRecord, GENESIS_HASH } from "../../src/identity/index.ts"
import { canonicalJson, hashEntry, verifyChain } from "../../src/identity/internal/AuditChain.ts"

const build = (n: number): Array<AuditRecord> => {
  const out: Array<AuditRecord> = []
  let prev = GENESIS_HASH
  for (let seq = 0; seq < n; seq++) {
    const body = {
      seq,
      at: 1000 + seq,
      tenant: "t1",
      actor: `user:${seq % 3}`,
      action: seq % 2 === 0 ? "key.create" : "key.revoke",
      resource: `key/${seq}`,
      status: "success" as const,
      metadata: { size: seq },
      prevHash: prev
    }
    const record = { ...body, hash: hashEntry(prev, body) }
    out.push(record)
    prev = record.hash
  }
  return out
}
const headOf = (chain: ReadonlyArray<AuditRecord>) => ({ seq: chain.length - 1, hash: chain.at(-1)!.hash })

type Mutation =
  | {
    readonly kind: "edit"
    readonly i: number
    readonly field: "actor" | "action" | "resource" | "at" | "status" | "metadata" | "tenant"
  }
  | { readonly kind: "insert"; readonly i: number; readonly forged: boolean }
  | { readonly kind: "reorder"; readonly i: number; readonly j: number }
  | { readonly kind: "delete"; readonly i: number }

const mutation = (n: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("edit" as const),
      i: fc.nat(n - 1),
      field: fc.constantFrom("actor", "action", "resource", "at", "status", "metadata", "tenant")
    }),
    fc.record({ kind: fc.constant("insert" as const), i: fc.nat(n), forged: fc.boolean() }),
    // a reorder swaps two distinct entries (j is drawn among the others, so no filter can starve on n = 1)
    fc.record({ kind: fc.constant("reorder" as const), i: fc.nat(n - 1), j: fc.nat(Math.max(0, n - 2)) })
      .map((m) => ({ ...m, j: m.j >= m.i ? m.j + 1 : m.j })),
    fc.record({ kind: fc.constant("delete" as const), i: fc.nat(n - 1) })
  )

const apply = (
  chain: ReadonlyArray<AuditRecord>,
  m: Mutation
): { readonly mutated: Array<AuditRecord>; readonly firstBadAtMost: number } => {
  const c = [...chain]
  switch (m.kind) {
    case "edit": {
      const r = c[m.i]!
      const edited: AuditRecord = m.field === "at"
        ? { ...r, at: r.at + 1 }
        : m.field === "status"
        ? { ...r, status: r.status === "success" ? "denied" : "success" }
        : m.field === "metadata"
        ? { ...r, metadata: { size: 999_999 } }
        : { ...r, [m.field]: `${r[m.field]}x` }
      c[m.i] = edited
      return { mutated: c, firstBadAtMost: m.i }
    }
    case "insert": {
      const prev = m.i === 0 ? GENESIS_HASH : c[m.i - 1]!.hash
      const body = {
        seq: m.i,
        at: 5,
        tenant: "t1",
        actor: "mallory",
        action: "key.create",
        resource: "key/x",
        status: "success" as const,
        prevHash: prev
      }
      // a forged entry links correctly and carries a correct hash: only its successor can expose it
      const forged: AuditRecord = m.forged
        ? { ...body, hash: hashEntry(prev, body) }
        : { ...body, hash: "f".repeat(64) }
      c.splice(m.i, 0, forged)
      return { mutated: c, firstBadAtMost: m.forged ? m.i + 1 : m.i }
    }
    case "reorder": {
      const [a, b] = [Math.min(m.i, m.j), Math.max(m.i, m.j)]
      const tmp = c[a]!
      c[a] = c[b]!
      c[b] = tmp
      return { mutated: c, firstBadAtMost: a }
    }
    case "delete": {
      c.splice(m.i, 1)
      return { mutated: c, firstBadAtMost: m.i }
    }
  }
}

describe("Audit hash chain", () => {
  it("canonical entries sort object keys at every level, so key order does not change the hash", () => {
    assert.strictEqual(
      canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }),
      `{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}`
    )
    const body = {
      seq: 0,
      at: 1,
      tenant: "t",
      actor: "a",
      action: "x",
      resource: "r",
      status: "success" as const,
      prevHash: GENESIS_HASH
    }
    const reordered = {
      prevHash: GENESIS_HASH,
      status: "success" as const,
      resource: "r",
      action: "x",
      actor: "a",
      tenant: "t",
      at: 1,
      seq: 0
    }
    assert.strictEqual(hashEntry(GENESIS_HASH, body), hashEntry(GENESIS_HASH, reordered))
  })

  it("an untouched chain verifies intact", () => {
    const chain = build(10)
    assert.deepStrictEqual(verifyChain(chain, 0, GENESIS_HASH, headOf(chain)), {
      _tag: "Intact",
      checked: 10,
      lastHash: chain[9]!.hash
    })
    assert.strictEqual(verifyChain(chain.slice(4), 4, chain[3]!.hash)._tag, "Intact")
  })

  it("property: any single edit, insert, reorder or delete is detected and the first bad entry is named", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 24 }).chain((n) => fc.tuple(fc.constant(n), mutation(n))), ([n, m]) => {
        const chain = build(n)
        const head = headOf(chain)
        const { firstBadAtMost, mutated } = apply(chain, m)
        const result = verifyChain(mutated, 0, GENESIS_HASH, head)
        assert.strictEqual(result._tag, "Broken", JSON.stringify(m))
        if (result._tag === "Broken") {
          assert.isAtMost(result.index, firstBadAtMost, JSON.stringify(m))
          // everything before the named entry is genuine (but a well-forged insert, which only its successor exposes)
          const genuine = Math.min(result.index, m.kind === "insert" ? m.i : result.index)
          assert.deepStrictEqual(mutated.slice(0, genuine), chain.slice(0, genuine))
        }
      }),
      { numRuns: 500, seed: 13 }
    )
  })

  it("a cut tail is named as truncated only against a known head (a checkpoint)", () => {
    const chain = build(5)
    assert.strictEqual(verifyChain(chain.slice(0, 4))._tag, "Intact")
    const result = verifyChain(chain.slice(0, 4), 0, GENESIS_HASH, headOf(chain))
    assert.deepInclude(result, { _tag: "Broken", index: 4, reason: "truncated" })
  })
})

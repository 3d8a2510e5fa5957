/**
 * Identity benchmarks (issue 13): `auth.validate` of an issued key on the memory `KeyStore`, a valid key and an
 * unknown one (same work by design), beside `floor.hmac-sha256` (one node:crypto HMAC-SHA-256 of a key-sized
 * string, the floor every validation pays). Sequential, one fiber, `timeEffectBatch`.
 * Not measured yet: a validation cache (Keys has none) and the PostgreSQL store.
 */
import { Effect, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { Keys, KeyStore } from "../src/identity/index.ts"
import { type BenchRow, timeBatch, timeEffectBatch } from "./harness.ts"

const OPS = 2_000
const pepper = Redacted.make("bench-pepper-0123456789abcdef0123456789")

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const keys = await Effect.runPromise(Keys.make({ pepper }).pipe(Effect.provide(KeyStore.layerMemory())))
  const created = await Effect.runPromise(
    keys.create({ principal: { kind: "user", id: "bench", tenant: "bench" }, name: "b", scopes: ["*"] })
  )
  const key = Redacted.value(created.key)
  const unknown = key.slice(0, 8) + (key[8] === "A" ? "B" : "A") + key.slice(9)
  const floor = await timeBatch("floor.hmac-sha256", (ops) => {
    for (let i = 0; i < ops; i++) createHmac("sha256", "bench-pepper-0123456789abcdef0123456789").update(key).digest()
  }, { ops: OPS, note: "node:crypto HMAC-SHA-256 of a 75-character key" })
  const valid = await timeEffectBatch(
    "auth.validate",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) yield* keys.validate(key)
    }),
    { ops: OPS, baseline: "floor.hmac-sha256", note: "valid key, memory KeyStore, sequential in one fiber" }
  )
  const miss = await timeEffectBatch(
    "auth.validate.unknown",
    Effect.gen(function*() {
      for (let i = 0; i < OPS; i++) yield* Effect.exit(keys.validate(unknown))
    }),
    { ops: OPS, baseline: "floor.hmac-sha256", note: "unknown public id (dummy-hash compare), memory KeyStore" }
  )
  return [floor, valid, miss]
}

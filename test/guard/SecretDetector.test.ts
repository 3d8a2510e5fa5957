/**
 * `maskDeep` and `maskTree` of `SecretDetector`: every string masked at any depth (no depth bound leaves a value
 * as is), copy-on-write, cycles and shared references walked once; `maskTree`'s `keys` mode for what a store keeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { isCredentialKey, maskDeep, maskTree } from "../../src/guard/SecretDetector.ts"

const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"

/** `depth` levels of `{ next: … }` around `{ leaf }`. */
const chain = (depth: number, leaf: unknown): Record<string, unknown> => {
  let v: Record<string, unknown> = { leaf }
  for (let i = 0; i < depth; i++) v = { next: v }
  return v
}

describe("SecretDetector: masking records", () => {
  it("maskDeep masks a secret at any depth (10, 1,000 and 100,000 levels, arrays too) and keeps a clean value as the same reference", () => {
    for (const depth of [10, 1_000, 100_000]) {
      const masked = maskDeep(chain(depth, [`key ${KEY}`]))
      let v = masked as Record<string, unknown>
      for (let i = 0; i < depth; i++) v = v["next"] as Record<string, unknown>
      const leaf = (v["leaf"] as Array<string>)[0] ?? ""
      assert.notInclude(leaf, KEY)
      assert.include(leaf, "[REDACTED:OPENAI_API_KEY]")
      const clean = chain(depth, ["nothing secret"])
      assert.strictEqual(maskDeep(clean), clean)
    }
  })

  it("maskDeep ends on a cycle and masks a shared reference once", () => {
    const cyclic: Record<string, unknown> = chain(20, KEY)
    let tail = cyclic
    for (let i = 0; i < 20; i++) tail = tail["next"] as Record<string, unknown>
    tail["back"] = cyclic
    assert.notInclude(JSON.stringify(maskDeep(cyclic), (k, v: unknown) => k === "back" ? undefined : v), KEY)
    // a diamond 40 levels deep: 2^40 paths, one walk per object
    let diamond: Record<string, unknown> = { leaf: KEY }
    for (let i = 0; i < 40; i++) diamond = { left: diamond, right: diamond }
    const out = maskTree(diamond) as Record<string, Record<string, unknown>>
    assert.strictEqual(out["left"], out["right"])
  })

  it("maskTree with keys masks the value of a credential-named key (any case, - and _ ignored) and a secret used as a key; without keys, strings only", () => {
    const input = { headers: { "X-Api-Key": "3f9a8c7e6d5b4a39", Accept: "json" }, [KEY]: 1, max_tokens: 5 }
    assert.deepStrictEqual(maskTree(input, { keys: true }), {
      headers: { "X-Api-Key": "[REDACTED:CREDENTIAL]", Accept: "json" },
      "[REDACTED:OPENAI_API_KEY]": 1,
      max_tokens: 5
    })
    assert.deepStrictEqual(maskTree(input), input)
    for (const k of ["authorization", "Proxy-Authorization", "x-api-key", "API_KEY", "apikey", "password", "secret"]) {
      assert.isTrue(isCredentialKey(k), k)
    }
    for (const k of ["cookie", "set-cookie", "client_secret", "accessToken", "refresh_token", "privateKey"]) {
      assert.isTrue(isCredentialKey(k), k)
    }
    for (const k of ["max_tokens", "tokens", "key", "name", "type", "author", "secretary"]) {
      assert.isFalse(isCredentialKey(k), k)
    }
  })
})

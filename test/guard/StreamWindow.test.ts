import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { Buffer } from "node:buffer"
import { Guard, Vault } from "../../src/guard/index.ts"

// a synthetic PEM private key (deterministic pseudo-random base64, 64-character lines): written for this test
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const body = (lines: number, seed = 7): Array<string> => {
  let x = seed
  return Array.from({ length: lines }, () =>
    Array.from({ length: 64 }, () => {
      x = (x * 1103515245 + 12345) % 2147483648
      return B64[(x >>> 16) % 64]
    }).join(""))
}
const pem = (lines: Array<string>, end = true) =>
  `-----BEGIN RSA PRIVATE KEY-----\n${lines.join("\n")}\n${end ? "-----END RSA PRIVATE KEY-----\n" : ""}`

const chunk = (text: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

/** Pushes every chunk; after each push, asserts that no 12-character fragment of the key body has been released. */
const stream = (guard: Guard["Service"], text: string, size: number, lines: Array<string>, maxHold?: number) =>
  Effect.gen(function*() {
    const window = guard.window({}, new Vault())
    let released = ""
    const fragments = lines.flatMap((l) => [l.slice(0, 12), l.slice(26, 38), l.slice(52)])
    const leaked = () => fragments.find((f) => released.includes(f))
    for (const c of chunk(text, size)) {
      released += yield* window.push(c)
      const leak = leaked()
      if (leak !== undefined) {
        assert.fail(`chunk size ${size}${maxHold === undefined ? "" : `, maxHold ${maxHold}`}: "${leak}" leaked`)
      }
    }
    released += yield* window.end()
    assert.isUndefined(leaked(), `chunk size ${size}: leaked at the end`)
    return released
  })

describe("stream window: a PEM private key longer than the window", () => {
  const lines = body(26) // ~1 700 characters, far past the 256-character window
  const text = `Here is the deploy key you asked for:\n${pem(lines)}Store it in the vault, then rotate it monthly.`

  it.effect("is held from its BEGIN header to its END line and masked whole, for every chunk size 1..64", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      for (let size = 1; size <= 64; size++) {
        const released = yield* stream(guard, text, size, lines)
        assert.include(released, "Here is the deploy key you asked for:", `size ${size}`)
        assert.include(released, "[REDACTED:PRIVATE_KEY]", `size ${size}`)
        assert.include(released, "Store it in the vault, then rotate it monthly.", `size ${size}`)
      }
    }))

  it.effect("past maxHold without an END line, the held block is redacted and the rest of it dropped; text after END flows", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make({ maxHold: 600 })
      for (const size of [1, 7, 33, 64]) {
        const released = yield* stream(guard, text, size, lines, 600)
        assert.include(released, "[REDACTED:PRIVATE_KEY]")
        assert.include(released, "Store it in the vault, then rotate it monthly.")
      }
      // no END line at all: nothing of the body leaves, up to the end of the stream
      for (const size of [1, 16, 64]) {
        const released = yield* stream(guard, `Key:\n${pem(lines, false)}`, size, lines, 600)
        assert.include(released, "[REDACTED:PRIVATE_KEY]")
      }
    }))

  it.effect("two keys in one stream are both masked; text between them is released", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      const other = body(10, 99)
      const two = `first:\n${pem(lines)}between the keys\n${pem(other)}after`
      for (const size of [3, 29, 64]) {
        const released = yield* stream(guard, two, size, [...lines, ...other])
        assert.include(released, "between the keys")
        assert.include(released, "after")
        assert.strictEqual(released.split("[REDACTED:PRIVATE_KEY]").length - 1, 2)
      }
    }))

  it.effect("under a block policy the stream fails before any of the body is released", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make({ policies: { default: { secrets: { action: "block" } } } })
      const exit = yield* Effect.exit(stream(guard, text, 17, lines))
      assert.isTrue(Exit.isFailure(exit))
    }))
})

/** A JWT-shaped token of about `size` characters (the header decodes to JSON with `alg`), written for this test. */
const jwt = (size: number): string => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url")
  const header = b64({ alg: "RS256", typ: "JWT", kid: "k1-synthetic" })
  const payload = b64({ sub: "synthetic-user", scope: "orders.read ".repeat(Math.ceil(size / 16)).trim() })
  return `${header}.${payload}.${body(1, 3)[0]!.replace(/[+/]/g, "_")}`
}
const runWindow = (guard: Guard["Service"], text: string, size: number) =>
  Effect.gen(function*() {
    const window = guard.window({}, new Vault())
    let released = ""
    for (const c of chunk(text, size)) released += yield* window.push(c)
    return released + (yield* window.end())
  })

describe("stream window: a token longer than the window is held until it ends", () => {
  const token = jwt(520)
  const bearer = "Authorization: Bearer " + body(6, 11).join("").slice(0, 380)
  const credential = `client_secret = "${body(4, 5).join("").slice(0, 250)}"`

  it.effect("a JWT longer than the window is masked whole, for chunk sizes 1..64; no fragment of it is released", () =>
    Effect.gen(function*() {
      assert.isAbove(token.length, 400)
      const guard = yield* Guard.make()
      const text = `Here: ${token} — keep it safe.`
      for (let size = 1; size <= 64; size += 3) {
        const released = yield* runWindow(guard, text, size)
        assert.include(released, "[REDACTED:JWT]", `size ${size}`)
        assert.notInclude(released, token.slice(0, 24), `size ${size}`)
        assert.include(released, "Here: ", `size ${size}`)
        assert.include(released, "keep it safe.", `size ${size}`)
      }
    }))

  it.effect("a Bearer token and a credential assignment longer than the window are masked with their key name", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      for (const secret of [bearer, credential]) {
        for (const size of [1, 16, 61]) {
          const released = yield* runWindow(guard, `${"Some words. ".repeat(30)}${secret} and more words after.`, size)
          assert.include(released, "[REDACTED:", `size ${size}`)
          assert.notInclude(released, body(6, 11).join("").slice(40, 64), `size ${size}`)
          assert.notInclude(released, body(4, 5).join("").slice(40, 64), `size ${size}`)
          assert.include(released, "and more words after.", `size ${size}`)
        }
      }
    }))

  it.effect("a run of token characters longer than maxHold is scanned and released in pieces (held text stays bounded)", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make({ maxHold: 2_000 })
      const run = "ab".repeat(5_000)
      const released = yield* runWindow(guard, `start ${run} end`, 16)
      assert.strictEqual(released, `start ${run} end`)
    }))

  it.effect("a placeholder split by the window's cut is released whole", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      for (let pad = 240; pad < 270; pad++) {
        const window = guard.window({}, new Vault())
        const deltas: Array<string> = []
        for (const c of chunk("x".repeat(pad) + " write to <EMAIL_12> today " + "y".repeat(300), 16)) {
          deltas.push(yield* window.push(c))
        }
        deltas.push(yield* window.end())
        assert.isTrue(deltas.some((d) => d.includes("<EMAIL_12>")), `pad ${pad}: ${JSON.stringify(deltas)}`)
      }
    }))
})

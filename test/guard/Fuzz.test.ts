import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { assert } from "vitest"
import {
  checkSafety,
  detectInjection,
  detectPii,
  detectSecrets,
  Guard,
  INJECTION_RULES,
  maskSecrets,
  sanitize
} from "../../src/guard/index.ts"
import { SECRET_RULES } from "../../src/guard/internal/secretRules.ts"

/** Adversarial inputs: long repeats of regex-hostile fragments (nested-quantifier triggers), mixed with noise. */
const hostile = fc.oneof(
  fc.constantFrom(
    "a",
    "1",
    " ",
    "-",
    ".",
    ":",
    "@",
    "=",
    "\\n",
    "\\ ",
    "ignore ",
    "all ",
    "previous ",
    "eyJ",
    "sk-",
    "xoxb-1-",
    "AKIA",
    "0000 ",
    "1.",
    "::",
    "ff:",
    "aaaa@",
    "a.a.",
    "![",
    "](",
    "http://a?",
    "<img ",
    "-----BEGIN ",
    "key=",
    "\u200B",
    "\u{E0041}",
    "ı",
    "ѕ",
    "(",
    ")",
    "+1 ",
    "DE89",
    "to kill ",
    "you will need ",
    "system: "
  ),
  fc.string({ maxLength: 8 })
)
const adversarial = fc.tuple(
  fc.array(hostile, { maxLength: 20 }),
  fc.integer({ min: 1, max: 2_000 }),
  fc.string({ maxLength: 40 })
)
  .map(([parts, repeat, tail]) => (parts.join("").repeat(repeat) + tail).slice(0, 20_000))

const bounded = (label: string, f: () => unknown, text: string, maxMillis: number) => {
  const start = performance.now()
  f()
  const took = performance.now() - start
  assert.isBelow(
    took,
    maxMillis,
    `${label} took ${took.toFixed(1)} ms on ${text.length} chars (${JSON.stringify(text.slice(0, 60))}…)`
  )
}

describe("guard scanners under adversarial input (no catastrophic backtracking)", () => {
  it("every scan of up to 20,000 characters finishes within the bound and never throws", () => {
    // bound: 250 ms per scan of 20 KB on a loaded 2-core machine; a catastrophic regex takes seconds or hangs
    fc.assert(
      fc.property(adversarial, (text) => {
        bounded("sanitize", () => sanitize(text), text, 250)
        bounded("injection", () => detectInjection(text), text, 250)
        bounded("injection/document", () => detectInjection(text, { channel: "document" }), text, 250)
        bounded("pii", () => detectPii(text), text, 250)
        bounded("secrets", () => detectSecrets(text), text, 250)
        bounded("mask", () => maskSecrets(text), text, 250)
        bounded("content", () => checkSafety(text), text, 250)
      }),
      { numRuns: 60, seed: 14 }
    )
  })
  it("known worst cases (50,000-character runs of one class, then a mismatch) finish within the bound", () => {
    const runs = [
      "a",
      "1",
      "a1",
      "a-",
      "1 ",
      "a.",
      "a@",
      "=",
      ":",
      "f:",
      "\\ n",
      "A",
      "eyJa.",
      "x",
      "_",
      "sk-a",
      " ignore"
    ]
    for (const unit of runs) {
      const text = unit.repeat(Math.ceil(50_000 / unit.length)) + "!\u0000"
      for (
        const [label, f] of [
          ["injection", () => detectInjection(text, { channel: "document" })],
          ["pii", () => detectPii(text)],
          ["secrets", () => detectSecrets(text)],
          ["content", () => checkSafety(text)]
        ] as const
      ) bounded(`${label} on ${JSON.stringify(unit)}×`, f, text, 1_500)
    }
  })
  it.effect("Guard.check fails only with GuardBlocked (never a defect) on arbitrary input", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      const samples = fc.sample(
        fc.oneof(adversarial, fc.string({ maxLength: 500 }), fc.string({ unit: "binary", maxLength: 200 })),
        { numRuns: 80, seed: 7 }
      )
      for (const text of samples) {
        for (const stage of ["input", "document", "output"] as const) {
          const exit = yield* Effect.exit(guard.check(text, stage))
          if (exit._tag === "Failure") {
            const error = exit.cause.reasons[0]
            assert.strictEqual(error?._tag, "Fail")
          }
        }
      }
    }))
})

/** Short texts built from the fragments a rule's bounds and classes turn on (lengths around each bound, astral chars). */
const fragments = (list: ReadonlyArray<string>) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(...list),
      fc.tuple(fc.constantFrom("a", "é", "\u{1F600}", "=", "?a"), fc.integer({ min: 0, max: 310 })).map(([c, n]) =>
        c.repeat(n)
      ),
      fc.string({ maxLength: 4 })
    ),
    { maxLength: 24 }
  ).map((parts) => parts.join(""))

/** Every match of `re` (a copy, global) from the start, as `[index, text]`. */
const allMatches = (re: RegExp, text: string): Array<[number, string]> =>
  [...text.matchAll(new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g"))].map((m) => [
    m.index,
    m[0]
  ])

/** Up to four runs of the given strings, each up to `max` long: lengths on both sides of a rule's bounds. */
const piece = (strings: ReadonlyArray<string>, max: number) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(...strings),
      fc.tuple(fc.constantFrom(...strings), fc.integer({ min: 0, max })).map(([c, n]) => c.repeat(n))
    ),
    { maxLength: 4 }
  ).map((parts) => parts.join(""))
const one = (...strings: ReadonlyArray<string>) => fc.constantFrom(...strings)
/** A URL with a query, its parts near their bounds (`A{1,300} [?&] B{1,40} = C{0,300} marker D{0,300}`). */
const url = fc.tuple(
  one("http://", "https://", "http:/", "https:", "hTtp://"),
  piece(["a", "?", "&", "=", "é", "\u{1F600}", "/"], 301),
  one("?", "&", ""),
  piece(["a", "=", "?", "é", "\u{1F600}"], 41),
  one("=", "", "=="),
  piece(["a", "{", "<", "$", "%7b", "%7", "=", "é"], 301),
  one("{", "<", "$", "%7b", "%7", ""),
  piece(["a", " ", ")", "{", "\"", ">", "\u{1F600}"], 301)
).map((parts) => parts.join(""))
const markdownLinks = fc.array(
  fc.tuple(
    one("![", "!![", "![![", "", "!"),
    piece(["a", "é", "\u{1F600}", "[", "]", "\n", "!["], 101),
    one("](", "] (", "]", ")("),
    one("", " ", "\t\u00a0", "\n "),
    fc.oneof(
      fc.tuple(one("<", "{", "$", "$_"), piece(["a", "\n", ">", "}", "é", "\u{1F600}"], 61), one(">", "}", "", ")"))
        .map((
          parts
        ) => parts.join("")),
      url
    ),
    one("", ")", " tail", "\n")
  ).map((parts) => parts.join("")),
  { minLength: 1, maxLength: 3 }
).map((links) => links.join(""))
const htmlImages = fc.array(
  fc.tuple(
    one("<img", "<img ", "<imgx", "<img<img ", ""),
    piece(["a", " ", ">", "src", "xsrc", "é", "\u{1F600}", "\n"], 201),
    one(" src", "src", "_src", " src "),
    one("=", " = ", "", "=\u00a0"),
    one("", "\"", "'"),
    url,
    one("", "\"", ">", " tail")
  ).map((parts) => parts.join("")),
  { minLength: 1, maxLength: 3 }
).map((links) => links.join(""))

describe("linear matchers equal the reference regular expressions they replace", () => {
  const rule = (id: string) => INJECTION_RULES.find((r) => r.id === id)!
  for (
    const [id, links, list] of [
      ["exfil.markdown-image", markdownLinks, ["![", "]", "](", "(", ")", " ", "\n", "http://", "?", "&", "=", "{"]],
      ["exfil.html-image", htmlImages, ["<img", " ", "src", " src", "=", "\"", "'", ">", "http://", "?", "&", "\n"]]
    ] as const
  ) {
    it(`${id}: the per-link matcher finds the reference regex's first match (same index and length)`, () => {
      const r = rule(id)
      const extra = ["<", ">", "$", "$a", "%7b", "%7", "{x}", "<x>", "\t", "\u00a0", "x"]
      const texts = fc.oneof(
        links,
        fc.tuple(fragments([...list, ...extra]), links, fragments([...list, ...extra])).map((parts) => parts.join("")),
        fragments([...list, ...extra])
      )
      fc.assert(
        fc.property(texts, (text) => {
          const reference = r.re.exec(text)
          const found = r.exec!(text)
          assert.deepStrictEqual(
            found === null ? null : [found.index, found.length],
            reference === null ? null : [reference.index, reference[0].length]
          )
        }),
        { numRuns: 3_000, seed: 21 }
      )
    })
  }

  it("PRIVATE_KEY: the one-pass finder finds every match of the reference regex", () => {
    const rule = SECRET_RULES.find((r) => r.type === "PRIVATE_KEY")!
    const list = [
      "-----BEGIN PRIVATE KEY-----",
      "-----BEGIN RSA PRIVATE KEY-----",
      "-----BEGIN A B C PRIVATE KEY BLOCK-----",
      "-----BEGIN A B C D PRIVATE KEY-----",
      "-----END PRIVATE KEY-----",
      "-----END RSA PRIVATE KEY-----",
      "-----END EC PRIVATE KEY BLOCK-----",
      "-----",
      "------END PRIVATE KEY-----",
      "MIIEvQ",
      "ab+/=",
      "\n",
      " ",
      ":,.-",
      "!",
      "_"
    ]
    fc.assert(
      fc.property(fragments(list), (text) => {
        const found: Array<[number, string]> = []
        for (let m = rule.find!(text, 0); m !== null; m = rule.find!(text, m.end)) {
          found.push([m.index, text.slice(m.index, m.end)])
        }
        assert.deepStrictEqual(found, allMatches(rule.re, text))
      }),
      { numRuns: 3_000, seed: 22 }
    )
    // the 20,000-character bound on the body
    for (const n of [19_999, 20_000, 20_001]) {
      const text = `-----BEGIN PRIVATE KEY-----${"a".repeat(n)}-----END PRIVATE KEY----- tail`
      const m = rule.find!(text, 0)
      assert.deepStrictEqual(
        m === null ? null : [m.index, text.slice(m.index, m.end)],
        allMatches(rule.re, text)[0] ?? null,
        `body ${n}`
      )
    }
  })
})

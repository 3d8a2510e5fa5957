/**
 * `SecretScrub`: key-shaped tokens masked, terminal control stripped, URL userinfo redacted; fuzzed with fast-check.
 * The linear scans that replaced two backtracking patterns are checked against those patterns, and masking a
 * whitespace-ended prefix against masking the whole text.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { isSpace, maskJwts, maskUrlUserinfo } from "../../../src/llm/internal/LinearScans.ts"
import {
  hasUserinfo,
  isHighEntropyToken,
  maskSecrets,
  maskSecretsUpTo,
  REDACTED,
  redactUrl,
  sanitize,
  stripControl
} from "../../../src/llm/internal/SecretScrub.ts"
import { scrubSecrets } from "../../../src/llm/ProviderErrorMapping.ts"

/** The patterns the linear scans replaced (quadratic on long runs of scheme or base64url characters). */
const URL_USERINFO_REFERENCE = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi
const JWT_REFERENCE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g

/** Texts made of the pieces the patterns care about, so that near-matches are frequent. */
const piecesArb = fc.array(
  fc.constantFrom(
    "://",
    "@",
    "eyJ",
    ".",
    "-",
    "_",
    "+",
    "/",
    "?",
    "#",
    ":",
    " ",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "a",
    "Zq",
    "09",
    "hTtPs",
    "é",
    "\u212a",
    "x".repeat(5),
    "Bearer ",
    "token: ",
    "sk-",
    "AKIA",
    "Q7vX2mK9pL4sT8wZ1nB6cR3yH5jD0fGa"
  ),
  { maxLength: 40 }
).map((pieces) => pieces.join(""))

const timeOf = (run: () => unknown): number => {
  const started = performance.now()
  run()
  return performance.now() - started
}

const samples: ReadonlyArray<readonly [string, string]> = [
  ["OpenAI legacy", "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh"],
  ["OpenAI project", "sk-proj-AbCdEfGh_IjKlMnOp-QrStUvWx"],
  ["OpenAI service account", "sk-svcacct-AbCdEfGhIjKlMnOp"],
  ["Anthropic", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz012345"],
  ["Groq", "gsk_AbCdEfGhIjKlMnOpQrSt"],
  ["xAI", "xai-AbCdEfGhIjKlMnOpQrSt"],
  ["Google", "AIzaSyAbCdEfGhIjKlMnOpQrStUvWxYz0123456"],
  ["AWS access key id", "AKIAIOSFODNN7EXAMPLE"],
  ["GitHub classic", "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
  ["GitHub fine-grained", "github_pat_11AbCdEfGh0123456789_AbCdEfGhIjKlMnOpQrStUv"],
  ["Slack bot", "xoxb-1234567890-0987654321-AbCdEfGhIjKl"],
  ["JWT", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM"],
  ["generic high-entropy", "Q7vX2mK9pL4sT8wZ1nB6cR3yH5jD0fGa"]
]

describe("SecretScrub", () => {
  for (const [label, secret] of samples) {
    it(`masks a ${label} key inside a message`, () => {
      const out = maskSecrets(`error: invalid credential ${secret}, check it`)
      assert.notInclude(out, secret)
      assert.include(out, "<redacted>")
      assert.isTrue(out.startsWith("error: invalid credential "))
    })
  }

  it("masks Bearer / Basic credentials and secret-named key=value pairs, keeping the labels", () => {
    assert.strictEqual(maskSecrets("Authorization: Bearer abc.def-ghi_123"), "Authorization: Bearer <redacted>")
    assert.strictEqual(maskSecrets("Basic dXNlcjpwYXNz"), "Basic <redacted>")
    assert.strictEqual(maskSecrets("url?api_key=hunter22&x=1"), "url?api_key=<redacted>&x=1")
    assert.strictEqual(maskSecrets(`{"password": "s3cr3t!"}`), `{"password": "<redacted>"}`)
    assert.strictEqual(
      maskSecrets("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG"),
      "aws_secret_access_key = <redacted>"
    )
  })

  it("redacts userinfo in URLs, in text and as a URL", () => {
    assert.strictEqual(maskSecrets("see https://bob:pw123@proxy.example/v1"), "see https://<redacted>@proxy.example/v1")
    assert.strictEqual(
      redactUrl("https://bob:pw@proxy.example/v1?key=AIza123#x"),
      "https://<redacted>@proxy.example/v1"
    )
    assert.isTrue(hasUserinfo("https://bob@proxy.example"))
    assert.isFalse(hasUserinfo("https://proxy.example/v1"))
  })

  it("leaves ordinary text, UUIDs, hex digests and token counts alone", () => {
    const plain = [
      "This model's maximum context length is 8192 tokens; max_tokens: 4096",
      "request 123e4567-e89b-12d3-a456-426614174000 failed",
      "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "temperature: must be <= 2",
      "sk-learn is a library"
    ]
    for (const text of plain) assert.strictEqual(maskSecrets(text), text)
    assert.isFalse(isHighEntropyToken("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
  })

  it("strips ANSI escapes, control characters and bidi overrides; line breaks become a space", () => {
    assert.strictEqual(stripControl("\u001b[31mred\u001b[0m\r\nnext\u0007\u202e"), "red next")
    assert.strictEqual(stripControl("\u001b]0;title\u0007x\u009b2Jy"), "xy")
    assert.strictEqual(sanitize("\u001b[2Jkey: sk-ant-api03-abcdefghijkl\r\nInjected"), "key: <redacted> Injected")
  })

  it("scrubSecrets scrubs first, then cuts (no prefix of a known key survives the cut)", () => {
    const key = "Zx9Qw7Er5Ty3Ui1OpAsDfGhJ"
    const out = scrubSecrets(`${"x".repeat(110)}${key} and more text after the key`, [key], 120)
    assert.notInclude(out, key.slice(0, 6))
    assert.isTrue(out.endsWith("…"))
  })

  it("fuzz: never throws, output has no control characters, an embedded key is always masked", () => {
    const keyArb = fc.constantFrom(...samples.map(([, s]) => s))
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), keyArb, fc.string({ maxLength: 200 }), (before, key, after) => {
        const out = sanitize(`${before} ${key} ${after}`)
        // eslint-disable-next-line no-control-regex
        assert.notMatch(out, /[\u0000-\u001f\u007f-\u009f]/)
        assert.notInclude(out, key)
      }),
      { numRuns: 500 }
    )
  })

  it("fuzz: arbitrary unicode and binary-ish input is handled (idempotent after one pass)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const once = sanitize(text)
        assert.strictEqual(sanitize(once), once)
      }),
      { numRuns: 500 }
    )
  })

  it("masking is linear in the text: 64 KB and 1 MB without spaces (hex, letters, scheme runs, eyJ- runs) scrub in milliseconds", () => {
    const shapes = [
      (n: number) => "ab12".repeat(n / 4),
      (n: number) => "m".repeat(n),
      (n: number) => `${"a".repeat(n / 2)}://${"b".repeat(n / 2)}`,
      (n: number) => "eyJ-".repeat(n / 4),
      (n: number) => `${"eyJ-".repeat(n / 8)}abcd.${"x".repeat(n / 2)}`
    ]
    for (const [n, bound] of [[65_536, 100], [1_048_576, 1_000]] as const) {
      for (const shape of shapes) {
        const text = shape(n)
        const ms = timeOf(() => maskSecrets(text))
        assert.isBelow(ms, bound, `${text.slice(0, 12)}… (${n} chars) took ${ms.toFixed(0)} ms to mask`)
      }
    }
  })

  it("fuzz: the URL-userinfo and JWT scans mask exactly what their former patterns masked", () => {
    fc.assert(
      fc.property(fc.oneof(piecesArb, fc.string({ maxLength: 60 })), (text) => {
        assert.strictEqual(
          maskUrlUserinfo(text, REDACTED),
          text.replace(URL_USERINFO_REFERENCE, (_, scheme: string) => `${scheme}${REDACTED}@`)
        )
        assert.strictEqual(maskJwts(text, REDACTED), text.replace(JWT_REFERENCE, REDACTED))
      }),
      { numRuns: 5_000 }
    )
  })

  it("isSpace is the whitespace class of regular expressions, for every UTF-16 code unit", () => {
    for (let c = 0; c <= 0xffff; c++) assert.strictEqual(isSpace(c), /\s/.test(String.fromCharCode(c)), `U+${c}`)
  })

  it("fuzz: masking a whitespace-ended prefix gives a prefix of the whole masking, at least as long as the cut keeps", () => {
    fc.assert(
      fc.property(fc.array(piecesArb, { maxLength: 12 }), fc.integer({ min: 0, max: 120 }), (parts, keep) => {
        const text = parts.join(" ")
        const whole = maskSecrets(text)
        const { complete, masked } = maskSecretsUpTo(text, keep)
        if (complete) assert.strictEqual(masked, whole)
        else {
          assert.isTrue(
            whole.startsWith(masked),
            `${JSON.stringify(masked)} is not a prefix of ${JSON.stringify(whole)}`
          )
          assert.isAtLeast(masked.length, keep)
          assert.isAbove(whole.length, masked.length)
        }
      }),
      { numRuns: 3_000 }
    )
  })

  it("scrubSecrets masks only what the cut keeps plus a margin: 1 MB of words costs far less than masking it all", () => {
    const big = "lorem ipsum Q7vX2mK9pL4sT8wZ1nB6cR3yH5jD0fGa dolor ".repeat(20_972)
    timeOf(() => scrubSecrets(big.slice(0, 4096), []))
    const whole = timeOf(() => maskSecrets(big))
    const cut = timeOf(() => scrubSecrets(big, []))
    assert.isBelow(cut, whole / 2, `scrubSecrets took ${cut.toFixed(1)} ms, masking all of it ${whole.toFixed(1)} ms`)
    assert.strictEqual(scrubSecrets(big, []), `${maskSecrets(big).slice(0, 500)}…`)
  })

  it("fuzz: scrubSecrets is the cut of the whole scrub (known secrets, control characters, patterns), for any text and cut", () => {
    const secret = "Zx9Qw7Er5Ty3Ui1OpAsDfGhJ"
    const whole = (text: string, max: number) => {
      const known = (t: string) => t.split(secret).join(REDACTED)
      const masked = maskSecrets(known(stripControl(known(text))))
      return masked.length > max ? `${masked.slice(0, max)}…` : masked
    }
    const part = fc.oneof(
      piecesArb,
      fc.constantFrom(secret, "\u001b[31m", "\r\n", "\t", "\u0007", "Zx9Qw7\u0007Er5Ty3Ui1OpAsDfGhJ")
    )
    fc.assert(
      fc.property(fc.array(part, { maxLength: 30 }), fc.integer({ min: 1, max: 80 }), (parts, max) => {
        const text = parts.join(" ")
        assert.strictEqual(scrubSecrets(text, [secret], max), whole(text, max))
      }),
      { numRuns: 3_000 }
    )
  })
})

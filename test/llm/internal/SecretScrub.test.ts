/** `SecretScrub`: key-shaped tokens masked, terminal control stripped, URL userinfo redacted; fuzzed with fast-check. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  hasUserinfo,
  isHighEntropyToken,
  maskSecrets,
  redactUrl,
  sanitize,
  stripControl
} from "../../../src/llm/internal/SecretScrub.ts"
import { scrubSecrets } from "../../../src/llm/ProviderErrorMapping.ts"

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
})

import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Layer, Logger, Metric, Tracer } from "effect"
import * as fc from "fast-check"
import { Troupe } from "../../src/app/index.ts"
import { maskingLoggerLayer, maskSecrets, mayHoldSecret } from "../../src/guard/index.ts"
import { maskSecretsReference } from "../../src/guard/SecretDetector.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"

// synthetic credentials written for these tests
const keys = [
  "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5",
  "sk-ant-api03-" + "Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed8Cb7Aa6",
  "AKIA" + "Q7W2E9R4T6Y1U3I8",
  "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
  "xoxb-" + "1234567890-0987654321-" + "q9w8e7r6t5y4u3i2",
  "github_pat_" + "11ABCDEFG0" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2G3H4I5J6",
  "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".c2lnbmF0dXJlLXZhbHVlLWhlcmUx"
]
const key = keys[0] as string

const hubLayer = TelemetryHub.layer().pipe(Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map())))

const recordingTracer = (spans: Array<Tracer.Span>) =>
  Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })

describe("secrets are masked on every string the hub and the logger emit", () => {
  it.effect("a key in event metadata (flat, nested, in an Error) reaches no handler; clean metadata is passed as is", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("spy", [["test"]], (e) => void seen.push(e))
      const clean = { provider: "openai", model: "gpt-4o" }
      yield* hub.emit(["test", "clean"], { count: 1 }, clean)
      yield* hub.emit(["test", "dirty"], { count: 1 }, {
        reason: `rejected ${key}`,
        nested: { list: [`k=${keys[3]}`] },
        error: new Error(`bad ${keys[2]}`)
      })
      hub.emitUnsafe(["test", "unsafe"], { count: 1 }, { reason: `token ${keys[1]}` })
      assert.strictEqual(seen[0]?.metadata, clean)
      const text = JSON.stringify(seen.map((e) => e.metadata)) + String((seen[1]?.metadata["error"] as Error).message)
      for (const k of keys.slice(0, 4)) assert.notInclude(text, k.slice(6))
      assert.include(text, "[REDACTED:")
    }).pipe(Effect.provide(hubLayer)))

  it.effect("a key in a span attribute and in an error message is masked in the span and the exception event", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("spy", [["test"]], (e) => void seen.push(e))
      const spans: Array<Tracer.Span> = []
      yield* Effect.succeed(1).pipe(
        hub.span(["test", "ok"], { prompt: `use ${key}` }, {
          onSuccess: () => ({ attributes: { "auth.header": `Bearer ${keys[3]}` } })
        }),
        Effect.withTracer(recordingTracer(spans))
      )
      yield* Effect.fail(new Error(`upstream said: invalid key ${keys[1]}`)).pipe(
        hub.span(["test", "fails"]),
        Effect.withTracer(recordingTracer(spans)),
        Effect.ignore
      )
      yield* Effect.die(`defect with ${keys[2]}`).pipe(hub.span(["test", "dies"]), Effect.exit)
      // the span of the failure ends with the masked error (what an exporter records); the caller's error is unchanged
      const failed = spans[1]?.status
      assert.strictEqual(failed?._tag, "Ended")
      const recorded = failed?._tag === "Ended" && failed.exit._tag === "Failure"
        ? String(Cause.squash(failed.exit.cause))
        : ""
      assert.include(recorded, "[REDACTED:")
      assert.notInclude(recorded, (keys[1] as string).slice(13))
      const callerSees = yield* Effect.flip(
        Effect.fail(new Error(`key ${keys[1]}`)).pipe(
          hub.span(["test", "fails"]),
          Effect.withTracer(recordingTracer(spans))
        )
      )
      assert.include(callerSees.message, keys[1] as string)
      const attrs = JSON.stringify(spans.map((s) => Object.fromEntries(s.attributes)))
      assert.include(attrs, "[REDACTED:")
      assert.notInclude(attrs, key.slice(8))
      assert.notInclude(attrs, (keys[3] as string).slice(4))
      const exceptions = seen.filter((e) => e.name.at(-1) === "exception")
      assert.strictEqual(exceptions.length, 3)
      const text = JSON.stringify(seen.map((e) => e.metadata))
      assert.notInclude(text, (keys[1] as string).slice(13))
      assert.notInclude(text, (keys[2] as string).slice(4))
      assert.include(String(exceptions[0]?.metadata["reason"]), "[REDACTED:")
    }).pipe(Effect.provide(hubLayer)))

  it.effect("a thrown handler's reason is masked in the failure event", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const failures: Array<TelemetryEvent> = []
      yield* hub.attach("thrower", [["test", "x"]], () => {
        throw new Error(`cannot use ${key}`)
      })
      yield* hub.attach("watch", [["troupe", "telemetry"]], (e) => void failures.push(e))
      yield* hub.emit(["test", "x"], {})
      assert.strictEqual(failures.length, 1)
      assert.notInclude(JSON.stringify(failures[0]?.metadata), key.slice(8))
    }).pipe(Effect.provide(hubLayer), Effect.provide(Logger.layer([]))))

  it.effect("maskSecrets: false turns the hub's masking off (the benchmark's baseline)", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("spy", [["test"]], (e) => void seen.push(e))
      yield* hub.emit(["test", "raw"], {}, { reason: key })
      assert.strictEqual(seen[0]?.metadata["reason"], key)
    }).pipe(
      Effect.provide(
        TelemetryHub.layer({ maskSecrets: false }).pipe(
          Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map()))
        )
      )
    ))

  it.effect("Troupe.layerTest masks every log message by default (the application's logger too)", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const appLogger = Logger.make((o) => void lines.push(JSON.stringify(o.message)))
      yield* Effect.gen(function*() {
        yield* Effect.logWarning(`calling the provider with ${key}`)
        yield* Effect.logError("failed", new Error(`401 for ${keys[3]}`))
      }).pipe(Effect.provide(Troupe.layerTest()), Effect.provide(Logger.layer([appLogger])))
      const text = lines.join("\n")
      assert.include(text, "calling the provider with [REDACTED:")
      assert.notInclude(text, key.slice(8))
      assert.notInclude(text, (keys[3] as string).slice(4))
    }))

  it.effect("maskingLoggerLayer wraps every logger of the context", () =>
    Effect.gen(function*() {
      const a: Array<unknown> = []
      const b: Array<unknown> = []
      yield* Effect.log(`k ${key}`).pipe(
        Effect.provide(maskingLoggerLayer),
        Effect.provide(
          Logger.layer([Logger.make((o) => void a.push(o.message)), Logger.make((o) => void b.push(o.message))])
        )
      )
      assert.notInclude(JSON.stringify([a, b]), key.slice(8))
      assert.strictEqual(a.length, 1)
      assert.strictEqual(b.length, 1)
    }))

  it.effect("maskingLogger masks the cause of a log line too: a failure, a defect, a nested cause or an object holding a secret is logged masked, of the same kind", () =>
    Effect.gen(function*() {
      const seen: Array<{ readonly text: string; readonly cause: Cause.Cause<unknown> }> = []
      const capture = Logger.make((o) => void seen.push({ text: Cause.pretty(o.cause), cause: o.cause }))
      const nested = Cause.fail(new Error("upstream refused", { cause: new Error(`401 for ${keys[1]}`) }))
      const clean = Cause.fail(new Error("nothing secret here"))
      yield* Effect.gen(function*() {
        yield* Effect.logError("x", Cause.fail(new Error(`webhook refused Authorization: Bearer ${key}`)))
        yield* Effect.logError("x", Cause.die(new Error(`crashed with ${keys[3]}`)))
        yield* Effect.logError("x", nested)
        yield* Effect.logError("x", Cause.fail({ _tag: "Refused", detail: `token ${keys[4]}` }))
        yield* Effect.logError("x", clean)
      }).pipe(Effect.provide(maskingLoggerLayer), Effect.provide(Logger.layer([capture])))
      assert.strictEqual(seen.length, 5)
      const all = seen.map((s) => s.text).join("\n")
      for (const k of [key, keys[1], keys[3], keys[4]]) assert.notInclude(all, (k as string).slice(5))
      assert.include(seen[0]?.text, "webhook refused Authorization: Bearer [REDACTED")
      assert.strictEqual(seen[2]?.text, maskSecrets(Cause.pretty(nested)), "the rendering is the original, masked")
      assert.include(seen[3]?.text, "Refused")
      assert.isTrue(Cause.hasFails(seen[0]!.cause))
      assert.isTrue(Cause.hasDies(seen[1]!.cause))
      assert.strictEqual(seen[4]?.cause, clean, "a cause with no secret is passed on as it is")
    }))
})

describe("maskSecrets's pre-check is a sound shortcut", () => {
  // fragments that look like parts of secrets or their names, so that generated strings come near the rules
  const fragments = [
    ...keys,
    "sk-",
    "AKIA",
    "ghp_",
    "api_key=",
    "secret: ",
    "token ",
    "password=",
    "Bearer ",
    "eyJ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "https://user:",
    "@host",
    "xox",
    "AIza",
    "npm_",
    "SG.",
    "\"",
    "=",
    " ",
    "\n",
    "_live_"
  ]
  const text = fc.array(
    fc.oneof(
      fc.constantFrom(...fragments),
      fc.string({ maxLength: 40 }),
      fc.stringMatching(/^[A-Za-z0-9+/_-]{8,48}$/),
      fc.stringMatching(/^[a-z.]{10,40}$/),
      fc.stringMatching(/^[a-z0-9]{12,30}$/)
    ),
    { maxLength: 12 }
  ).map((parts) => parts.join(""))

  it("maskSecrets(text) equals the reference (every rule, no pre-check, no hints) on generated text", () => {
    fc.assert(fc.property(text, (t) => maskSecrets(t) === maskSecretsReference(t)), { numRuns: 3000 })
  })
  it("mayHoldSecret is false only where the reference finds nothing (the pre-check never hides a secret)", () => {
    fc.assert(fc.property(text, (t) => mayHoldSecret(t) || maskSecretsReference(t) === t), { numRuns: 3000 })
    for (const k of keys) assert.isTrue(mayHoldSecret(`x ${k} y`), k)
    assert.isFalse(mayHoldSecret("troupe.llm.call.stop chat.completions gpt-4o-mini"))
  })
  it("and on arbitrary unicode strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (t) => maskSecrets(t) === maskSecretsReference(t)),
      { numRuns: 1000 }
    )
  })
})

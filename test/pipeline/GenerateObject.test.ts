/**
 * `Llm.generateObject` over the real HTTP providers against the loopback fake server: the native modes on the wire
 * (OpenAI `json_schema` with `strict`, Anthropic tool-forced output), decoding, repair, and the typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import * as fc from "fast-check"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { ScriptedProvider } from "../../src/llm/index.ts"
import { Llm, resolveMode } from "../../src/pipeline/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { httpPipelineLayer, openAiAndAnthropic, pipelineLayer } from "./support.ts"

const City = Schema.Struct({ city: Schema.String, population: Schema.optional(Schema.Finite) })
const messages = [{ role: "user", content: "I live in Oslo" }] as const

describe("Llm.generateObject", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = () =>
    httpPipelineLayer(openAiAndAnthropic(server.baseUrl), {
      pipeline: { retry: { jitter: 0, retries: 0 } },
      providers: { openai: { baseUrl: server.baseUrl }, anthropic: { baseUrl: server.baseUrl } }
    })

  it.live("OpenAI: response_format json_schema with strict (the strict subset), decoded with the matching codec", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "answer", text: `{"city":"Oslo","population":null}` })
      const out = yield* Llm.generateObject({ model: "openai:gpt-4o-mini", messages, schema: City, name: "city" })
      assert.deepStrictEqual(out.object, { city: "Oslo" })
      assert.strictEqual(out.mode, "json_schema")
      const body = server.requests[0]?.body as {
        response_format: {
          type: string
          json_schema: {
            name: string
            strict: boolean
            schema: { required: Array<string>; additionalProperties: boolean }
          }
        }
      }
      assert.strictEqual(body.response_format.type, "json_schema")
      assert.strictEqual(body.response_format.json_schema.name, "city")
      assert.isTrue(body.response_format.json_schema.strict)
      assert.deepStrictEqual(body.response_format.json_schema.schema.required, ["city", "population"])
      assert.isFalse(body.response_format.json_schema.schema.additionalProperties)
    }).pipe(Effect.provide(layer())))

  it.live("Anthropic: a forced tool whose input schema is the output schema; the tool call's input is the object", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "answer", toolCalls: [{ name: "city", arguments: { city: "Oslo", population: 709000 } }] })
      const out = yield* Llm.generateObject({
        model: "anthropic:claude-haiku-4-5",
        messages,
        schema: City,
        name: "city"
      })
      assert.deepStrictEqual(out.object, { city: "Oslo", population: 709000 })
      assert.strictEqual(out.mode, "tool")
      const body = server.requests[0]?.body as {
        tools: Array<{ name: string; input_schema: { type: string } }>
        tool_choice: unknown
      }
      assert.strictEqual(server.requests[0]?.path, "/v1/messages")
      assert.deepStrictEqual(body.tool_choice, { type: "tool", name: "city" })
      assert.strictEqual(body.tools[0]?.name, "city")
      assert.strictEqual(body.tools[0]?.input_schema.type, "object")
    }).pipe(Effect.provide(layer())))

  it.live("a reply that does not decode is sent back for repair (the path named); usage is summed", () =>
    Effect.gen(function*() {
      server.enqueue(
        { kind: "answer", text: `{"city":42,"population":null}` },
        { kind: "answer", text: "```json\n{\"city\":\"Oslo\",\"population\":null}\n```" }
      )
      const out = yield* Llm.generateObject({ model: "openai:gpt-4o-mini", messages, schema: City })
      assert.strictEqual(out.repairs, 1)
      assert.deepStrictEqual(out.object, { city: "Oslo" })
      const second = server.requests[1]?.body as { messages: Array<{ role: string; content: string }> }
      assert.deepStrictEqual(second.messages.map((m) => m.role), ["user", "assistant", "user"])
      assert.include(second.messages[2]?.content, "at city")
      assert.strictEqual(out.usage.totalTokens, out.result.usage.totalTokens * 2)
    }).pipe(Effect.provide(layer())))

  it.live("tool mode repairs through a tool error; still bad after the repairs: InvalidObjectOutput with the path", () =>
    Effect.gen(function*() {
      server.defaultReply = {
        kind: "answer",
        toolCalls: [{ name: "output", arguments: { city: ["not", "a", "string"] } }]
      }
      const error = yield* Effect.flip(
        Llm.generateObject({ model: "anthropic:claude-haiku-4-5", messages, schema: City, repairs: 1 })
      )
      assert.strictEqual(error._tag, "InvalidObjectOutput")
      assert.strictEqual(error._tag === "InvalidObjectOutput" ? error.path : "", "city")
      assert.strictEqual(server.requests.length, 2)
      const second = server.requests[1]?.body as {
        messages: Array<{ role: string; content: Array<{ type: string; is_error?: boolean }> }>
      }
      assert.deepStrictEqual(second.messages.at(-1)?.content.map((c) => [c.type, c.is_error]), [["tool_result", true]])
    }).pipe(Effect.provide(layer())))

  it("auto picks the tool mode for anthropic: models with an object schema, json_schema otherwise", () => {
    assert.strictEqual(resolveMode("auto", "anthropic:claude", { type: "object" }), "tool")
    assert.strictEqual(resolveMode("auto", "openai:gpt-4o", { type: "object" }), "json_schema")
    assert.strictEqual(resolveMode("tool", "openai:gpt-4o", { type: "array" }), "json_schema")
  })
})

/** A scripted model replying `texts` in turn (the last one from then on), counting its calls. */
const replying = (texts: ReadonlyArray<string>) => {
  const calls: Array<ReadonlyArray<{ readonly role: string; readonly content?: unknown }>> = []
  const provider = ScriptedProvider.makeUnsafe({
    name: "primary",
    fallback: (request) => {
      calls.push(request.messages)
      return { text: texts[Math.min(calls.length - 1, texts.length - 1)] ?? "" }
    }
  })
  return { provider, calls }
}

describe("Llm.generateObject: paths, codecs and options", () => {
  it.effect("the path of a bad field is the project's path format from the issue tree: items[1].n, also in the repair message", () => {
    const model = replying([`{"items":[{"n":1},{"n":"x"}]}`])
    const Items = Schema.Struct({ items: Schema.Array(Schema.Struct({ n: Schema.Finite })) })
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Llm.generateObject({ model: "fast", messages, schema: Items, repairs: 1 }))
      assert.strictEqual(e._tag, "InvalidObjectOutput")
      assert.strictEqual(e._tag === "InvalidObjectOutput" ? e.path : "", "items[1].n")
      const repair = model.calls[1]?.at(-1)?.content
      assert.include(String(repair), "at items[1].n:")
    }).pipe(Effect.provide(pipelineLayer([model.provider], { cache: false })))
  })

  it.effect("the path of a bad field names a key containing ] whole", () => {
    const model = replying([`{"a]b":"x"}`])
    return Effect.gen(function*() {
      const e = yield* Effect.flip(
        Llm.generateObject({ model: "fast", messages, schema: Schema.Struct({ "a]b": Schema.Finite }), repairs: 0 })
      )
      assert.strictEqual(e._tag === "InvalidObjectOutput" ? e.path : "", "a]b")
    }).pipe(Effect.provide(pipelineLayer([model.provider], { cache: false })))
  })

  interface Tree {
    readonly c: ReadonlyArray<Tree>
  }
  const Tree: Schema.Codec<Tree> = Schema.Struct({ c: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree)) })

  it.effect("only the chosen mode's codec is built: json_schema mode decodes a recursive schema", () => {
    const model = replying([`{"c":[{"c":[]}]}`])
    return Effect.gen(function*() {
      for (const mode of ["json_schema", "auto"] as const) {
        const out = yield* Llm.generateObject({ model: "fast", mode, messages, schema: Tree, repairs: 0 })
        assert.deepStrictEqual([out.mode, out.object], ["json_schema", { c: [{ c: [] }] }])
      }
    }).pipe(Effect.provide(pipelineLayer([model.provider], { cache: false })))
  })

  it.effect("a schema the chosen mode's codec cannot express fails with InvalidObjectOutput at schema before any call, never a defect", () => {
    const model = replying([`{"c":[]}`])
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(Llm.generateObject({ model: "fast", mode: "tool", messages, schema: Tree }))
      assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), "a typed failure, not a defect")
      const e = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
      assert.deepInclude(e, { _tag: "InvalidObjectOutput", path: "schema" })
      assert.include(e?._tag === "InvalidObjectOutput" ? e.detail : "", "Recursive")
      assert.strictEqual(model.calls.length, 0)
    }).pipe(Effect.provide(pipelineLayer([model.provider], { cache: false })))
  })

  it.effect("repairs is an integer from 0 to 10: NaN, -1, 1.5 and 11 fail with InvalidObjectOutput at repairs before any call", () => {
    const model = replying(["not json"])
    const N = Schema.Struct({ n: Schema.Finite })
    return Effect.gen(function*() {
      for (const repairs of [Number.NaN, -1, 1.5, 11, Number.POSITIVE_INFINITY]) {
        const e = yield* Effect.flip(Llm.generateObject({ model: "fast", messages, schema: N, repairs }))
        assert.deepInclude(e, { _tag: "InvalidObjectOutput", path: "repairs" }, `repairs: ${repairs}`)
      }
      assert.strictEqual(model.calls.length, 0)
      const e = yield* Effect.flip(Llm.generateObject({ model: "fast", messages, schema: N, repairs: 10 }))
      assert.deepInclude(e, { _tag: "InvalidObjectOutput", repairs: 10 })
      assert.strictEqual(model.calls.length, 11)
    }).pipe(Effect.provide(pipelineLayer([model.provider], { cache: false })))
  })
})

describe("Llm.generateObject (fuzz)", () => {
  it.effect("any model reply: the decoded object or InvalidObjectOutput, never a defect", () => {
    const replies = fc.sample(fc.oneof(fc.json(), fc.string(), fc.constant(`{"city":"Oslo"}`)), {
      numRuns: 100,
      seed: 3
    })
    let i = 0
    const scripted = ScriptedProvider.makeUnsafe({
      name: "primary",
      fallback: () => ({ text: replies[i++ % replies.length] ?? "" })
    })
    return Effect.gen(function*() {
      for (let n = 0; n < replies.length; n++) {
        const exit = yield* Effect.exit(Llm.generateObject({ model: "fast", messages, schema: City, repairs: 0 }))
        if (exit._tag === "Failure") {
          const reason = exit.cause.reasons[0]
          assert.strictEqual(
            reason?._tag === "Fail" ? (reason.error as { _tag: string })._tag : reason?._tag,
            "InvalidObjectOutput"
          )
        } else assert.isString(exit.value.object.city)
      }
    }).pipe(Effect.provide(pipelineLayer([scripted], { rateLimit: false, cache: false })))
  })
})

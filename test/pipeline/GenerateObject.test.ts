/**
 * `Llm.generateObject` over the real HTTP providers against the loopback fake server: the native modes on the wire
 * (OpenAI `json_schema` with `strict`, Anthropic tool-forced output), decoding, repair, and the typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
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

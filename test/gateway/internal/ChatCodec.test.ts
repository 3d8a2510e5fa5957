/**
 * ChunkEncoder: stream parts into OpenAI `chat.completion.chunk`s, read back by the official `openai` SDK's own
 * stream accumulator (`ChatCompletionStream`) as the oracle.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChatCompletionStream } from "openai/lib/ChatCompletionStream"
import { ChunkEncoder, endUserOf, toLlmCall, wirePaths } from "../../../src/gateway/internal/ChatCodec.ts"
import type { ChatCompletionRequest } from "../../../src/gateway/OpenAiSchema.ts"
import type { LlmStreamPart } from "../../../src/llm/index.ts"

/** The SDK's final completion from the encoder's chunks (newline-delimited JSON, as the SDK's readable stream). */
const sdkReading = (parts: ReadonlyArray<LlmStreamPart>) => {
  const encoder = new ChunkEncoder("chatcmpl-t", 1_764_633_600, "fast", false)
  const chunks = [encoder.first(), ...parts.flatMap((p) => encoder.encode(p))]
  const bytes = new TextEncoder().encode(chunks.map((c) => `${c}\n`).join(""))
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes)
      controller.close()
    }
  })
  return ChatCompletionStream.fromReadableStream(body).finalChatCompletion()
}

const finish: LlmStreamPart = {
  _tag: "Finish",
  provider: "openai",
  model: "fast",
  finishReason: "tool-calls",
  usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
}

describe("ChunkEncoder", () => {
  it("a tool call whose provider id came after it started is sent with that id (the SDK takes any delta's id)", async () => {
    const completion = await sdkReading([
      { _tag: "ToolCallStart", index: 0, id: "call_0", name: "get_weather" },
      { _tag: "ToolCallDelta", index: 0, id: "call_late", argumentsDelta: "{\"city\":\"Oslo\"}" },
      { _tag: "ToolCall", index: 0, toolCall: { id: "call_late", name: "get_weather", arguments: { city: "Oslo" } } },
      finish
    ])
    const call = completion.choices[0]?.message.tool_calls?.[0]
    expect(call?.id).toBe("call_late")
    expect(call?.type === "function" ? call.function : undefined).toEqual({
      name: "get_weather",
      arguments: "{\"city\":\"Oslo\"}"
    })
  })

  it("a tool call started with its id is not sent again", async () => {
    const encoder = new ChunkEncoder("chatcmpl-t", 0, "fast", false)
    encoder.encode({ _tag: "ToolCallStart", index: 0, id: "call_a", name: "f" })
    encoder.encode({ _tag: "ToolCallDelta", index: 0, id: "call_a", argumentsDelta: "{}" })
    expect(encoder.encode({ _tag: "ToolCall", index: 0, toolCall: { id: "call_a", name: "f", arguments: {} } }))
      .toEqual([])
    const completion = await sdkReading([
      { _tag: "ToolCallStart", index: 0, id: "call_a", name: "f" },
      { _tag: "ToolCallDelta", index: 0, id: "call_a", argumentsDelta: "{}" },
      { _tag: "ToolCall", index: 0, toolCall: { id: "call_a", name: "f", arguments: {} } },
      finish
    ])
    expect(completion.choices[0]?.message.tool_calls?.[0]?.id).toBe("call_a")
  })
})

describe("toLlmCall: the caller's identity", () => {
  const request = (user?: string): ChatCompletionRequest => ({
    model: "fast",
    messages: [{ role: "user", content: "hi" }],
    ...(user !== undefined ? { user } : {})
  })
  const optionsOf = (call: ReturnType<typeof toLlmCall>) => ("options" in call ? call.options : undefined)

  it("the call's user (the guard's key scope, the budget principal) is the authenticated caller, never the body's user field", () => {
    const issued = toLlmCall(request("lenient"), {
      id: "key:k1",
      tenant: "acme",
      principal: "alice",
      budgets: ["key:k1"]
    })
    expect(optionsOf(issued)).toEqual({ user: "alice", tenant: "acme", subject: "alice", budgets: ["key:k1"] })
    expect(optionsOf(toLlmCall(request("John Smith"), { id: "key:0123456789ab" }))).toEqual({
      user: "key:0123456789ab"
    })
    expect(optionsOf(toLlmCall(request("admin"), { id: "anonymous" }))).toBeUndefined()
  })
})

describe("wirePaths", () => {
  it("names the wire's field for a path of the call; a path the gateway sets itself names none", () => {
    const { param } = wirePaths({
      model: "fast",
      messages: [{ role: "user", content: "hi" }],
      max_completion_tokens: 10,
      stop: "\n",
      response_format: { type: "json_schema", json_schema: { name: "n" } }
    })
    expect([
      "toolChoice.tool",
      "toolChoice",
      "messages[1].toolCalls[0].name",
      "messages[1].toolCalls[0].id",
      "messages[2].toolCallId",
      "messages[0].content",
      "tools[0].name",
      "tools[0].parameters.type",
      "params.topP",
      "params.maxTokens",
      "params.stop[0]",
      "responseFormat.name",
      "model",
      "options.user",
      "options.tenant"
    ].map(param)).toEqual([
      "tool_choice.function.name",
      "tool_choice",
      "messages[1].tool_calls[0].function.name",
      "messages[1].tool_calls[0].id",
      "messages[2].tool_call_id",
      "messages[0].content",
      "tools[0].function.name",
      "tools[0].function.parameters.type",
      "top_p",
      "max_completion_tokens",
      "stop",
      "response_format.json_schema.name",
      "model",
      undefined,
      undefined
    ])
  })
})

describe("endUserOf", () => {
  it("the body's user field is kept only as bounded metadata: at most 128 characters, control characters dropped", () => {
    const of = (user: string | null | undefined) =>
      endUserOf({ model: "fast", messages: [{ role: "user", content: "hi" }], ...(user !== undefined ? { user } : {}) })
    expect(of("John Smith")).toBe("John Smith")
    expect(of("a\nb\u0000c\u007f")).toBe("abc")
    expect(Array.from(of("ユ".repeat(500)) ?? "")).toHaveLength(128)
    expect([of(""), of(null), of(undefined), of("\n\t")]).toEqual([undefined, undefined, undefined, undefined])
  })
})

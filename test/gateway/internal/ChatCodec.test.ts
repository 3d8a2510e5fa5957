/**
 * ChunkEncoder: stream parts into OpenAI `chat.completion.chunk`s, read back by the official `openai` SDK's own
 * stream accumulator (`ChatCompletionStream`) as the oracle.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChatCompletionStream } from "openai/lib/ChatCompletionStream"
import { ChunkEncoder } from "../../../src/gateway/internal/ChatCodec.ts"
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

/**
 * The OpenAI wire Schemas as the gateway decodes them: a bad field's 400 names its wire path (OpenAI's `param`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { fromSchemaIssue } from "../../src/gateway/index.ts"
import { ChatCompletionRequest } from "../../src/gateway/OpenAiSchema.ts"

/** The `param` of the 400 a body gets (`undefined` when it decodes). */
const paramOf = (body: unknown): string | null | undefined => {
  const decoded = Schema.decodeUnknownResult(ChatCompletionRequest)(body, { errors: "all" })
  return Result.isSuccess(decoded) ? undefined : fromSchemaIssue(decoded.failure.issue).param
}
const user = (content: unknown) => ({ model: "fast", messages: [{ role: "user", content }] })

describe("OpenAiSchema: the param of a refused chat body", () => {
  it("a content part that is not text is refused naming the part (messages[i].content[j].type), not the role", () => {
    expect(paramOf(user([{ type: "image_url", image_url: { url: "https://x/y.png" } }])))
      .toBe("messages[0].content[0].type")
    expect(paramOf({
      model: "fast",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "input_audio", input_audio: {} }] }
      ]
    })).toBe("messages[1].content[1].type")
    expect(paramOf({
      model: "fast",
      messages: [{ role: "user", content: "hi" }, { role: "tool", content: "r" }]
    })).toBe("messages[1].tool_call_id")
  })

  it("an empty messages array is refused naming messages; an unknown or missing role names messages[i].role", () => {
    expect(paramOf({ model: "fast", messages: [] })).toBe("messages")
    expect(paramOf({ model: "fast", messages: [{ role: "robot", content: "x" }] })).toBe("messages[0].role")
    expect(paramOf({ model: "fast", messages: [{ role: "user", content: "x" }, { content: "x" }] }))
      .toBe("messages[1].role")
  })

  it("every role of the wire still decodes, developer messages included", () => {
    expect(paramOf({
      model: "fast",
      messages: [
        { role: "developer", content: "d" },
        { role: "system", content: [{ type: "text", text: "s" }] },
        { role: "user", content: "u", name: "bob" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "r" }
      ]
    })).toBeUndefined()
  })
})

/**
 * The rules of parsing a model's tool-call arguments (src/llm/LlmResponse.ts `parseToolArguments`).
 */
import { describe, expect, it } from "@effect/vitest"
import { MAX_TOOL_ARGUMENT_DEPTH, parseToolArguments } from "../../src/llm/LlmResponse.ts"

describe("parseToolArguments", () => {
  it("tool-call arguments nested deeper than 128 levels are kept as their text, like arguments that are not JSON", () => {
    expect(MAX_TOOL_ARGUMENT_DEPTH).toBe(128)
    const nested = (depth: number): string => "{\"a\":[".repeat(depth / 2) + "1" + "]}".repeat(depth / 2)
    expect(parseToolArguments(nested(128))).toStrictEqual(JSON.parse(nested(128)))
    expect(parseToolArguments(nested(130))).toBe(nested(130))
    const deep = "[".repeat(100_000) + "]".repeat(100_000)
    expect(parseToolArguments(deep)).toBe(deep)
    // brackets inside strings are text, not nesting
    const quoted = JSON.stringify({ s: "[[[[\\\"{{{{".repeat(100) })
    expect(parseToolArguments(quoted)).toStrictEqual(JSON.parse(quoted))
    expect(parseToolArguments("not json")).toBe("not json")
    expect(parseToolArguments("  ")).toStrictEqual({})
  })
})

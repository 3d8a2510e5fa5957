/**
 * Wire fixtures of misbehaving servers (a buggy or replaying proxy), in the shapes the providers document but in an
 * order they do not promise; like `WireFixtures.ts`, troupe's own and invented. The oracle test replays them too:
 * troupe must read what the official SDK reads.
 */
import type { WireFixture } from "./WireFixtures.ts"

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" }

const named = (payload: { readonly type: string }): string =>
  `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`

/** Fixtures of misbehaving servers. */
export const hostileFixtures: ReadonlyArray<WireFixture> = [
  {
    name: "anthropic stream: a content_block_start repeating an open tool_use index completes that call first",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types (an index started twice)",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: [
      {
        type: "message_start",
        message: {
          id: "msg_fx9",
          type: "message",
          role: "assistant",
          model: "claude-sonnet-4-5-20250929",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 }
        }
      },
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: "toolu_fxA", name: "get_weather", input: {} }
      },
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: "toolu_fxB", name: "get_time", input: {} }
      },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 5 } },
      { type: "message_stop" }
    ].map(named).join(""),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [
        { id: "toolu_fxA", name: "get_weather", arguments: {} },
        { id: "toolu_fxB", name: "get_time", arguments: {} }
      ],
      finishReason: "tool-calls",
      usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 }
    }
  }
]

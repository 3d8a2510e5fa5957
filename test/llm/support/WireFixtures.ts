/**
 * troupe's own wire fixtures: provider answers written by hand in the shapes the providers document (each names its
 * documentation page), replayed byte for byte by the fake server. Nothing here was copied from a recording or from
 * another project; ids, texts and counts are invented.
 *
 * `expect` is what troupe must read from the bytes; the oracle test checks that the official SDK reads the same.
 */
import type { FinishReason, ToolCall, Usage } from "../../../src/llm/index.ts"
import { hostileFixtures } from "./WireFixturesHostile.ts"

/** What a fixture's bytes mean. */
export type Expected =
  | {
    readonly _tag: "answer"
    readonly text: string
    readonly toolCalls: ReadonlyArray<ToolCall>
    readonly finishReason: FinishReason
    readonly usage: Usage
    /** The SDK's arguments of a cut tool call are a partial-JSON guess; compare ids and names only. */
    readonly argumentsComparable?: false
  }
  | { readonly _tag: "error"; readonly errorTag: string; readonly messageIncludes: string; readonly retryable: boolean }

/** One fixture. */
export interface WireFixture {
  readonly name: string
  /** The documentation page the shape follows. */
  readonly doc: string
  readonly wire: "openai" | "anthropic"
  readonly stream: boolean
  readonly headers?: Readonly<Record<string, string>>
  readonly body: string
  /** Send the body gzip-encoded (`content-encoding: gzip`). */
  readonly gzip?: boolean
  readonly expect: Expected
}

const sse = (...events: ReadonlyArray<string>): string => events.map((e) => `${e}\n\n`).join("")
const data = (payload: unknown): string => `data: ${JSON.stringify(payload)}`
const named = (payload: { readonly type: string }): string => `event: ${payload.type}\n${data(payload)}`

const chunk = (delta: unknown, finish: string | null = null) => ({
  id: "chatcmpl-fx1",
  object: "chat.completion.chunk",
  created: 1764633600,
  model: "gpt-4o-mini-2024-07-18",
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
})

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" }
const JSON_HEADERS = { "content-type": "application/json" }

const UNICODE = "Grüße aus 東京 — 🌧️ kalt, ½ °C."

/** OpenAI chat-completions fixtures. */
const openai: ReadonlyArray<WireFixture> = [
  {
    name: "openai stream: multi-byte text, keep-alive comment, retry: field, usage chunk with choices: [] and details",
    doc: "https://platform.openai.com/docs/api-reference/chat-streaming/streaming; " +
      "https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation (retry, comments)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      "retry: 3000",
      ": keep-alive",
      data(chunk({ role: "assistant", content: "", refusal: null })),
      data(chunk({ content: "Grüße aus " })),
      data(chunk({ content: "東京 — 🌧️" })),
      data(chunk({ content: " kalt, ½ °C." })),
      data(chunk({}, "stop")),
      data({
        id: "chatcmpl-fx1",
        object: "chat.completion.chunk",
        created: 1764633600,
        model: "gpt-4o-mini-2024-07-18",
        choices: [],
        usage: {
          prompt_tokens: 1200,
          completion_tokens: 90,
          total_tokens: 1290,
          prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 64, audio_tokens: 0 }
        }
      }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: UNICODE,
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 1200, outputTokens: 90, totalTokens: 1290, cachedInputTokens: 1024, reasoningTokens: 64 }
    }
  },
  {
    name: "openai stream: two tool calls, arguments split across chunks",
    doc: "https://platform.openai.com/docs/guides/function-calling#streaming",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: null })),
      data(chunk({
        tool_calls: [{ index: 0, id: "call_fxA", type: "function", function: { name: "get_weather", arguments: "" } }]
      })),
      data(chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"ci" } }] })),
      data(chunk({ tool_calls: [{ index: 0, function: { arguments: "ty\":\"Zürich\"}" } }] })),
      data(chunk({
        tool_calls: [{ index: 1, id: "call_fxB", type: "function", function: { name: "get_time", arguments: "" } }]
      })),
      data(chunk({ tool_calls: [{ index: 1, function: { arguments: "{\"tz\":\"Asia/Tokyo\"}" } }] })),
      data(chunk({}, "tool_calls")),
      data({ ...chunk({}), choices: [], usage: { prompt_tokens: 80, completion_tokens: 40, total_tokens: 120 } }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [
        { id: "call_fxA", name: "get_weather", arguments: { city: "Zürich" } },
        { id: "call_fxB", name: "get_time", arguments: { tz: "Asia/Tokyo" } }
      ],
      finishReason: "tool-calls",
      usage: { inputTokens: 80, outputTokens: 40, totalTokens: 120 }
    }
  },
  {
    name: "openai stream: a tool call cut by max_tokens (finish_reason length) completes with its raw arguments",
    doc: "https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices (finish_reason length)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({
        role: "assistant",
        tool_calls: [{ index: 0, id: "call_fxC", type: "function", function: { name: "get_weather", arguments: "" } }]
      })),
      data(chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"city\":\"Os" } }] })),
      data(chunk({}, "length")),
      data({ ...chunk({}), choices: [], usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 } }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [{ id: "call_fxC", name: "get_weather", arguments: "{\"city\":\"Os" }],
      finishReason: "length",
      usage: { inputTokens: 30, outputTokens: 8, totalTokens: 38 }
    }
  },
  {
    name: "openai-compatible stream: a flat event: error fails the stream with its message",
    doc:
      "https://openrouter.ai/docs/api-reference/errors#error-during-streaming; the openai SDK throws on event: error",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Par" })),
      `event: error\n${data({ message: "upstream provider overloaded", code: 502 })}`
    ),
    expect: {
      _tag: "error",
      errorTag: "ProviderServerError",
      messageIncludes: "upstream provider overloaded",
      retryable: true
    }
  },
  {
    name:
      "openai-compatible stream: chunks whose error is \"\", null, 0 or false are read as chunks (falsy: the SDK ignores it)",
    doc: "openai SDK core/streaming.js Stream.fromSSEResponse: `if (data && data.error) throw` (truthy only); " +
      "https://platform.openai.com/docs/api-reference/chat-streaming/streaming",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data({ ...chunk({ role: "assistant", content: "" }), error: null }),
      data({ ...chunk({ content: "Grüße, " }), error: "" }),
      data({ ...chunk({ content: "東京" }), error: 0 }),
      data({ ...chunk({}, "stop"), error: false }),
      data({
        ...chunk({}),
        choices: [],
        usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 },
        error: ""
      }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: "Grüße, 東京",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 4, outputTokens: 3, totalTokens: 7 }
    }
  },
  {
    name: "openai-compatible stream: a chunk whose error is an object fails the stream with its message",
    doc: "openai SDK core/streaming.js: a truthy `error` member throws APIError(error); " +
      "https://platform.openai.com/docs/guides/error-codes (server_error)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Par" })),
      data({ error: { message: "The server had an error while processing your request.", type: "server_error" } })
    ),
    expect: {
      _tag: "error",
      errorTag: "ProviderServerError",
      messageIncludes: "The server had an error while processing your request.",
      retryable: true
    }
  },
  {
    name: "openai-compatible stream: a truthy error is read before the chunk's shape (an error chunk of a proxy)",
    doc: "openai SDK core/streaming.js throws on `data.error` before the chunk reaches ChatCompletionStream",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Par" })),
      data({ choices: { reason: "upstream" }, error: { message: "upstream quota exhausted", code: 503 } })
    ),
    expect: {
      _tag: "error",
      // a numeric code names the HTTP status (OpenRouter's errors): a 503 is overloaded, as over HTTP
      errorTag: "ProviderOverloaded",
      messageIncludes: "upstream quota exhausted",
      retryable: true
    }
  },
  {
    name: "openai-compatible stream: a chunk whose error is a non-empty string fails the stream with it",
    doc: "openai SDK core/streaming.js: any truthy `error` throws (APIError.makeMessage JSON-quotes a string)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Par" })),
      data({ ...chunk({ content: "tial" }), error: "upstream connection reset" })
    ),
    expect: {
      _tag: "error",
      errorTag: "ProviderServerError",
      messageIncludes: "upstream connection reset",
      retryable: true
    }
  },
  {
    name: "openai-compatible stream: a chunk whose error is {} fails the stream (an empty object is truthy)",
    doc: "openai SDK core/streaming.js: `data.error` is `{}`, truthy, so it throws (its message is `{}`; troupe's " +
      "names the error event: only that both fail is compared)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Par" })),
      data({ ...chunk({}, "stop"), error: {} })
    ),
    expect: { _tag: "error", errorTag: "ProviderServerError", messageIncludes: "", retryable: true }
  },
  {
    name: "openai-compatible stream: [DONE] before any finish_reason is an incomplete answer, not a stop",
    doc:
      "the openai SDK's finalChatCompletion throws \"missing finish_reason for choice 0\" (a proxy ending a cut stream)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "The answer is" })),
      "data: [DONE]"
    ),
    expect: { _tag: "error", errorTag: "ProviderConnectionError", messageIncludes: "finish_reason", retryable: true }
  },
  {
    name: "openai-compatible stream: the last event without its blank line is still read, as the SDK flushes it",
    doc: "openai SDK _iterSSEMessages flushes the pending event at the end (servers sometimes omit the blank line)",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "Hi" })),
      data(chunk({}, "stop"))
    ) + data({ ...chunk({}), choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }),
    expect: {
      _tag: "answer",
      text: "Hi",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }
    }
  },
  {
    name: "openai-compatible stream: a tool call's id arriving after its first delta is the call's id",
    doc: "openai SDK ChatCompletionStream sets tool_call.id from every delta that has one",
    wire: "openai",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      data(
        chunk({
          role: "assistant",
          tool_calls: [{ index: 0, type: "function", function: { name: "get_weather", arguments: "" } }]
        })
      ),
      data(chunk({ tool_calls: [{ index: 0, id: "call_late", function: { arguments: "{\"city\":\"Oslo\"}" } }] })),
      data(chunk({}, "tool_calls")),
      data({ ...chunk({}), choices: [], usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 } }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [{ id: "call_late", name: "get_weather", arguments: { city: "Oslo" } }],
      finishReason: "tool-calls",
      usage: { inputTokens: 9, outputTokens: 6, totalTokens: 15 }
    }
  },
  {
    name: "openai JSON: choices: [] is an empty answer, not a malformed one",
    doc: "https://platform.openai.com/docs/api-reference/chat/object (choices is a list)",
    wire: "openai",
    stream: false,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "chatcmpl-fx2",
      object: "chat.completion",
      created: 1764633600,
      model: "gpt-4o-mini",
      choices: [],
      usage: { prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 }
    }),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [],
      finishReason: "other",
      usage: { inputTokens: 9, outputTokens: 0, totalTokens: 9 }
    }
  },
  {
    name: "openrouter JSON: finish_reason error is error",
    doc: "https://openrouter.ai/docs/api-reference/overview#finish-reason",
    wire: "openai",
    stream: false,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "gen-fx3",
      object: "chat.completion",
      created: 1764633600,
      model: "mistralai/mistral-small",
      choices: [{ index: 0, message: { role: "assistant", content: "Half an ans" }, finish_reason: "error" }],
      usage: { prompt_tokens: 14, completion_tokens: 4, total_tokens: 18 }
    }),
    expect: {
      _tag: "answer",
      text: "Half an ans",
      toolCalls: [],
      finishReason: "error",
      usage: { inputTokens: 14, outputTokens: 4, totalTokens: 18 }
    }
  },
  {
    name: "xai JSON: total_tokens and reasoning_tokens are read, not recomputed (560, not 333)",
    doc: "https://docs.x.ai/docs/guides/reasoning (usage.completion_tokens_details.reasoning_tokens)",
    wire: "openai",
    stream: false,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "fx4",
      object: "chat.completion",
      created: 1764633600,
      model: "grok-3-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "42", refusal: null }, finish_reason: "stop" }],
      usage: {
        prompt_tokens: 213,
        completion_tokens: 120,
        total_tokens: 560,
        prompt_tokens_details: { text_tokens: 213, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 227, audio_tokens: 0 }
      }
    }),
    expect: {
      _tag: "answer",
      text: "42",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 213, outputTokens: 120, totalTokens: 560, reasoningTokens: 227 }
    }
  },
  {
    name: "openai JSON, gzip-encoded",
    doc: "https://platform.openai.com/docs/api-reference/chat/object; RFC 9110 §8.4 (Content-Encoding: gzip)",
    wire: "openai",
    stream: false,
    gzip: true,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "chatcmpl-fx5",
      object: "chat.completion",
      created: 1764633600,
      model: "gpt-4o-mini",
      choices: [{ index: 0, message: { role: "assistant", content: UNICODE }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 15, total_tokens: 20 }
    }),
    expect: {
      _tag: "answer",
      text: UNICODE,
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 5, outputTokens: 15, totalTokens: 20 }
    }
  },
  {
    name: "openai stream, gzip-encoded",
    doc: "https://platform.openai.com/docs/api-reference/chat-streaming; RFC 9110 §8.4 (Content-Encoding: gzip)",
    wire: "openai",
    stream: true,
    gzip: true,
    headers: SSE_HEADERS,
    body: sse(
      data(chunk({ role: "assistant", content: "" })),
      data(chunk({ content: UNICODE })),
      data(chunk({}, "stop")),
      data({ ...chunk({}), choices: [], usage: { prompt_tokens: 5, completion_tokens: 15, total_tokens: 20 } }),
      "data: [DONE]"
    ),
    expect: {
      _tag: "answer",
      text: UNICODE,
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 5, outputTokens: 15, totalTokens: 20 }
    }
  }
]

const messageStart = (usage: Record<string, number>) => ({
  type: "message_start",
  message: {
    id: "msg_fx1",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage
  }
})

/** Anthropic Messages fixtures. */
const anthropic: ReadonlyArray<WireFixture> = [
  {
    name:
      "anthropic stream: retry: field, multi-byte text, cache read and write usage, a partial cumulative message_delta usage",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types; " +
      "https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      "retry: 2500",
      named(
        messageStart({
          input_tokens: 12,
          cache_creation_input_tokens: 2048,
          cache_read_input_tokens: 4096,
          output_tokens: 1
        })
      ),
      named({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } as { type: string }),
      named({ type: "ping" }),
      named(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Grüße aus 東京" } } as {
          type: string
        }
      ),
      named(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " — 🌧️ kalt, ½ °C." } } as {
          type: string
        }
      ),
      named({ type: "content_block_stop", index: 0 } as { type: string }),
      named(
        {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: 42 }
        } as { type: string }
      ),
      named({ type: "message_stop" })
    ),
    expect: {
      _tag: "answer",
      text: UNICODE,
      toolCalls: [],
      finishReason: "stop",
      usage: {
        inputTokens: 6156,
        outputTokens: 42,
        totalTokens: 6198,
        cachedInputTokens: 4096,
        cacheWriteInputTokens: 2048
      }
    }
  },
  {
    name: "anthropic stream: text then tool_use with input_json_delta",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/streaming#streaming-request-with-tool-use",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      named(messageStart({ input_tokens: 400, output_tokens: 2 })),
      named({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } as { type: string }),
      named(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Checking." } } as { type: string }
      ),
      named({ type: "content_block_stop", index: 0 } as { type: string }),
      named({
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_fxA", name: "get_weather", input: {} }
      } as { type: string }),
      named(
        { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "" } } as {
          type: string
        }
      ),
      named(
        {
          type: "content_block_delta",
          index: 1,
          delta: { type: "input_json_delta", partial_json: "{\"city\": \"Zü" }
        } as { type: string }
      ),
      named(
        { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "rich\"}" } } as {
          type: string
        }
      ),
      named({ type: "content_block_stop", index: 1 } as { type: string }),
      named(
        {
          type: "message_delta",
          delta: { stop_reason: "tool_use", stop_sequence: null },
          usage: { output_tokens: 55 }
        } as { type: string }
      ),
      named({ type: "message_stop" })
    ),
    expect: {
      _tag: "answer",
      text: "Checking.",
      toolCalls: [{ id: "toolu_fxA", name: "get_weather", arguments: { city: "Zürich" } }],
      finishReason: "tool-calls",
      usage: { inputTokens: 400, outputTokens: 55, totalTokens: 455 }
    }
  },
  {
    name: "anthropic stream: a tool_use cut by max_tokens (no content_block_stop) still completes",
    doc: "https://docs.anthropic.com/en/api/handling-stop-reasons#max-tokens",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      named(messageStart({ input_tokens: 50, output_tokens: 1 })),
      named({
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: "toolu_fxB", name: "get_weather", input: {} }
      } as { type: string }),
      named(
        {
          type: "content_block_delta",
          index: 0,
          delta: { type: "input_json_delta", partial_json: "{\"city\": \"Os" }
        } as { type: string }
      ),
      named(
        {
          type: "message_delta",
          delta: { stop_reason: "max_tokens", stop_sequence: null },
          usage: { output_tokens: 16 }
        } as { type: string }
      ),
      named({ type: "message_stop" })
    ),
    expect: {
      _tag: "answer",
      text: "",
      toolCalls: [{ id: "toolu_fxB", name: "get_weather", arguments: "{\"city\": \"Os" }],
      finishReason: "length",
      usage: { inputTokens: 50, outputTokens: 16, totalTokens: 66 },
      argumentsComparable: false
    }
  },
  {
    name: "anthropic stream: an overloaded_error event fails the stream",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      named(messageStart({ input_tokens: 10, output_tokens: 1 })),
      named({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } } as { type: string })
    ),
    expect: { _tag: "error", errorTag: "ProviderOverloaded", messageIncludes: "Overloaded", retryable: true }
  },
  {
    name: "anthropic-compatible stream: a flat event: error (no error envelope) fails the stream with its message",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events (a proxy's flat variant)",
    wire: "anthropic",
    stream: true,
    headers: SSE_HEADERS,
    body: sse(
      named(messageStart({ input_tokens: 10, output_tokens: 1 })),
      `event: error\n${data({ message: "proxy: upstream connection reset" })}`
    ),
    expect: {
      _tag: "error",
      errorTag: "ProviderServerError",
      messageIncludes: "upstream connection reset",
      retryable: true
    }
  },
  {
    name: "anthropic JSON: model_context_window_exceeded is a length stop",
    doc: "https://docs.anthropic.com/en/api/handling-stop-reasons#model-context-window-exceeded",
    wire: "anthropic",
    stream: false,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "msg_fx2",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "The list goes on: 東京, " }],
      stop_reason: "model_context_window_exceeded",
      stop_sequence: null,
      usage: { input_tokens: 199_000, output_tokens: 1000 }
    }),
    expect: {
      _tag: "answer",
      text: "The list goes on: 東京, ",
      toolCalls: [],
      finishReason: "length",
      usage: { inputTokens: 199_000, outputTokens: 1000, totalTokens: 200_000 }
    }
  },
  {
    name: "anthropic JSON: cache reads and writes kept apart",
    doc: "https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance",
    wire: "anthropic",
    stream: false,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      id: "msg_fx3",
      type: "message",
      role: "assistant",
      model: "claude-haiku-4-5",
      content: [{ type: "text", text: "Cached." }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 20, cache_creation_input_tokens: 1500, cache_read_input_tokens: 0, output_tokens: 3 }
    }),
    expect: {
      _tag: "answer",
      text: "Cached.",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 1520, outputTokens: 3, totalTokens: 1523, cacheWriteInputTokens: 1500 }
    }
  }
]

/** Every fixture. */
export const wireFixtures: ReadonlyArray<WireFixture> = [...openai, ...anthropic, ...hostileFixtures]

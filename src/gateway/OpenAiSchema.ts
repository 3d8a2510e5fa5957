/**
 * The OpenAI wire format the gateway speaks, as Schemas: the chat-completions request (plain and streamed), the
 * embeddings request, and the response shapes (for the OpenAPI document; the handlers write those bytes directly).
 *
 * Rules: the request is untrusted and decoded with these Schemas; a bad field fails with a 400 naming its path
 * (`messages[0].role`), like OpenAI's `param`: a message is checked against its role's shape only (an unknown role
 * names `messages[i].role`), an empty `messages` names `messages`. Fields the gateway does not use (`n`, `logit_bias`, `seed`, …) are
 * accepted and ignored, as LiteLLM's `drop_params`. Content may be a string or an array of text parts (other part
 * types are refused with a 400 naming the part, `messages[i].content[j].type`). `max_completion_tokens` wins over `max_tokens`; `developer`
 * messages are system messages; `response_format: json_object` asks for any JSON object.
 *
 * Mirrors the OpenAI REST reference (chat/completions, embeddings, models) as the `openai` npm SDK sends and reads it.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"

const NonEmpty = Schema.String.check(Schema.isMinLength(1))
const Nullish = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))

/** A text content part. */
export const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })

/** Message content: a string or text parts. */
export const Content = Schema.Union([Schema.String, Schema.Array(TextPart)])
export type Content = typeof Content.Type

/** A tool call in an assistant message (arguments are JSON text). */
export const WireToolCall = Schema.Struct({
  id: NonEmpty,
  type: Schema.optional(Schema.Literal("function")),
  function: Schema.Struct({ name: NonEmpty, arguments: Schema.String })
})

/** The roles of a chat message. */
export const ChatRole = Schema.Literals(["system", "developer", "user", "assistant", "tool"])

/**
 * One chat message, discriminated by `role` (each member has one literal role, so only the member of the message's
 * role is tried and its issue is the one reported: `messages.0.content.0.type` for a part that is not text). A
 * message with no member — an unknown or missing role, or not an object — is refused at its `role`.
 */
export const ChatMessage = Schema.Union([
  Schema.Struct({ role: Schema.Literal("system"), content: Content, name: Schema.optional(Schema.String) }),
  Schema.Struct({ role: Schema.Literal("developer"), content: Content, name: Schema.optional(Schema.String) }),
  Schema.Struct({ role: Schema.Literal("user"), content: Content, name: Schema.optional(Schema.String) }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: Nullish(Content),
    tool_calls: Nullish(Schema.Array(WireToolCall)),
    name: Schema.optional(Schema.String)
  }),
  Schema.Struct({ role: Schema.Literal("tool"), content: Content, tool_call_id: NonEmpty })
]).pipe(Schema.catchDecoding((issue) =>
  Effect.fail(
    issue._tag === "AnyOf" && issue.issues.length === 0
      ? new SchemaIssue.Pointer(["role"], new SchemaIssue.InvalidType(ChatRole.ast))
      : issue
  )
))
export type ChatMessage = typeof ChatMessage.Type

/** A function tool. */
export const WireTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/)),
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Record(Schema.String, Schema.Json)),
    strict: Nullish(Schema.Boolean)
  })
})

/** `tool_choice`. */
export const WireToolChoice = Schema.Union([
  Schema.Literals(["auto", "none", "required"]),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: NonEmpty }) })
])

/** `response_format`. */
export const WireResponseFormat = Schema.Union([
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/)),
      schema: Schema.optional(Schema.Record(Schema.String, Schema.Json)),
      strict: Nullish(Schema.Boolean),
      description: Schema.optional(Schema.String)
    })
  })
])

/** `POST /v1/chat/completions` body. */
export const ChatCompletionRequest = Schema.Struct({
  model: NonEmpty,
  messages: Schema.Array(ChatMessage).check(Schema.isMinLength(1)),
  tools: Nullish(Schema.Array(WireTool)),
  tool_choice: Nullish(WireToolChoice),
  temperature: Nullish(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 }))),
  top_p: Nullish(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  max_tokens: Nullish(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  max_completion_tokens: Nullish(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  stop: Nullish(Schema.Union([NonEmpty, Schema.Array(NonEmpty).check(Schema.isMaxLength(16))])),
  stream: Nullish(Schema.Boolean),
  stream_options: Nullish(Schema.Struct({ include_usage: Schema.optional(Schema.Boolean) })),
  response_format: Nullish(WireResponseFormat),
  /** The end user as the client names it: any string, audit and telemetry metadata only (see ChatCodec). */
  user: Nullish(Schema.String)
})
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type

/** `POST /v1/embeddings` body. */
export const EmbeddingsRequest = Schema.Struct({
  model: NonEmpty,
  input: Schema.Union([
    Schema.String,
    Schema.Array(Schema.String).check(Schema.isMinLength(1), Schema.isMaxLength(2048))
  ]),
  encoding_format: Schema.optional(Schema.Literals(["float", "base64"])),
  dimensions: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8192 }))),
  user: Schema.optional(Schema.String)
})
export type EmbeddingsRequest = typeof EmbeddingsRequest.Type

const Usage = Schema.Struct({ prompt_tokens: Schema.Int, completion_tokens: Schema.Int, total_tokens: Schema.Int })

/** The plain chat-completion answer (documentation: the handler writes these bytes itself). */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    message: Schema.Struct({
      role: Schema.Literal("assistant"),
      content: Schema.NullOr(Schema.String),
      tool_calls: Schema.optional(Schema.Array(WireToolCall))
    }),
    finish_reason: Schema.String
  })),
  usage: Usage
})

/** `GET /v1/models`. */
export const ModelList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Schema.Struct({
    id: Schema.String,
    object: Schema.Literal("model"),
    created: Schema.Int,
    owned_by: Schema.String
  }))
})

/** `POST /v1/embeddings` answer. */
export const EmbeddingList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Schema.Struct({
    object: Schema.Literal("embedding"),
    index: Schema.Int,
    embedding: Schema.Union([Schema.Array(Schema.Number), Schema.String])
  })),
  model: Schema.String,
  usage: Schema.Struct({ prompt_tokens: Schema.Int, total_tokens: Schema.Int })
})

/** OpenAI's error body. */
export const ErrorBody = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.String,
    param: Schema.NullOr(Schema.String),
    code: Schema.NullOr(Schema.String)
  })
})

/**
 * MCP in and out: tools of an MCP server given to troupe agents, and troupe's tools served as an MCP server.
 *
 * Rules:
 * - `fromClient(client)` lists the server's tools (effect/ai's `McpClient.listTools`, bounded by its deadline and
 *   its 10,000-tool cap) and offers each as a troupe tool: its JSON Schema goes to the model as the server
 *   advertised it, the arguments go to the server unchanged (the server validates them), and a call runs as an
 *   action under the agent's `ToolRunner` (supervised, timed out, concurrency-limited). A result with `isError`
 *   and a failing call are tool errors the model sees; the text content is the tool result. Names outside the
 *   tool-name rule (`[A-Za-z_][A-Za-z0-9_.-]{0,63}`, after the optional `prefix`) are left out, never renamed.
 * - `serverLayer(tools)` serves troupe tools over MCP stdio (effect/ai's `McpServer.layerStdio` with the
 *   `Tool.toolkit` / `Tool.toolkitLayer` bridge): each call is decoded with the action's Schema and run as the action
 *   (timeout, retries); failures are returned to the client as tool errors. MCP requires an object root for every
 *   tool's parameters, so an action with an empty `Schema.Struct({})` is refused at start (effect/ai's rule).
 *   Nothing may write to stdout in the server process but the transport (a log line breaks the client's JSON).
 *
 * Reuses effect/ai's `McpClient` and `McpServer` as they are in Effect 4.1 (tested against a server process over
 * stdio in test/llmagent/Mcp.test.ts). Hand-rolled: only the mapping to troupe's `ToolDefinition`.
 */
import { type Cause, Effect, Layer, Result, Schema, type Stdio } from "effect"
import { McpClient, McpProtocol, McpServer, Tool as AiTool, type Toolkit } from "effect/ai"
import type { McpClientError, McpSchema } from "effect/ai"
import { Action, Tool } from "../agent/index.ts"
import type { ToolDefinition } from "../agent/Tool.ts"

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/

/** The text content of a tool result (non-text blocks as JSON). */
const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => (block.type === "text" ? block.text : JSON.stringify(block))).join("\n")

/** One MCP tool as a troupe tool. */
/** A tool of an MCP server: its action needs no services (the client is captured). */
type McpTool = ToolDefinition<Action.Action<string, Action.AnySchema, Action.AnySchema, unknown, never>>

const toToolDefinition = (client: McpClient.McpClient, descriptor: McpSchema.Tool, name: string): McpTool => {
  const action = Action.make({
    name,
    description: descriptor.description ?? descriptor.title ?? name,
    params: Schema.Unknown,
    output: Schema.String,
    retries: 0,
    run: (args) =>
      Effect.flatMap(
        // the MCP server validates its own arguments (its tool takes a JSON object)
        client.callTool({ tool: descriptor, arguments: (args ?? {}) as Record<string, unknown> }),
        (result) =>
          result.isError === true
            ? Effect.fail(new Error(textOf(result) || "the MCP tool reported an error"))
            : Effect.succeed(textOf(result))
      )
  })
  const ai = AiTool.dynamic(name, {
    parameters: descriptor.inputSchema,
    ...(descriptor.description !== undefined ? { description: descriptor.description } : {}),
    success: Schema.String
  }).annotate(AiTool.Strict, false)
  return {
    action,
    name,
    description: action.description,
    strict: false,
    // an MCP tool's input schema is a JSON Schema object
    parameters: descriptor.inputSchema as ToolDefinition["parameters"],
    // the MCP server validates its own arguments
    decode: (args) => Result.succeed(args),
    ai: ai as unknown as ToolDefinition["ai"] // a dynamic tool: its parameters are the server's JSON Schema
  }
}

/**
 * The tools of a connected MCP server as troupe tools (see the module doc). Fails with `McpClientError` when the
 * server's `tools/list` fails: the transport fails or is closed, the call times out, or the server answers with a
 * protocol error or an invalid result (the error's `reason` says which).
 *
 * @example
 * ```ts
 * const tools = yield* Mcp.fromClient(yield* McpClient.McpClient, { prefix: "files_" })
 * const Agent = LlmAgent.make({ name: "files", model: "fast", tools })
 * ```
 */
export const fromClient = (
  client: McpClient.McpClient,
  options: { readonly prefix?: string } = {}
): Effect.Effect<ReadonlyArray<McpTool>, McpClientError.McpClientError> =>
  Effect.map(client.listTools(), (descriptors) => {
    const out: Array<McpTool> = []
    const seen = new Set<string>()
    for (const descriptor of descriptors) {
      const name = `${options.prefix ?? ""}${descriptor.name}`
      if (!NAME.test(name) || seen.has(name)) continue
      seen.add(name)
      out.push(toToolDefinition(client, descriptor, name))
    }
    return out
  })

/** A client of an MCP server process over stdio (newline-delimited JSON-RPC), owned by the layer. */
export const clientLayerStdio = McpClient.layerStdio

/** The MCP protocol versions troupe speaks by default (the newest stateful one first). */
export const protocols = [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18] as const

/**
 * Serves troupe tools over MCP stdio: `Layer.launch` it in a process whose stdin/stdout are the transport. Declared to
 * fail with `IllegalArgumentError` as effect's `McpServer.layerStdio`, which fails so only on invalid `cacheHints`;
 * this layer passes none, so it never fails.
 *
 * @example
 * ```ts
 * Mcp.serverLayer([Tool.fromAction(Add)], { name: "calc", version: "1.0.0" }).pipe(
 *   Layer.provide(NodeServices.layer), Layer.launch, NodeRuntime.runMain)
 * ```
 */
export const serverLayer = (
  tools: ReadonlyArray<ToolDefinition>,
  options: { readonly name: string; readonly version: string }
): Layer.Layer<McpServer.McpServer, Cause.IllegalArgumentError, Stdio.Stdio> => {
  // the toolkit's tools by name: the handlers' layer provides exactly those (the types are per-tool; erased here)
  const kit = Tool.toolkit(...tools) as unknown as Toolkit.Toolkit<Record<string, AiTool.Any>>
  // as the kit above: the handlers' layer provides exactly the kit's tools
  const handlers = Tool.toolkitLayer(...tools) as unknown as Layer.Layer<AiTool.HandlersFor<Record<string, AiTool.Any>>>
  return McpServer.layerStdio({
    name: options.name,
    version: options.version,
    protocols: [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18],
    registrations: McpServer.toolkit(kit).pipe(Layer.provide(handlers))
  }) as unknown as Layer.Layer<McpServer.McpServer, Cause.IllegalArgumentError, Stdio.Stdio> // the handlers need no services: actions run with what the process provides
}

/**
 * MCP in and out against a real local MCP server process over stdio (test/llmagent/support/mcp-server.ts, troupe
 * tools served by `Mcp.serverLayer`), reached with effect/ai's `McpClient` and given to a supervised agent.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { McpClient, McpProtocol } from "effect/ai"
import { ChildProcess } from "effect/process"
import { fileURLToPath } from "node:url"
import { LlmAgent, LlmAgents, Mcp } from "../../src/llmagent/index.ts"
import { recording } from "./support.ts"

const serverScript = fileURLToPath(new URL("./support/mcp-server.ts", import.meta.url))

const client = McpClient.layerStdio({
  name: "troupe-test-client",
  version: "1.0.0",
  timeout: "20 seconds",
  command: ChildProcess.make(process.execPath, [serverScript]),
  protocol: McpProtocol.v2025_11_25
}).pipe(Layer.provide(NodeServices.layer))

// one server process for the whole file
layer(client, { timeout: 60_000, excludeTestServices: true })("MCP over stdio", (it) => {
  it.effect(
    "troupe tools served over MCP are listed, called, and failures come back as tool errors",
    () =>
      Effect.gen(function*() {
        const mcp = yield* McpClient.McpClient
        const tools = yield* Mcp.fromClient(mcp, { prefix: "calc_" })
        assert.deepStrictEqual(tools.map((t) => t.name), ["calc_add", "calc_fail_always"])
        assert.deepInclude(tools[0]?.parameters as object, { type: "object" })
        const descriptors = yield* mcp.listTools()
        const add = descriptors.find((d) => d.name === "add")
        assert.isDefined(add)
        const result = yield* mcp.callTool({ tool: add!, arguments: { a: 2, b: 40 } })
        assert.notStrictEqual(result.isError, true)
        assert.include(JSON.stringify(result.content), "42")
        const bad = yield* mcp.callTool({ tool: add!, arguments: { a: "two", b: 40 } })
        assert.isTrue(bad.isError === true || JSON.stringify(bad.content).includes("Invalid"))
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "an MCP server's tools given to a supervised agent: the model calls one through the ToolRunner",
    () =>
      Effect.gen(function*() {
        const tools = yield* Mcp.fromClient(yield* McpClient.McpClient)
        const { llm } = recording({
          rules: [
            {
              when: { lastUser: "sum" },
              reply: {
                toolCalls: [{ name: "add", arguments: { a: 20, b: 22 } }, { name: "fail_always", arguments: {} }]
              }
            },
            {
              when: { tool: "add" },
              reply: (req) => ({
                text: `results: ${req.messages.filter((m) => m.role === "tool").map((m) => m.content).join(" | ")}`
              })
            }
          ]
        })
        const Calc = LlmAgent.make({ name: "calc", model: "fast", llm, tools, memory: "none" })
        const agents = yield* LlmAgents.make({ agents: [Calc] })
        const answer = yield* agents.ask("calc:1", "sum please")
        assert.strictEqual(answer.toolCalls, 2)
        assert.include(answer.text, "42")
        assert.include(answer.text, "error")
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})

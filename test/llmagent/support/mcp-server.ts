/**
 * A local MCP server process for the tests: troupe tools (`add`, `fail_always`) served over stdio by `Mcp.serverLayer`.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { Action, Tool } from "../../../src/agent/index.ts"
import { Mcp } from "../../../src/llmagent/index.ts"

const Add = Action.make({
  name: "add",
  description: "Adds two numbers",
  params: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  run: ({ a, b }) => Effect.succeed(a + b)
})
const FailAlways = Action.make({
  name: "fail_always",
  description: "Always fails",
  params: Schema.Struct({ reason: Schema.optional(Schema.String) }),
  output: Schema.String,
  retries: 0,
  run: () => Effect.fail({ _tag: "Broken", message: "this tool always fails" })
})

Mcp.serverLayer([Tool.fromAction(Add), Tool.fromAction(FailAlways)], { name: "troupe-test-tools", version: "1.0.0" })
  .pipe(
    Layer.provide(NodeServices.layer),
    Layer.launch,
    NodeRuntime.runMain
  )

/**
 * The `troupe` executable: `npx troupe serve [--config file] [--port n]`. Runs `src/cli` under `NodeRuntime.runMain`,
 * which turns SIGTERM/SIGINT into an interruption of the program: the gateway drains, then the tree shuts down.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import * as Cli from "./Cli.ts"

Cli.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)

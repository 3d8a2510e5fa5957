/**
 * The `troupe` executable: `npx troupe serve [--config file] [--port n]`. Runs `src/cli` under `NodeRuntime.runMain`,
 * which turns SIGTERM/SIGINT into an interruption of the program: the gateway drains, then the tree shuts down.
 *
 * The exit code is the one the command set (`process.exitCode`: an admin command's failure, `serve`'s 0 once a
 * signal drained it) when the program ended without a failure — succeeded or only interrupted; else effect's
 * default teardown's: 0 success, 130 interrupted, 1 a failure or defect.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Effect, Exit, Runtime } from "effect"
import * as Cli from "./Cli.ts"

const teardown: Runtime.Teardown = (exit, onExit) =>
  typeof process.exitCode === "number" && (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause))
    ? onExit(process.exitCode)
    : Runtime.defaultTeardown(exit, onExit)

Cli.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer), (p) => NodeRuntime.runMain(p, { teardown }))

/**
 * The `troupe` command line, on effect's `effect/cli`: a root command whose subcommands are listed in
 * `commands` — today `serve`, `tree`, `health`, `metrics`, `config`, `maintenance` (see `AdminCommands`), `keys`
 * (`KeysCommands`), `budgets` (`BudgetCommands`), `costs` (`CostsCommands`), `dlq` (`DlqCommands`) and `replay`
 * (`ReplayCommand`); later issues add theirs by appending to that list (or by calling `run` with more).
 *
 * @since 0.1.0
 */
import { Command } from "effect/cli"
import { config, health, maintenance, metrics, tree } from "./AdminCommands.ts"
import { budgets } from "./BudgetCommands.ts"
import { costs } from "./CostsCommands.ts"
import { dlq } from "./DlqCommands.ts"
import { keys } from "./KeysCommands.ts"
import { replay } from "./ReplayCommand.ts"
import { serve } from "./ServeCommand.ts"

/** The root command. */
export const root = Command.make("troupe").pipe(
  Command.withDescription("troupe: supervised LLM agents and the services they need, as an HTTP gateway")
)

/** The subcommands of `troupe`. */
export const commands = [serve, tree, health, metrics, config, maintenance, keys, budgets, costs, dlq, replay] as const

/** Runs the CLI on `argv` (without the node and script paths), with `extra` subcommands if any. */
export const run = (
  argv: ReadonlyArray<string>,
  extra: ReadonlyArray<Command.Command<string, never, unknown, unknown, never>> = []
) => Command.runWith(root.pipe(Command.withSubcommands([...commands, ...extra])), { version: "0.1.0" })(argv)

/**
 * The `troupe` CLI (`bin/troupe.js`, which runs `main.ts`): `troupe serve`, the admin commands (`tree`, `health`,
 * `metrics`, `config`, `maintenance`), `keys`, `budgets`, `costs` and `dlq`, and the commands later issues add.
 */
export * as AdminCommands from "./AdminCommands.ts"
export * as BudgetCommands from "./BudgetCommands.ts"
export * as Cli from "./Cli.ts"
export * as CostsCommands from "./CostsCommands.ts"
export * as DlqCommands from "./DlqCommands.ts"
export * as KeysCommands from "./KeysCommands.ts"
export { serve } from "./ServeCommand.ts"
export { serveLayer } from "./ServeLayer.ts"

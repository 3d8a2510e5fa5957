/**
 * The `troupe` CLI (`bin/troupe.js`, which runs `main.ts`): `troupe serve`, and the commands later issues add.
 */
export * as Cli from "./Cli.ts"
export { serve, serveLayer } from "./ServeCommand.ts"
export * as AdminCommands from "./AdminCommands.ts"

/**
 * A supervision tree as text, one line per child: what `npm run tree` (`examples/supervision-tree.ts`) and
 * `npm start` print for a tree of this process, and what `troupe tree` prints for a running gateway's (the admin
 * API's `GET /admin/supervision` document has the fields of `Node`), from the one function `render`:
 *
 * ```text
 * root pid 1
 * ├─ metrics (worker, permanent) pid 2
 * ├─ pipeline (supervisor, permanent) pid 3
 * │  ├─ ingest (worker, permanent) pid 4 restarts=1 last-exit=Killed
 * │  ├─ transform (worker, permanent) restarting
 * ├─ chaos (worker, temporary) not running
 * ```
 *
 * - The root's line is `<id> <state>`; a child's is `├─ <id> (<type>, <restart>) <state>`, indented `│  ` per
 *   level, then ` restarts=<n>` when it was restarted and ` last-exit=<reason>` when its last exit is known (the
 *   gateway counts both; `of` does not).
 * - The state is `pid <n>` (running), `restarting` or `not running` (stopped, or never started).
 * - `of(ref)` reads a live tree through `Supervisor.whichChildren`, 16 levels deep at most; a supervisor that
 *   exits while it is read shows no children.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Process } from "./Process.ts"
import * as Supervisor from "./Supervisor.ts"

/** One node of a tree: a supervisor or a worker, its state and its children (fields read as optional). */
export interface Node {
  readonly id: string
  /** `"supervisor"` or `"worker"` */
  readonly type?: string | undefined
  /** `"permanent"`, `"transient"` or `"temporary"` */
  readonly restart?: string | undefined
  readonly pid?: number | undefined
  /** `"running"`, `"restarting"` or `"stopped"` (absent: running when there is a pid) */
  readonly state?: string | undefined
  readonly restarts?: number | undefined
  readonly lastExit?: string | null | undefined
  readonly children?: ReadonlyArray<Node> | undefined
}

/** The state of a node as printed: `pid <n>`, `restarting` or `not running` (`running`: running without a pid). */
export const stateText = (node: Node): string =>
  node.state === "restarting"
    ? "restarting"
    : (node.state === undefined || node.state === "running") && node.pid !== undefined
    ? `pid ${node.pid}`
    : node.state === "running"
    ? "running"
    : "not running"

/** The lines of `children` and their descendants, each prefixed with `indent`. */
export const lines = (children: ReadonlyArray<Node>, indent = ""): Array<string> =>
  children.flatMap((child) => [
    `${indent}├─ ${child.id} (${child.type ?? "worker"}${child.restart !== undefined ? `, ${child.restart}` : ""}) ` +
    `${stateText(child)}${child.restarts ? ` restarts=${child.restarts}` : ""}` +
    `${child.lastExit ? ` last-exit=${child.lastExit}` : ""}`,
    ...lines(child.children ?? [], `${indent}│  `)
  ])

/** The tree as text: the root's line, then one line per descendant. */
export const render = (root: Node): string =>
  [`${root.id} ${stateText(root)}`, ...lines(root.children ?? [])].join("\n")

const childrenOf = (ref: Supervisor.SupervisorRef, depth: number): Effect.Effect<ReadonlyArray<Node>> =>
  Effect.gen(function*() {
    const out: Array<Node> = []
    for (const child of yield* Effect.orElseSucceed(Supervisor.whichChildren(ref), () => [])) {
      // a child's process is a Process, "restarting" or undefined: an object is a Process
      const process = typeof child.process === "object" ? child.process as Process : undefined
      const running = process !== undefined && process.exitReason === undefined
      out.push({
        id: child.id,
        type: child.type,
        restart: child.restart,
        pid: process?.pid,
        state: child.process === "restarting" ? "restarting" : running ? "running" : "stopped",
        // a running child of type supervisor is a SupervisorRef
        ...(child.type === "supervisor" && running && depth < 16
          ? { children: yield* childrenOf(process as Supervisor.SupervisorRef, depth + 1) }
          : {})
      })
    }
    return out
  })

/** The tree under the supervisor `ref`, read now (never fails: a supervisor that has exited has no children). */
export const of = (ref: Supervisor.SupervisorRef): Effect.Effect<Node> =>
  Effect.map(childrenOf(ref, 0), (children) => ({
    id: ref.name,
    type: "supervisor",
    pid: ref.pid,
    state: ref.exitReason === undefined ? "running" : "stopped",
    children
  }))

/**
 * Signal routing: patterns over dot-separated signal types, several handlers per pattern, ordered by priority.
 *
 * Mirrors `Jido.Signal.Router`: a pattern is a type whose segments may be `*` (exactly one segment) or `**` (any
 * number of segments, including none); a signal type can match many routes, and handlers run by descending
 * priority, ties in registration order. Like jido_signal, matching walks a trie of segments, so the cost depends
 * on the depth of the type and the wildcards on the way, not on the number of routes.
 *
 * Hand-rolled (a mutable trie): Effect has no pattern router. `add` validates the pattern and returns an id that
 * `remove` takes (the Bus uses this for subscriptions).
 *
 * @example
 * ```ts
 * const router = Router.make<string>()
 * Router.add(router, "order.*", "audit", { priority: 10 })
 * Router.add(router, "order.**", "log")
 * Router.route(router, "order.created") // ["audit", "log"]
 * ```
 */
import { Result } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { InvalidRoute } from "./AgentError.ts"

interface Entry<H> {
  readonly id: number
  readonly pattern: string
  readonly handler: H
  readonly priority: number
}

class Node<H> {
  children: Map<string, Node<H>> | undefined = undefined
  star: Node<H> | undefined = undefined
  globstar: Node<H> | undefined = undefined
  entries: Array<Entry<H>> | undefined = undefined
}

/**
 * A signal-type trie (Jido's router): `*` matches one segment, `**` any number; matches come back by priority, then
 * by order added.
 */
export interface Router<H> {
  readonly root: Node<H>
  readonly byId: Map<number, { readonly node: Node<H>; readonly entry: Entry<H> }>
  nextId: number
}

/** Options of a route: its priority (higher runs first). */
export interface RouteOptions {
  /** higher runs first; default 0 */
  readonly priority?: number
}

const SEGMENT = /^[A-Za-z0-9_-]+$/

/** Checks a pattern: non-empty segments that are `*`, `**` or `[A-Za-z0-9_-]+`. */
export const validatePattern = (pattern: string): Result.Result<ReadonlyArray<string>, InvalidRoute> => {
  if (pattern.length === 0) {
    return Result.fail(
      new InvalidRoute({ pattern, ...Invalid.fields(`route pattern "${pattern}"`, "", "empty pattern") })
    )
  }
  const segments = pattern.split(".")
  for (const [i, segment] of segments.entries()) {
    if (segment === "*" || segment === "**") continue
    if (segment.length === 0) {
      return Result.fail(
        new InvalidRoute({ pattern, ...Invalid.fields(`route pattern "${pattern}"`, "", `segment ${i} is empty`) })
      )
    }
    if (!SEGMENT.test(segment)) {
      return Result.fail(
        new InvalidRoute({
          pattern,
          ...Invalid.fields(
            `route pattern "${pattern}"`,
            "",
            `segment ${i} ("${segment}") must be *, ** or letters, digits, _ and -`
          )
        })
      )
    }
  }
  return Result.succeed(segments)
}

/** An empty router. */
export const make = <H>(): Router<H> => ({ root: new Node<H>(), byId: new Map(), nextId: 0 })

/** Adds a route; returns its id (for `remove`), or `InvalidRoute`. Later routes of equal priority run later. */
export const add = <H>(
  router: Router<H>,
  pattern: string,
  handler: H,
  options?: RouteOptions
): Result.Result<number, InvalidRoute> => {
  const priority = options?.priority ?? 0
  if (!Number.isFinite(priority)) {
    return Result.fail(
      new InvalidRoute({
        pattern,
        ...Invalid.fields(`route pattern "${pattern}"`, "", "priority must be a finite number")
      })
    )
  }
  const segments = validatePattern(pattern)
  if (Result.isFailure(segments)) return Result.fail(segments.failure)
  let node = router.root
  for (const segment of segments.success) {
    if (segment === "*") node = node.star ??= new Node<H>()
    else if (segment === "**") node = node.globstar ??= new Node<H>()
    else {
      node.children ??= new Map()
      let next = node.children.get(segment)
      if (next === undefined) node.children.set(segment, next = new Node<H>())
      node = next
    }
  }
  const entry: Entry<H> = { id: router.nextId++, pattern, handler, priority }
  node.entries ??= []
  node.entries.push(entry)
  router.byId.set(entry.id, { node, entry })
  return Result.succeed(entry.id)
}

/** Removes a route by id; returns whether it existed. */
export const remove = <H>(router: Router<H>, id: number): boolean => {
  const found = router.byId.get(id)
  if (found === undefined) return false
  router.byId.delete(id)
  const entries = found.node.entries
  if (entries !== undefined) {
    const index = entries.indexOf(found.entry)
    if (index >= 0) entries.splice(index, 1)
    if (entries.length === 0) found.node.entries = undefined
  }
  return true
}

/** Builds a router from a list of routes, failing on the first bad pattern. */
export const fromRoutes = <H>(
  routes: ReadonlyArray<{ readonly pattern: string; readonly handler: H; readonly priority?: number }>
): Result.Result<Router<H>, InvalidRoute> => {
  const router = make<H>()
  for (const route of routes) {
    const added = add(
      router,
      route.pattern,
      route.handler,
      route.priority === undefined ? undefined : { priority: route.priority }
    )
    if (Result.isFailure(added)) return Result.fail(added.failure)
  }
  return Result.succeed(router)
}

const collect = <H>(node: Node<H>, segments: ReadonlyArray<string>, index: number, out: Array<Entry<H>>): boolean => {
  let viaGlobstar = false
  if (index === segments.length) {
    if (node.entries !== undefined) { for (const e of node.entries) out.push(e) }
  } else {
    // index < segments.length (the branch above handles the end)
    const segment = segments[index] as string
    const child = node.children?.get(segment)
    if (child !== undefined) viaGlobstar = collect(child, segments, index + 1, out) || viaGlobstar
    if (node.star !== undefined) viaGlobstar = collect(node.star, segments, index + 1, out) || viaGlobstar
  }
  if (node.globstar !== undefined) {
    viaGlobstar = true
    for (let k = index; k <= segments.length; k++) collect(node.globstar, segments, k, out)
  }
  return viaGlobstar
}

const byPriority = <H>(a: Entry<H>, b: Entry<H>): number => b.priority - a.priority || a.id - b.id

/** The matching routes' entries for a signal type, highest priority first (ties: registration order). */
export const matches = <H>(router: Router<H>, type: string): ReadonlyArray<Entry<H>> => {
  const out: Array<Entry<H>> = []
  const viaGlobstar = collect(router.root, type.split("."), 0, out)
  if (out.length < 2) return out
  const unique = viaGlobstar ? [...new Set(out)] : out
  return unique.sort(byPriority)
}

/** The handlers for a signal type, highest priority first (ties: registration order). */
export const route = <H>(router: Router<H>, type: string): ReadonlyArray<H> => {
  const found = matches(router, type)
  if (found.length === 0) return []
  // found has exactly one element here
  if (found.length === 1) return [(found[0] as Entry<H>).handler]
  return found.map((e) => e.handler)
}

/** Does `pattern` match `type`? (A one-route router; for tests and filters.) */
export const matchesPattern = (pattern: string, type: string): boolean => {
  const router = make<true>()
  return Result.isSuccess(add(router, pattern, true)) && route(router, type).length > 0
}

/** Number of routes. */
export const size = <H>(router: Router<H>): number => router.byId.size

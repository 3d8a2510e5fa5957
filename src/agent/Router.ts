/**
 * Signal routing: patterns over dot-separated signal types, several handlers per pattern, ordered by priority.
 *
 * Mirrors `Jido.Signal.Router`: a pattern is a type whose segments may be `*` (exactly one segment) or `**` (any
 * number of segments, including none); a signal type can match many routes, and handlers run by descending
 * priority, ties in registration order. Like jido_signal, matching walks a trie of segments, so the cost depends
 * on the depth of the type and the wildcards on the way, not on the number of routes.
 *
 * Cost bound: the walk visits each (trie node, segment index) pair at most once — a `**` node either takes one
 * more segment (the same node at the next index) or hands over to what follows it — so a route costs at most
 * O(trie nodes × type segments), and a route with several `**` is not polynomial in their number (a 3,000-segment
 * type through `**.error.**.failed.**` took 5–11 s before; signal types are bounded anyway, see `Signal`). Only
 * the `**` pairs are recorded as visited (any other node's index is fixed by its depth below the last `**`), so a
 * route through a trie without `**` allocates no visited set. A handler matched through several `**` expansions is
 * returned once. The walk is property-tested against a reference matcher that tests each pattern on its own.
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
  /** unique within its router (the visited set's key) */
  readonly id: number
  /** reached through a `**` edge: it may also take one more segment itself */
  readonly isGlobstar: boolean
  children: Map<string, Node<H>> | undefined = undefined
  star: Node<H> | undefined = undefined
  globstar: Node<H> | undefined = undefined
  entries: Array<Entry<H>> | undefined = undefined
  constructor(id: number, isGlobstar: boolean) {
    this.id = id
    this.isGlobstar = isGlobstar
  }
}

/**
 * A signal-type trie (Jido's router): `*` matches one segment, `**` any number; matches come back by priority, then
 * by order added.
 */
export interface Router<H> {
  readonly root: Node<H>
  readonly byId: Map<number, { readonly node: Node<H>; readonly entry: Entry<H> }>
  nextId: number
  /** trie nodes created (the next node id) */
  nodes: number
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
export const make = <H>(): Router<H> => ({
  root: new Node<H>(0, false),
  byId: new Map(),
  nextId: 0,
  nodes: 1
})

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
    if (segment === "*") node = node.star ??= new Node<H>(router.nodes++, false)
    else if (segment === "**") node = node.globstar ??= new Node<H>(router.nodes++, true)
    else {
      node.children ??= new Map()
      let next = node.children.get(segment)
      if (next === undefined) node.children.set(segment, next = new Node<H>(router.nodes++, false))
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

/** One walk: the type's segments, the matches found, and the (`**` node, index) pairs visited. */
interface Walk<H> {
  readonly segments: ReadonlyArray<string>
  readonly out: Array<Entry<H>>
  /** the visited `**` pairs: a short array scanned linearly, then a set (most walks record a few pairs) */
  seen: Array<number> | Set<number> | undefined
}

const SMALL = 16

/** Records `key` as visited; false when it already was. */
const firstVisit = (walk: Walk<unknown>, key: number): boolean => {
  const seen = walk.seen
  if (seen === undefined) {
    walk.seen = [key]
    return true
  }
  if (Array.isArray(seen)) {
    if (seen.includes(key)) return false
    if (seen.length < SMALL) seen.push(key)
    else walk.seen = new Set(seen).add(key)
    return true
  }
  if (seen.has(key)) return false
  seen.add(key)
  return true
}

/**
 * Visits `node` at `index`. A `**` node runs its chain — itself at `index`, `index + 1`, … (each step takes one
 * more segment) — and stops at the first pair already visited (the rest of that chain was visited with it). Only
 * `**` pairs need the visited set: below the last `**` of a trie path the index is fixed by the depth, so any
 * other node is reached at most once per index. The recursion is as deep as the trie, never as the type.
 */
const visit = <H>(walk: Walk<H>, node: Node<H>, index: number): void => {
  if (!node.isGlobstar) return step(walk, node, index)
  const width = walk.segments.length + 1
  for (let i = index; i < width; i++) {
    // the walk's entry type is erased for the visited set
    if (!firstVisit(walk as Walk<unknown>, node.id * width + i)) return
    step(walk, node, i)
  }
}

const step = <H>(walk: Walk<H>, node: Node<H>, index: number): void => {
  const segments = walk.segments
  if (index === segments.length) {
    if (node.entries !== undefined) { for (const e of node.entries) walk.out.push(e) }
  } else {
    // index < segments.length (the branch above handles the end)
    const child = node.children?.get(segments[index] as string)
    if (child !== undefined) visit(walk, child, index + 1)
    if (node.star !== undefined) visit(walk, node.star, index + 1)
  }
  if (node.globstar !== undefined) visit(walk, node.globstar, index)
}

const byPriority = <H>(a: Entry<H>, b: Entry<H>): number => b.priority - a.priority || a.id - b.id

/** The matching routes' entries for a signal type, highest priority first (ties: registration order). */
export const matches = <H>(router: Router<H>, type: string): ReadonlyArray<Entry<H>> => {
  const out: Array<Entry<H>> = []
  // each entry is pushed once: a node is visited at the type's end at most once
  step({ segments: type.split("."), out, seen: undefined }, router.root, 0)
  if (out.length < 2) return out
  return out.sort(byPriority)
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

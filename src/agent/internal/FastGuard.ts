/**
 * Fast type guards for the simple schemas agents check on every `cmd` (action params and output, agent state).
 *
 * `Schema.is` interprets the schema's AST on each call (~30–80 ns for a small struct). For the common shapes —
 * `Number`, `String`, `Boolean`, literals, and structs of them with required fields, no index signatures and no
 * refinements — a guard compiled once costs a few nanoseconds. The compiled guard is only ever a fast *yes*: when
 * it says true, `Schema.is` would too (structs ignore excess keys and accept any non-array object, whatever its
 * prototype, as `Schema.is` does; the guard requires own fields, a subset); when it says false or the
 * shape is not covered, the answer comes from `Schema.is`. So a valid value is never rejected and an invalid one
 * is never accepted — the check is exactly `Schema.is`, only faster on the hot path.
 *
 * Hand-rolled: Effect's Schema has no compiled guards.
 */
import { Schema, SchemaAST } from "effect"

type Guard = (u: unknown) => boolean

// `Schema.is` accepts any non-array, non-function object for a struct (class instances and any prototype
// included), so the fast yes needs no prototype check: reading the prototype costs more than the whole field check.
const isObject = (u: unknown): u is Record<PropertyKey, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const hasOwn = Object.prototype.hasOwnProperty

/**
 * The guard of a struct: a plain object with every field present and valid. Structs of one to three fields (the
 * usual params and states) get an unrolled closure; larger ones loop over parallel arrays.
 */
const structGuard = (names: ReadonlyArray<PropertyKey>, guards: ReadonlyArray<Guard>): Guard => {
  // only read when names.length is 1 to 3 (see the switch below)
  const [n0, n1, n2] = names as [PropertyKey, PropertyKey, PropertyKey]
  // only read when guards.length is 1 to 3 (same length as names)
  const [g0, g1, g2] = guards as [Guard, Guard, Guard]
  switch (names.length) {
    case 0:
      return isObject
    case 1:
      return (u) => isObject(u) && hasOwn.call(u, n0) && g0(u[n0])
    case 2:
      return (u) => isObject(u) && hasOwn.call(u, n0) && g0(u[n0]) && hasOwn.call(u, n1) && g1(u[n1])
    case 3:
      return (u) =>
        isObject(u) && hasOwn.call(u, n0) && g0(u[n0]) && hasOwn.call(u, n1) && g1(u[n1]) &&
        hasOwn.call(u, n2) && g2(u[n2])
    default:
      return (u) => {
        if (!isObject(u)) return false
        for (let i = 0; i < names.length; i++) {
          // i < names.length
          const name = names[i] as PropertyKey
          // guards has the same length as names
          if (!hasOwn.call(u, name) || !(guards[i] as Guard)(u[name])) return false
        }
        return true
      }
  }
}

/** A guard that is true only for values the type side of `ast` accepts, or undefined for shapes not covered. */
const compile = (ast: SchemaAST.AST): Guard | undefined => {
  if (ast.checks !== undefined || ast.encoding !== undefined) return undefined
  switch (ast._tag) {
    case "Number":
      return (u) => typeof u === "number"
    case "String":
      return (u) => typeof u === "string"
    case "Boolean":
      return (u) => typeof u === "boolean"
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Objects": {
      if (ast.indexSignatures.length > 0 || ast.encodingChecks !== undefined) return undefined
      const names: Array<PropertyKey> = []
      const guards: Array<Guard> = []
      for (const ps of ast.propertySignatures) {
        if (ps.type.context?.isOptional === true) return undefined
        const guard = compile(ps.type)
        if (guard === undefined) return undefined
        names.push(ps.name)
        guards.push(guard)
      }
      return structGuard(names, guards)
    }
    default:
      return undefined
  }
}

/** `Schema.is` for the type side of `schema`, with a compiled fast path for simple shapes. */
export const make = <S extends Schema.Top>(schema: S): Guard => {
  // the type side of any schema needs no services
  const typeSide = Schema.toType(schema) as Schema.Codec<unknown, unknown, never, never>
  const slow: Guard = Schema.is(typeSide)
  const fast = compile(typeSide.ast)
  return fast === undefined ? slow : (u) => fast(u) || slow(u)
}

/**
 * The project's own ESLint rules (plain JavaScript: ESLint loads its config and plugins without type stripping).
 *
 * - `no-any`: no `any` type anywhere (use `unknown` or a precise type).
 * - `cast-needs-comment`: a type assertion (`x as T`, `<T>x`) other than `as const` carries a comment saying why the
 *   cast is sound: on one of its lines, up to three lines above it or the line below it, or — when the formatter
 *   broke the statement it sits in over several lines — the line above that statement (at most 8 lines up).
 */
const noAny = {
  meta: { type: "problem", docs: { description: "no `any` type" }, schema: [], messages: { any: "no `any`: use unknown or a precise type" } },
  create: (context) => ({ TSAnyKeyword: (node) => context.report({ node, messageId: "any" }) })
}

const isConst = (node) =>
  node.typeAnnotation?.type === "TSTypeReference" && node.typeAnnotation.typeName?.type === "Identifier" &&
  node.typeAnnotation.typeName.name === "const"

const castNeedsComment = {
  meta: { type: "suggestion", docs: { description: "a cast carries a comment" }, schema: [], messages: { cast: "a cast (`as {{type}}`) needs a comment saying why it is sound (on its lines, the line above or below, or above its statement)" } },
  create: (context) => {
    const source = context.sourceCode
    const commentLines = new Set()
    for (const c of source.getAllComments()) for (let l = c.loc.start.line; l <= c.loc.end.line; l++) commentLines.add(l)
    const statementStart = (node) => {
      let n = node.parent
      while (n && !/Statement$|Declaration$|^(Property|ObjectProperty|ClassProperty|PropertyDefinition|TSPropertySignature)$/.test(n.type)) n = n.parent
      return n ? n.loc.start.line : node.loc.start.line
    }
    const check = (node) => {
      if (isConst(node)) return
      const end = node.loc.end.line
      const start = node.loc.start.line
      const statement = statementStart(node)
      const from = Math.min(start - statement <= 8 ? statement : start, start - 2) - 1
      for (let l = from; l <= end + 1; l++) if (commentLines.has(l)) return
      context.report({ node, messageId: "cast", data: { type: source.getText(node.typeAnnotation).slice(0, 40) } })
    }
    return { TSAsExpression: check, TSTypeAssertion: check }
  }
}

export default { meta: { name: "troupe" }, rules: { "no-any": noAny, "cast-needs-comment": castNeedsComment } }

/**
 * The project's own ESLint rules (plain JavaScript: ESLint loads its config and plugins without type stripping).
 *
 * - `no-any`: no `any` type anywhere (use `unknown` or a precise type).
 * - `cast-needs-comment`: a type assertion (`x as T`, `<T>x`) other than `as const` carries a comment on its line or
 *   on the line above, saying why the cast is sound.
 */
const noAny = {
  meta: { type: "problem", docs: { description: "no `any` type" }, schema: [], messages: { any: "no `any`: use unknown or a precise type" } },
  create: (context) => ({ TSAnyKeyword: (node) => context.report({ node, messageId: "any" }) })
}

const isConst = (node) =>
  node.typeAnnotation?.type === "TSTypeReference" && node.typeAnnotation.typeName?.type === "Identifier" &&
  node.typeAnnotation.typeName.name === "const"

const castNeedsComment = {
  meta: { type: "suggestion", docs: { description: "a cast carries a comment" }, schema: [], messages: { cast: "a cast (`as {{type}}`) needs a comment on its line or the line above saying why it is sound" } },
  create: (context) => {
    const source = context.sourceCode
    const commentLines = new Set()
    for (const c of source.getAllComments()) for (let l = c.loc.start.line; l <= c.loc.end.line; l++) commentLines.add(l)
    const check = (node) => {
      if (isConst(node)) return
      const line = node.loc.end.line
      const start = node.loc.start.line
      for (let l = start - 1; l <= line; l++) if (commentLines.has(l)) return
      context.report({ node, messageId: "cast", data: { type: source.getText(node.typeAnnotation).slice(0, 40) } })
    }
    return { TSAsExpression: check, TSTypeAssertion: check }
  }
}

export default { meta: { name: "troupe" }, rules: { "no-any": noAny, "cast-needs-comment": castNeedsComment } }

#!/usr/bin/env bash
# The package check of issue 20: `npm pack` (which builds dist/ through `prepack`), check what the tarball carries,
# install it into a scratch project outside the repo with its peers (effect, @effect/platform-node; no optional
# OpenTelemetry peer), then, with each Node given as a bin folder argument:
#   (a) the smoke script with plain `node` (type stripping off, no loader): every subpath, a supervised program and
#       an `Llm` call on `Troupe.layerTest()`, no Redis/OpenTelemetry/undici module loaded; and the README's
#       "Use it in your project" example, extracted from the README;
#   (b) the consumer file type-checked with moduleResolution nodenext and bundler under strict consumer flags;
#   (c) the smoke script bundled by esbuild (--platform=node --format=esm), and the bundle run.
# Usage: .ci/package/check.sh NODE_BIN_DIR...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ "$#" -ge 1 ] || { echo "usage: $0 NODE_BIN_DIR..." >&2; exit 2; }
started=$(date +%s)

scratch="$(mktemp -d "${TMPDIR:-/tmp}/troupe-package.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "package: npm pack (builds dist/)"
(cd "$repo" && npm pack --silent --pack-destination "$scratch" >/dev/null)
tarball="$(ls "$scratch"/troupe-*.tgz)"
listing="$(tar tzf "$tarball")"
for wanted in package/package.json package/README.md package/LICENSE package/CHANGELOG.md package/dist/index.js \
  package/dist/index.d.ts package/dist/index.js.map package/src/index.ts package/bin/troupe.js package/dist/cli/main.js; do
  grep -qx "$wanted" <<<"$listing" || { echo "package: $wanted missing from the tarball" >&2; exit 1; }
done
if grep -E '^package/(test|bench|examples|scripts|\.ci|node_modules|docs|coverage)/|^package/tsconfig[^/]*\.json$|^package/vitest' <<<"$listing"; then
  echo "package: the tarball carries files it should not (above)" >&2
  exit 1
fi
echo "package: $(basename "$tarball"): $(wc -l <<<"$listing") files, $(du -k "$tarball" | cut -f1) KiB"

# The peers at the versions this repo is tested with (its devDependencies), as a user would install them.
version_of() { node -e 'const p=require(process.argv[1]);process.stdout.write(p.devDependencies[process.argv[2]])' "$repo/package.json" "$1"; }
app="$scratch/app"
mkdir -p "$app"
cp "$here/smoke.mjs" "$here/consumer.ts" "$here/tsconfig.nodenext.json" "$here/tsconfig.bundler.json" "$app/"
cat >"$app/package.json" <<JSON
{ "name": "troupe-consumer", "version": "0.0.0", "private": true, "type": "module" }
JSON
(cd "$app" && npm install --no-audit --no-fund --loglevel=error "$tarball" \
  "effect@$(version_of effect)" "@effect/platform-node@$(version_of @effect/platform-node)" \
  "@types/node@$(version_of @types/node)" >/dev/null)
# The README's "Use it in your project" example, as written there (it is plain JavaScript too).
awk '/^## Use it in your project/{section=1} section && /^```ts/{code=1; next} code && /^```/{exit} code{print}' \
  "$repo/README.md" >"$app/readme-example.mjs"
[ -s "$app/readme-example.mjs" ] || { echo "package: no example found in the README's \"Use it in your project\"" >&2; exit 1; }

for optional in @opentelemetry @effect/opentelemetry; do
  if [ -e "$app/node_modules/$optional" ]; then echo "package: optional peer $optional was installed" >&2; exit 1; fi
done

echo "package: (c) esbuild --bundle --platform=node --format=esm"
(cd "$app" && "$repo/node_modules/.bin/esbuild" smoke.mjs --bundle --platform=node --format=esm --log-level=warning \
  --outfile=bundle.mjs)

for bin in "$@"; do
  (
    export PATH="$bin:$PATH"
    cd "$app"
    v="$(node --version)"
    echo "package: node $v: (a) plain node"
    node --no-experimental-strip-types smoke.mjs
    node --no-experimental-strip-types readme-example.mjs | grep -q "scripted model" \
      || { echo "package: the README example did not answer" >&2; exit 1; }
    # the installed `troupe` executable runs the compiled CLI under plain node
    node --no-experimental-strip-types node_modules/troupe/bin/troupe.js --version
    echo "package: node $v: (b) tsc, moduleResolution nodenext and bundler"
    node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.nodenext.json
    node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.bundler.json
    echo "package: node $v: (c) the esbuild bundle"
    node --no-experimental-strip-types bundle.mjs
  )
done
echo "package: all checks passed in $(( $(date +%s) - started )) s"

#!/usr/bin/env bash
# Put the dashboard's front-end assets where Solara's CDN proxy looks for them, so that
# `chip4 app` (and `solara run app.py`) serve every file locally and need no internet.
#
#   scripts/install-dashboard-assets.sh DEST      e.g. DEST=.venv/share/solara/cdn
#
# Solara serves /_solara/cdn/<name>@<version>/<file> from <proxy_cache_dir>/<name>@<version>/
# <file> and only falls back to fetching from a public CDN when the file is missing. This script
# takes each package below from the npm registry (`npm pack`, which checks the registry's
# integrity hash) and unpacks it to DEST/<name>@<version>/. It is idempotent: a package already
# in place is skipped. Each package is unpacked in a temporary folder next to DEST and then moved
# into place with one rename, so DEST never holds a half-unpacked package.
set -euo pipefail

# Exact versions the installed solara (1.64) asks for; keep in step with solara's pin
# (grep its sources for "getCdn()}/" to see them).
PACKAGES=(
  "@widgetti/solara-vuetify-app@10.1.1"         # the Vue/Vuetify/ipywidgets front end
  "requirejs@2.3.6"                             # module loader used by several components
  "font-awesome@4.5.0"                          # icons (solara's fontawesome_path)
  "@widgetti/vue-grid-layout@2.3.13-alpha.2"    # solara.GridDraggable and friends
  "echarts@5.4.0"                               # solara.FigureEcharts
  "mermaid@10.8.0"                              # solara.Markdown loads it on every mount,
  "katex@0.16.9"                                # and then KaTeX for $math$
)

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST   (e.g. .venv/share/solara/cdn)" >&2
  exit 2
fi
dest=$1

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm not found; it fetches the dashboard's front-end assets (install Node.js and npm, e.g. 'apt-get install -y npm')" >&2
  exit 1
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
# Same file system as DEST, so the final mv is a rename.
tmp=$(mktemp -d "$dest/.install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

installed=()
for spec in "${PACKAGES[@]}"; do
  target="$dest/$spec"
  # A package we put in place has its package.json; a folder without one holds only the odd
  # file that Solara fetched itself while online: replace it with the whole package.
  if [ -f "$target/package.json" ]; then
    continue
  fi
  work="$tmp/$(echo "$spec" | tr '/@' '__')"
  mkdir -p "$work"
  # npm prints the tarball's name on stdout, and its errors (only) on stderr
  if ! tarball=$(cd "$work" && npm pack --loglevel=error --ignore-scripts "$spec" | tail -n 1) \
     || [ -z "$tarball" ] || [ ! -f "$work/$tarball" ]; then
    echo "error: 'npm pack $spec' failed (is the npm registry reachable?)" >&2
    exit 1
  fi
  tar -xzf "$work/$tarball" -C "$work" --no-same-owner
  if [ ! -f "$work/package/package.json" ]; then
    echo "error: $tarball has no package/package.json" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$target")"
  rm -rf "$target"
  mv "$work/package" "$target"
  installed+=("$spec")
done

if [ ${#installed[@]} -gt 0 ]; then
  echo "Installed dashboard assets into $dest: ${installed[*]}"
fi

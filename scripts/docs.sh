#!/usr/bin/env bash
# Regenerates the man page and shell completions in docs/ from the argument
# parser (swift-argument-parser's generate-manual plugin and
# --generate-completion-script), so they cannot drift from the CLI's help.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
cd "$repo"
mkdir -p docs/completions
swift package --allow-writing-to-directory docs generate-manual --output-directory docs --date "$(date -u +%F)" >&2
swift build --product pcistore >&2
bin=$(swift build --show-bin-path)/pcistore
for sh in bash zsh fish; do "$bin" --generate-completion-script "$sh" > "docs/completions/pcistore.$sh"; done

#!/usr/bin/env bash
# Lint and render the Helm chart. Helm comes from the Go module proxy (built once with
# `go install`, cached in $STREAM_ALIGN_HOME/bin); without Go the check is skipped with a note.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
HELM_VERSION="v3.22.0"
HELM="$HOME_DIR/bin/helm-$HELM_VERSION"
if [ ! -x "$HELM" ]; then
  if ! command -v go >/dev/null; then
    echo "helm lint skipped: Go is not installed" >&2
    exit 0
  fi
  mkdir -p "$HOME_DIR/bin"
  GOBIN="$HOME_DIR/bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$HOME_DIR/bin/helm" "$HELM"
fi
"$HELM" lint "$ROOT/helm/stream-align"
"$HELM" template ci "$ROOT/helm/stream-align" >/dev/null

#!/usr/bin/env bash
# Print the path of a pinned Go-built tool (helm, kubeconform), building it once from the Go
# module proxy with `go install` into $STREAM_ALIGN_HOME/bin (no prebuilt binary downloads).
# Exit status 3, with a note, when Go is not installed.
set -euo pipefail
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
case "${1:-}" in
  helm) MODULE="helm.sh/helm/v3/cmd/helm"; VERSION="v3.22.0" ;;
  kubeconform) MODULE="github.com/yannh/kubeconform/cmd/kubeconform"; VERSION="v0.7.0" ;;
  *) echo "usage: $0 helm|kubeconform" >&2; exit 2 ;;
esac
TOOL="$HOME_DIR/bin/$1-$VERSION"
if [ ! -x "$TOOL" ]; then
  if ! command -v go >/dev/null; then
    echo "$1 not available: Go is not installed" >&2
    exit 3
  fi
  BUILD="$(mktemp -d)"
  trap 'rm -rf "$BUILD"' EXIT
  GOBIN="$BUILD" go install "$MODULE@$VERSION" >&2
  mkdir -p "$HOME_DIR/bin"
  mv "$BUILD/$1" "$TOOL"
fi
echo "$TOOL"

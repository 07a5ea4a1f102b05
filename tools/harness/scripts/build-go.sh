#!/usr/bin/env bash
# Builds a pinned Go component into $FSE_HOME/bin/<name>-<version>/ (atomic rename; never rebuilds a present one).
# usage: build-go.sh kube|etcd|kwok|helm VERSION
set -euo pipefail
what=$1 ver=$2
: "${FSE_HOME:?FSE_HOME must be set}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GOMODCACHE="$FSE_HOME/go/mod" GOCACHE="$FSE_HOME/go/cache" GOPATH="$FSE_HOME/go/path"
final="$FSE_HOME/bin/$what-$ver"
if [[ -f "$final/.complete" ]]; then echo "$what $ver: cached in $final"; exit 0; fi
mkdir -p "$FSE_HOME/bin" "$FSE_HOME/build"
work=$(mktemp -d "$FSE_HOME/build/$what-$ver.XXXXXX")
out="$work/out"; mkdir -p "$out"
trap 'rm -rf "$work"' EXIT
cd "$work"
case "$what" in
  kube)
    minor=$(echo "$ver" | cut -d. -f2)
    go mod init local/k8sbuild >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u); do
      go mod edit "-replace=$m=$m@v0.$minor.${ver##*.}"
    done
    cat > tools.go <<T
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
T
    go get "k8s.io/kubernetes@v$ver"
    go mod tidy
    vf=""
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      vf="$vf -X $p.gitVersion=v$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    go build -trimpath -ldflags "-s -w $vf" -o "$out/" k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
    ;;
  etcd)
    go mod init local/etcdbuild >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ver"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
    ;;
  kwok)
    GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$ver"
    stage="$GOMODCACHE/sigs.k8s.io/kwok@v$ver/kustomize/stage"
    first=1
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
      pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [[ $first == 1 ]] || echo '---' >>"$out/stages.yaml"
      first=0
      cat "$stage/$f" >>"$out/stages.yaml"
    done
    ;;
  helm)
    GOBIN="$out" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v4/cmd/helm@v$ver"
    ;;
  *) echo "unknown component $what" >&2; exit 2 ;;
esac
touch "$out/.complete"
rm -rf "$final.old"; [[ -e "$final" ]] && mv "$final" "$final.old"
mv "$out" "$final"
rm -rf "$final.old"
echo "$what $ver: built into $final"

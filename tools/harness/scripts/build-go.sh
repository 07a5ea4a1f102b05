#!/usr/bin/env bash
# Builds a pinned Go component into $FSE_HOME/bin/<name>-<version>/ (atomic rename; never rebuilds a present one).
# usage: build-go.sh kube|node|etcd|kwok|helm|containerd|coredns|crictl|metrics-server|prometheus-operator|keda|prometheus VERSION
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

# carry_directives GOMOD: a dependency's replace and exclude directives do not apply to the main module: copy the
# versioned ones of GOMOD (local-path replaces point at the module's own sub-modules, served by the proxy anyway)
carry_directives() {
  go mod edit -json "$1" | python3 -c '
import json, sys
m = json.load(sys.stdin)
for r in m.get("Replace") or []:
    o, n = r["Old"], r["New"]
    if n.get("Version"):
        print("-replace=%s%s=%s@%s" % (o["Path"], "@" + o["Version"] if o.get("Version") else "", n["Path"], n["Version"]))
for e in m.get("Exclude") or []:
    print("-exclude=%s@%s" % (e["Path"], e["Version"]))
' | while read -r d; do go mod edit "$d"; done
}
case "$what" in
  kube | node)
    # a wrapper module requiring k8s.io/kubernetes, its staging modules replaced by their published versions;
    # kube and node share GOMODCACHE/GOCACHE, so the second of them compiles only what the first did not
    minor=$(echo "$ver" | cut -d. -f2)
    go mod init local/k8sbuild >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u); do
      go mod edit "-replace=$m=$m@v0.$minor.${ver##*.}"
    done
    if [[ $what == kube ]]; then
      cmds="kube-apiserver kube-controller-manager kube-scheduler"
    else
      cmds="kubelet kube-proxy"
    fi
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for c in $cmds; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
      printf ')\n'
    } > tools.go
    go get "k8s.io/kubernetes@v$ver"
    go mod tidy
    vf=""
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      vf="$vf -X $p.gitVersion=v$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    pkgs=""
    for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c"; done
    # shellcheck disable=SC2086
    go build -trimpath -ldflags "-s -w $vf" -o "$out/" $pkgs
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
  containerd)
    # containerd v2 (CRI built in), its runc shim and ctr; btrfs needs cgo, so it is left out
    go mod init local/containerdbuild >/dev/null 2>&1
    m=github.com/containerd/containerd/v2
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/containerd"\n\t_ "%s/cmd/containerd-shim-runc-v2"\n\t_ "%s/cmd/ctr"\n)\n' $m $m $m > tools.go
    go mod edit "-require=$m@v$ver"
    go mod tidy
    go build -trimpath -tags no_btrfs,no_devmapper -ldflags "-s -w -X $m/version.Version=v$ver" -o "$out/" \
      $m/cmd/containerd $m/cmd/containerd-shim-runc-v2 $m/cmd/ctr
    ;;
  coredns)
    # a small CoreDNS: only the plugins the harness's Corefile uses (no forward: nothing leaves the machine)
    go mod init local/corednsbuild >/dev/null 2>&1
    cat > main.go <<'G'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// the directive order of the full build, narrowed to the plugins linked in
var directives = []string{"bind", "ready", "health", "errors", "kubernetes"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
G
    go mod edit "-require=github.com/coredns/coredns@v$ver"
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$out/coredns" .
    ;;
  crictl)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$ver" \
      "sigs.k8s.io/cri-tools/cmd/crictl@v$ver"
    ;;
  metrics-server)
    go mod init local/metricsserverbuild >/dev/null 2>&1
    go get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@v$ver"
    go build -trimpath -ldflags "-s -w" -o "$out/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
    # its kustomize manifests (the harness installs them with the image swapped)
    dir=$(go mod download -json "sigs.k8s.io/metrics-server@v$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp -r --no-preserve=mode "$dir/manifests" "$out/manifests"
    ;;
  prometheus-operator)
    # the operator and the config reloader it puts beside every Prometheus it manages; the module's replaces point
    # at its own sub-modules, which the proxy serves at the same version
    go mod init local/promoperatorbuild >/dev/null 2>&1
    m=github.com/prometheus-operator/prometheus-operator
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/operator"\n\t_ "%s/cmd/prometheus-config-reloader"\n)\n' $m $m > tools.go
    go get "$m@v$ver"
    go mod tidy
    v=github.com/prometheus/common/version
    go build -trimpath -ldflags "-s -w -X $v.Version=$ver -X $v.Revision=v$ver -X $v.Branch=HEAD" -o "$out/" \
      $m/cmd/operator $m/cmd/prometheus-config-reloader
    dir=$(go mod download -json "$m@v$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp --no-preserve=mode "$dir/bundle.yaml" "$out/bundle.yaml"
    ;;
  keda)
    # the operator (scalers, ScaledObject controller) and its metrics API server (external.metrics.k8s.io); the
    # module's replace and exclude carried over, since a dependency's replace does not apply to the main module
    go mod init local/kedabuild >/dev/null 2>&1
    m=github.com/kedacore/keda/v2
    gomod=$(go mod download -json "$m@v$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    dir=$(go mod download -json "$m@v$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    carry_directives "$gomod"
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/operator"\n\t_ "%s/cmd/adapter"\n)\n' $m $m > tools.go
    go get "$m@v$ver"
    go mod tidy
    ld="-s -w -X $m/version.Version=$ver -X $m/version.GitCommit=v$ver"
    go build -trimpath -ldflags "$ld" -o "$out/keda" $m/cmd/operator
    go build -trimpath -ldflags "$ld" -o "$out/keda-adapter" $m/cmd/adapter
    # its kustomize config (CRDs, RBAC, the operator and the metrics API server)
    cp -r --no-preserve=mode "$dir/config" "$out/config"
    ;;
  prometheus)
    # Prometheus X.Y.Z is the Go module version v0.X0Y.Z (3.5.0: v0.305.0); no UI assets built in (the API serves)
    minor=$(echo "$ver" | cut -d. -f2)
    m=github.com/prometheus/prometheus
    mv="v0.${ver%%.*}$(printf %02d "$minor").${ver##*.}"
    go mod init local/prometheusbuild >/dev/null 2>&1
    carry_directives "$(go mod download -json "$m@$mv" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/prometheus"\n' $m > tools.go
    go get "$m@$mv"
    go mod tidy
    v=github.com/prometheus/common/version
    go build -trimpath -ldflags "-s -w -X $v.Version=$ver -X $v.Revision=v$ver -X $v.Branch=HEAD" \
      -o "$out/prometheus" $m/cmd/prometheus
    ;;
  *) echo "unknown component $what" >&2; exit 2 ;;
esac
touch "$out/.complete"
rm -rf "$final.old"; [[ -e "$final" ]] && mv "$final" "$final.old"
mv "$out" "$final"
rm -rf "$final.old"
echo "$what $ver: built into $final"

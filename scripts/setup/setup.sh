#!/usr/bin/env bash
# Installs the real backing servers and tools the tests and the local environment run.
# Idempotent: every step checks a version stamp first, so a warm run takes seconds.
# Targets a fresh Debian 12 machine as root; downloads are cached under $ROOT/.cache.
set -euo pipefail
# Keep errexit inside $(...) so a failing step function stops at its first error.
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# KAFKA_VERSION, FERRETDB_VERSION, K6_VERSION, ... (every pinned version)
# shellcheck source=versions.env
source "$ROOT/scripts/setup/versions.env"
# prometheus: the local environment's Prometheus, and promtool, which checks and unit-tests the alert rules.
# prometheus-alertmanager: the local environment's Alertmanager (the drills read the alerts it received).
# postgresql: FerretDB's backend, one streaming-replicated cluster per region (scripts/lib/servers/postgres.ts).
APT_PACKAGES=(redis-server nginx-light pdns-server pdns-backend-bind dnsutils curl iproute2 procps shellcheck
  podman runc debootstrap prometheus prometheus-alertmanager iptables wrk "postgresql-$POSTGRESQL_MAJOR")
# Daemons the packages start by default; the harness runs its own instances on free ports instead.
APT_SERVICES=(redis-server nginx pdns prometheus prometheus-alertmanager postgresql)

CACHE="$ROOT/.cache"
BIN="$CACHE/tools/bin"
STAMPS="$CACHE/tools/stamps"
mkdir -p "$BIN" "$STAMPS"

# install_base_image: the local base image for the service images (podman import of a debootstrap rootfs + Node).
# shellcheck source=base-image.sh
source "$ROOT/scripts/setup/base-image.sh"

CURRENT_TOOL=""
# An EXIT trap (not ERR) because errexit inside a step's $(...) exits without running an ERR trap here.
on_exit() {
  local status=$?
  if ((status != 0)); then
    echo "✖ setup failed while installing: ${CURRENT_TOOL:-unknown} (exit $status). Details above; re-run with 'bash -x scripts/setup/setup.sh'." >&2
  fi
}
trap on_exit EXIT

# step <tool> <function>: runs the function, prints one line with the tool and the elapsed time.
step() {
  CURRENT_TOOL="$1"
  local started=$SECONDS note
  note="$("$2")"
  echo "✔ $1 ${note} ($((SECONDS - started)) s)"
  CURRENT_TOOL=""
}

stamp_matches() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
write_stamp() { echo "$2" >"$STAMPS/$1"; }
# prints <text> <command…>: the command succeeds and its output holds the text. The output is read whole first: a
# `cmd | grep -q` under pipefail fails at random, as grep stops at the first match and the command, still writing,
# dies of SIGPIPE (jaeger --help did, in CI).
prints() {
  local text="$1" out
  shift
  out="$("$@" 2>&1)" && [[ "$out" == *"$text"* ]]
}

install_apt() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    echo "present"
    return
  fi
  [[ $EUID -eq 0 ]] || { echo "apt packages missing (${missing[*]}) and not root: run 'sudo apt-get install ${missing[*]}'" >&2; return 1; }
  # policy-rc.d exit 101 tells invoke-rc.d not to start the daemons the packages ship.
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [[ -e $policy ]] && had_policy=1
  if ((had_policy == 0)); then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
  fi
  local status=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >"$CACHE/apt.log" 2>&1 || status=$?
  ((had_policy == 1)) || rm -f "$policy"
  if ((status != 0)); then
    tail -n 20 "$CACHE/apt.log" >&2
    return "$status"
  fi
  stop_apt_daemons
  echo "installed ${missing[*]}"
}

# On machines where systemd is running, also disable the units so they stay off after a reboot.
stop_apt_daemons() {
  local svc
  for svc in "${APT_SERVICES[@]}"; do
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
}

# The jar set is keyed by the version and the pom's content: a cache of an older pom's jars is refetched.
install_kafka() {
  local dir="$CACHE/kafka/$KAFKA_VERSION" pom="$ROOT/scripts/setup/kafka/pom.xml" key
  key="$KAFKA_VERSION pom-sha256 $(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$key" ]]; then
    echo "$KAFKA_VERSION present"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/libs"
  mvn -q -B -f "$pom" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs" >"$CACHE/kafka-maven.log" 2>&1 ||
    { tail -n 20 "$CACHE/kafka-maven.log" >&2; return 1; }
  echo "$key" >"$dir/.complete"
  echo "$KAFKA_VERSION downloaded"
}

# go_tool <name> <version> <package>: go install into $BIN unless the stamp already records that version.
go_tool() {
  local name=$1 version=$2 pkg=$3
  if [[ -x "$BIN/$name" ]] && stamp_matches "$name" "$version"; then
    echo "$version present"
    return
  fi
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -trimpath "$pkg@$version" >"$CACHE/go-$name.log" 2>&1 ||
    { tail -n 20 "$CACHE/go-$name.log" >&2; return 1; }
  write_stamp "$name" "$version"
  echo "$version built"
}

# FerretDB's module version list is not served by the proxy (so `go install pkg@ver` fails), and the module zip
# lacks the generated build/version/version.txt the binary panics without: build a copy of the exact module.
install_ferretdb() {
  if [[ -x "$BIN/ferretdb" ]] && stamp_matches ferretdb "$FERRETDB_VERSION"; then
    echo "$FERRETDB_VERSION present"
    return
  fi
  local work src
  work="$(mktemp -d)"
  # Chained with && because errexit does not apply inside a subshell tested with ||.
  (
    cd "$work" &&
      printf 'module blueprint/ferretdb-fetch\n\ngo 1.24\n\nrequire github.com/FerretDB/FerretDB %s\n' "$FERRETDB_VERSION" >go.mod &&
      src="$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" &&
      [[ -d "$src" ]] &&
      cp -r "$src" "$work/src" &&
      chmod -R u+w "$work/src" &&
      echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt" &&
      echo "blueprint" >"$work/src/build/version/package.txt" &&
      cd "$work/src" &&
      GOFLAGS=-buildvcs=false go build -trimpath -o "$BIN/ferretdb" ./cmd/ferretdb
  ) >"$CACHE/go-ferretdb.log" 2>&1 || { tail -n 20 "$CACHE/go-ferretdb.log" >&2; rm -rf "$work"; return 1; }
  rm -rf "$work"
  "$BIN/ferretdb" --version >/dev/null 2>&1 || { echo "built ferretdb does not run: see $CACHE/go-ferretdb.log" >&2; return 1; }
  write_stamp ferretdb "$FERRETDB_VERSION"
  echo "$FERRETDB_VERSION built"
}

install_k6() { go_tool k6 "$K6_VERSION" go.k6.io/k6; }
install_actionlint() { go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint; }
install_kube_score() { go_tool kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score; }

# go_wrapper <name> <stamp> <function> <binary>...: the tools below are not `go install`-able as they are; each is
# built from a small wrapper module in $CACHE/build/<name> (kept, so a rebuild only resolves again), log in
# $CACHE/go-<name>.log. Rebuilt when the pinned version changed or one of its binaries is missing.
go_wrapper() {
  local name=$1 version=$2 fn=$3 work="$CACHE/build/$1" b present=1
  shift 3
  for b in "$@"; do [[ -x "$BIN/$b" ]] || present=0; done
  if ((present == 1)) && stamp_matches "$name" "$version"; then
    echo "$version present"
    return
  fi
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && "$fn") >"$CACHE/go-$name.log" 2>&1 || { tail -n 20 "$CACHE/go-$name.log" >&2; return 1; }
  write_stamp "$name" "$version"
  echo "$version built"
}

wrapper_mod() { printf 'module blueprint/%s\n\ngo 1.24\n' "$1" >go.mod; }

# pkg's go.mod has replace directives, so `go install …/cmd/pulumi@v` is refused: require pkg and sdk at the same
# version and repeat its one non-local replace. The version must be stamped in, or `pulumi version` prints nothing
# and the Automation API's version check fails.
build_pulumi() {
  wrapper_mod pulumi-cli &&
    go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e &&
    GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi &&
    [[ "$("$BIN/pulumi" version)" == "$PULUMI_VERSION" ]]
}

# The provider's main embeds files its Makefile generates; our main (go/kubernetes-provider) embeds the same files
# made here from the module's schema.json (version set) and terraform-mapping.json, minified.
build_kubernetes_provider() {
  local dir
  wrapper_mod kubernetes-provider &&
    cp "$ROOT/scripts/setup/go/kubernetes-provider/main.go" . &&
    echo '{}' >schema-embed.json && echo '{}' >terraform-mapping-embed.json &&
    GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_MODULE" \
      "github.com/pulumi/pulumi-kubernetes/sdk/v4@$PULUMI_KUBERNETES_GO_SDK" \
      "github.com/pulumi/pulumi/pkg/v3@$PULUMI_KUBERNETES_PULUMI_SDK" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_KUBERNETES_PULUMI_SDK" &&
    GOFLAGS=-mod=mod go mod tidy &&
    dir="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes" &&
    VERSION="$PULUMI_KUBERNETES_VERSION" SRC="$dir" node -e '
      const fs = require("node:fs");
      const schema = JSON.parse(fs.readFileSync(process.env.SRC + "/schema.json", "utf8"));
      schema.version = process.env.VERSION;
      fs.writeFileSync("schema-embed.json", JSON.stringify(schema));
      fs.writeFileSync("terraform-mapping-embed.json",
        JSON.stringify(JSON.parse(fs.readFileSync(process.env.SRC + "/terraform-mapping.json", "utf8"))));' &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
      -o "$BIN/pulumi-resource-kubernetes" .
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 with replaces into ./staging, which a dependency's
# go.mod cannot use: require each at the matching v0.x (the k8s.io/sample-* ones are not served and not needed).
build_control_plane() {
  local minor=${KUBERNETES_VERSION#v1.} staging=() m
  minor=${minor%%.*}
  for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap \
    code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib \
    dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy \
    kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission; do
    staging+=("k8s.io/$m@v0.${KUBERNETES_VERSION#v1.}")
  done
  local v="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
  v+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl) pkgs=() c
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  wrapper_mod kubernetes-control-plane &&
    GOFLAGS=-mod=mod go get "${pkgs[@]/%/@$KUBERNETES_VERSION}" "${staging[@]}" &&
    go build -trimpath -ldflags "-s -w $v" -o "$BIN/" "${pkgs[@]}" &&
    prints "Kubernetes $KUBERNETES_VERSION" "$BIN/kube-apiserver" --version
}

# etcd's server main package is not its own module: a five-line main calls etcdmain.Main.
build_etcd() {
  wrapper_mod etcd &&
    cp "$ROOT/scripts/setup/go/etcd/main.go" . &&
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
    GOFLAGS=-mod=mod go mod tidy &&
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" . &&
    prints "etcd Version: ${ETCD_VERSION#v}" "$BIN/etcd" --version
}

# jaeger's go.mod replaces sarama, so `go install …/cmd/jaeger@v` is refused: require it and repeat that replace.
# The UI's assets are an npm build of another repository, not in the module: the query API answers, the UI is a
# placeholder page.
build_jaeger() {
  wrapper_mod jaeger &&
    go mod edit -replace github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0 &&
    GOFLAGS=-mod=mod go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$BIN/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger &&
    prints "Jaeger backend v2" "$BIN/jaeger" --help
}

install_pulumi() { go_wrapper pulumi "$PULUMI_VERSION" build_pulumi pulumi; }
install_kubernetes_provider() {
  go_wrapper pulumi-resource-kubernetes "$PULUMI_KUBERNETES_VERSION@$PULUMI_KUBERNETES_MODULE" build_kubernetes_provider \
    pulumi-resource-kubernetes
}
install_control_plane() {
  go_wrapper kube-apiserver "$KUBERNETES_VERSION" build_control_plane kube-apiserver kube-controller-manager kube-scheduler kubectl
}
install_etcd() { go_wrapper etcd "$ETCD_VERSION" build_etcd etcd; }
install_jaeger() { go_wrapper jaeger "$JAEGER_VERSION" build_jaeger jaeger; }
install_kwok() { go_tool kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok; }

# module_dir <module@version>: downloads a module zip from the proxy and prints its directory.
module_dir() {
  (cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# Upstream manifests, as the projects publish them in their Go module zips: the CRDs the program creates objects of
# (controller-gen output from their API types) and kwok's own Stage objects (nodes initialize and heartbeat, pods
# become Ready, are deleted). Strimzi publishes no CRD YAML: its API model jar (Crds.* and the Jackson classes its
# operator reads our objects with) comes from Maven Central.
install_upstream_manifests() {
  local out="$CACHE/upstream" gw cm kw po
  local stamp="gateway-api $GATEWAY_API_VERSION cert-manager $CERT_MANAGER_VERSION kwok $KWOK_VERSION strimzi $STRIMZI_VERSION prometheus-operator $PROMETHEUS_OPERATOR_VERSION crds"
  if [[ -f "$out/.complete" ]] && stamp_matches upstream "$stamp"; then
    echo "present"
    return
  fi
  rm -rf "$out"
  mkdir -p "$out/gateway-api" "$out/cert-manager" "$out/kwok-stages" "$out/strimzi" "$out/prometheus-operator"
  gw="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")" && [[ -d "$gw/config/crd/standard" ]] &&
    cp "$gw"/config/crd/standard/*.yaml "$out/gateway-api/" &&
    cm="$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")" && [[ -d "$cm/deploy/crds" ]] &&
    cp "$cm"/deploy/crds/*.yaml "$out/cert-manager/" &&
    kw="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage" &&
    cp "$kw"/node/fast/node-initialize.yaml "$kw"/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      "$kw"/pod/fast/pod-ready.yaml "$kw"/pod/fast/pod-complete.yaml "$kw"/pod/fast/pod-delete.yaml "$out/kwok-stages/" &&
    po="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")/example/prometheus-operator-crd" &&
    cp "$po"/monitoring.coreos.com_servicemonitors.yaml "$po"/monitoring.coreos.com_prometheusrules.yaml "$out/prometheus-operator/" &&
    chmod -R u+w "$out" ||
    { echo "could not take the upstream manifests from the Go module proxy" >&2; return 1; }
  mvn -q -B -f "$ROOT/scripts/setup/strimzi/pom.xml" -Dstrimzi.version="$STRIMZI_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out/strimzi" >"$CACHE/strimzi-maven.log" 2>&1 ||
    { tail -n 20 "$CACHE/strimzi-maven.log" >&2; return 1; }
  java -cp "$out/strimzi/*" "$ROOT/scripts/setup/strimzi/StrimziModel.java" crds >"$out/strimzi-crds.json" 2>"$CACHE/strimzi-crds.log" ||
    { tail -n 20 "$CACHE/strimzi-crds.log" >&2; return 1; }
  touch "$out/.complete"
  write_stamp upstream "$stamp"
  echo "gateway-api $GATEWAY_API_VERSION, cert-manager $CERT_MANAGER_VERSION, kwok stages $KWOK_VERSION, strimzi api $STRIMZI_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
}

# A Python for the schemathesis venv: 3.12 or newer where there is one, since CPython 3.11's ast.parse can fail
# with "AST constructor recursion depth mismatch" inside hypothesis while schemathesis builds its coverage cases.
schemathesis_python() {
  local candidate
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  command -v python3 >/dev/null || { echo "python3 is not on PATH" >&2; return 1; }
  echo "schemathesis: no Python >= 3.12 found, using python3 (its coverage phase may fail)" >&2
  echo python3
}

# install_schemathesis: the API fuzzer in its own venv, pinned, linked as $BIN/schemathesis (test/fuzz).
install_schemathesis() {
  local python pyver venv stamp
  python="$(schemathesis_python)"
  pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  venv="$CACHE/tools/schemathesis-$SCHEMATHESIS_VERSION-py$pyver"
  stamp="$SCHEMATHESIS_VERSION py$pyver"
  # A venv's scripts name its absolute path: one copied or moved from elsewhere is rebuilt.
  if [[ -x "$venv/bin/schemathesis" && -L "$BIN/schemathesis" ]] && stamp_matches schemathesis "$stamp" \
    && "$BIN/schemathesis" --version >/dev/null 2>&1; then
    echo "$stamp present"
    return
  fi
  rm -rf "$venv"
  { "$python" -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; } \
    >"$CACHE/schemathesis.log" 2>&1 || { tail -n 20 "$CACHE/schemathesis.log" >&2; return 1; }
  ln -sfn "../schemathesis-$SCHEMATHESIS_VERSION-py$pyver/bin/schemathesis" "$BIN/schemathesis"
  write_stamp schemathesis "$stamp"
  echo "$stamp installed"
}

check_prerequisites() {
  local tool
  for tool in java mvn go python3; do
    command -v "$tool" >/dev/null || { echo "'$tool' is not on PATH: install it (Java 17 JDK + Maven, Go >= 1.24, Python >= 3.9 with venv)" >&2; return 1; }
  done
  echo "java, mvn, go found"
}

step "prerequisites" check_prerequisites
step "apt packages" install_apt
step "kafka" install_kafka
step "ferretdb" install_ferretdb
step "k6" install_k6
step "jaeger" install_jaeger
step "schemathesis" install_schemathesis
step "actionlint" install_actionlint
step "kube-score" install_kube_score
step "upstream manifests" install_upstream_manifests
step "etcd" install_etcd
step "kwok" install_kwok
step "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl" install_control_plane
step "pulumi" install_pulumi
step "pulumi-resource-kubernetes" install_kubernetes_provider
step "base image" install_base_image

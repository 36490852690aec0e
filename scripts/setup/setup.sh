#!/usr/bin/env bash
# Installs the real backing servers and tools the tests and the local environment run.
# Idempotent: every step checks a version stamp first, so a warm run takes seconds.
# Targets a fresh Debian 12 machine as root; downloads are cached under $ROOT/.cache.
set -euo pipefail
# Keep errexit inside $(...) so a failing step function stops at its first error.
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# KAFKA_VERSION, FERRETDB_VERSION, K6_VERSION, ACTIONLINT_VERSION, KUBE_SCORE_VERSION
# shellcheck source=versions.env
source "$ROOT/scripts/setup/versions.env"
APT_PACKAGES=(redis-server nginx-light pdns-server pdns-backend-bind dnsutils curl iproute2 procps)
# Daemons the packages start by default; the harness runs its own instances on free ports instead.
APT_SERVICES=(redis-server nginx pdns)

CACHE="$ROOT/.cache"
BIN="$CACHE/tools/bin"
STAMPS="$CACHE/tools/stamps"
mkdir -p "$BIN" "$STAMPS"

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

install_kafka() {
  local dir="$CACHE/kafka/$KAFKA_VERSION"
  if [[ -f "$dir/.complete" ]]; then
    echo "$KAFKA_VERSION present"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/libs"
  mvn -q -B -f "$ROOT/scripts/setup/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs" >"$CACHE/kafka-maven.log" 2>&1 ||
    { tail -n 20 "$CACHE/kafka-maven.log" >&2; return 1; }
  touch "$dir/.complete"
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

check_prerequisites() {
  local tool
  for tool in java mvn go; do
    command -v "$tool" >/dev/null || { echo "'$tool' is not on PATH: install it (Java 17 JDK + Maven, Go >= 1.24)" >&2; return 1; }
  done
  echo "java, mvn, go found"
}

step "prerequisites" check_prerequisites
step "apt packages" install_apt
step "kafka" install_kafka
step "ferretdb" install_ferretdb
step "k6" install_k6
step "actionlint" install_actionlint
step "kube-score" install_kube_score

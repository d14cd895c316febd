#!/usr/bin/env bash
# Set up (or refresh) the development environment. Idempotent: a re-run with nothing changed
# only checks stamps and takes well under 2 seconds.
#
#   .venv/        python3.11 venv: requirements-dev.txt + `pip install -e .` (localcloud)
#   .tools/sam/   AWS SAM CLI in its own venv (its boto3 pins fight moto's); .venv/bin/sam wraps it
#
# Environment:
#   PYTHON              interpreter used to create .venv (default: python3.11, else python3 >= 3.11)
#   SETUP_SAM=0|1       install the SAM CLI (default 1; only `make validate` / `make build` need it)
#   SAM_CLI_VERSION     aws-sam-cli version for .tools/sam (default below)
#   APT_PACKAGES        extra Debian packages, space separated (installed only when missing)
#   EXTRA_REQUIREMENTS  extra pip requirement files, space separated, installed into .venv
set -euo pipefail

SAM_CLI_VERSION_DEFAULT=1.170.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=.venv
SAM_VENV=.tools/sam
SETUP_SAM="${SETUP_SAM:-1}"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-$SAM_CLI_VERSION_DEFAULT}"
APT_PACKAGES="${APT_PACKAGES:-}"
EXTRA_REQUIREMENTS="${EXTRA_REQUIREMENTS:-}"

log() { printf '[setup] %s\n' "$*"; }

# The apps' own needs (deps/README.md): Debian packages and extra pip requirement files.
if [ -f deps/apt.txt ]; then
    APT_PACKAGES="$APT_PACKAGES $(sed -e 's/#.*//' deps/apt.txt | xargs)"
fi
for req in deps/python-*.txt; do
    [ -f "$req" ] && EXTRA_REQUIREMENTS="$EXTRA_REQUIREMENTS $req"
done

# This machine's pip config names an optional local index directory that may be absent; pip
# then prints one "is ignored" warning per package. Drop just those lines, keep everything else
# (and pip's exit status, thanks to pipefail).
pip_quiet() {
    "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

sha1_of() { cat "$@" | sha1sum | cut -c1-40; }

# apt_ensure pkg...: install the Debian packages that dpkg does not report as installed.
# `apt-get update` runs only when something actually has to be installed.
apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    log "apt: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

find_python() {
    local cand
    for cand in "${PYTHON:-}" python3.11 python3; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$cand"
            return 0
        fi
    done
    echo "[setup] error: need Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

# A venv whose interpreter no longer runs (moved repo, removed Python) is rebuilt.
venv_ok() { [ -x "$1/bin/python" ] && "$1/bin/python" -c 'import sys' >/dev/null 2>&1; }

# --- Debian packages ------------------------------------------------------------------------
if [ -n "${APT_PACKAGES// /}" ]; then
    # shellcheck disable=SC2086  # word splitting intended: space separated list
    apt_ensure $APT_PACKAGES
fi

# --- .venv ----------------------------------------------------------------------------------
STAMP="$VENV/.stamp-$(sha1_of requirements-dev.txt pyproject.toml)"
if ! venv_ok "$VENV"; then
    PY="$(find_python)"
    log "creating $VENV with $PY ($("$PY" --version 2>&1))"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

if [ -e "$STAMP" ]; then
    log "$VENV up to date ($(basename "$STAMP"))"
    touch "$STAMP"   # newer than its inputs, so make's stamp rule stays satisfied
else
    log "installing requirements-dev.txt into $VENV"
    pip_quiet "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
    log "installing the project (pip install -e .)"
    pip_quiet "$VENV/bin/python" -m pip install -q -e . --no-deps
    # Old stamps go, the extra-requirement ones too: re-pinning the base may have undone them.
    rm -f "$VENV"/.stamp-*
    touch "$STAMP"
    log "$VENV ready ($(basename "$STAMP"))"
fi

# --- extra requirement files ----------------------------------------------------------------
for req in $EXTRA_REQUIREMENTS; do
    if [ ! -f "$req" ]; then
        echo "[setup] error: EXTRA_REQUIREMENTS names $req, which does not exist" >&2
        exit 1
    fi
    xstamp="$VENV/.stamp-extra-$(sha1_of "$req")"
    if [ -e "$xstamp" ]; then
        log "$req up to date"
    else
        log "installing $req into $VENV"
        pip_quiet "$VENV/bin/python" -m pip install -q -r "$req"
        touch "$xstamp"
    fi
done

# --- SAM CLI in its own venv ----------------------------------------------------------------
if [ "$SETUP_SAM" = "1" ]; then
    SAM_STAMP="$SAM_VENV/.stamp-aws-sam-cli-$SAM_CLI_VERSION"
    if [ -e "$SAM_STAMP" ] && venv_ok "$SAM_VENV"; then
        log "SAM CLI $SAM_CLI_VERSION up to date ($SAM_VENV)"
    else
        if ! venv_ok "$SAM_VENV"; then
            PY="$(find_python)"
            log "creating $SAM_VENV with $PY"
            rm -rf "$SAM_VENV"
            mkdir -p "$(dirname "$SAM_VENV")"
            "$PY" -m venv "$SAM_VENV"
        fi
        log "installing aws-sam-cli==$SAM_CLI_VERSION into $SAM_VENV"
        pip_quiet "$SAM_VENV/bin/python" -m pip install -q "aws-sam-cli==$SAM_CLI_VERSION"
        rm -f "$SAM_VENV"/.stamp-aws-sam-cli-*
        touch "$SAM_STAMP"
    fi
    # Wrapper rather than symlink: finds .tools relative to itself and turns telemetry off
    # (no network here; CI must not try to phone home).
    WRAPPER="$VENV/bin/sam"
    WRAPPER_BODY='#!/usr/bin/env bash
# Generated by scripts/setup.sh: the SAM CLI lives in .tools/sam (its own pins).
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../.tools/sam/bin/sam" "$@"'
    if [ ! -x "$WRAPPER" ] || [ "$(cat "$WRAPPER")" != "$WRAPPER_BODY" ]; then
        log "writing $WRAPPER (wraps $SAM_VENV/bin/sam)"
        printf '%s\n' "$WRAPPER_BODY" >"$WRAPPER"
        chmod +x "$WRAPPER"
    fi
else
    log "SETUP_SAM=0: skipping the SAM CLI"
fi

log "done"

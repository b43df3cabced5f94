#!/usr/bin/env bash
# Set up KizunaSR on a Debian/Ubuntu machine: system packages, a Python >= 3.12
# virtual environment in .venv and the package installed editable into it.
#
# Idempotent: a second run only checks and exits within a second or two.
#
# Environment:
#   KIZUNASR_CUDA=1   install onnxruntime-gpu (extra "cuda") instead of onnxruntime
#                     (also chosen automatically when `nvidia-smi -L` succeeds);
#                     KIZUNASR_CUDA=0 forces the CPU build.
#   KIZUNASR_TORCH=1  also install PyTorch (extra "torch": `kizunasr train`, the torch backend); the test
#                     command sets it (training is tested). PyPI's Linux build is a CUDA one, several GB.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

VENV="$REPO/.venv"
STAMP="$VENV/.kizunasr-setup-stamp"
DEB_PACKAGES=(mesa-vulkan-drivers libvulkan1 ffmpeg mpv libmpv-dev xvfb xauth)
MIN_MINOR=12 # Python 3.MIN_MINOR or newer

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
install_debian_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        warn "not a Debian-like system (no dpkg-query/apt-get); make sure these are installed: ${DEB_PACKAGES[*]}"
        return 0
    fi
    local missing=() pkg
    for pkg in "${DEB_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "debian packages: all present"
        return 0
    fi
    if [[ "$(id -u)" -eq 0 ]]; then
        log "debian packages: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        warn "missing debian packages: ${missing[*]}"
        warn "install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}"
        warn "continuing; features that need them (mpv, ffmpeg, Vulkan, Xvfb) may fail or be skipped"
    fi
}

# --- Python ------------------------------------------------------------------
# Prints "MAJOR.MINOR.MICRO" when interpreter $1 runs and is >= 3.MIN_MINOR;
# with a second argument "venv" it must also be able to create virtual
# environments (Debian splits venv/ensurepip into python3.X-venv).
python_ok() {
    local py="$1" need_venv="${2:-}"
    "$py" -c "
import sys
if sys.version_info < (3, $MIN_MINOR):
    raise SystemExit(1)
if '$need_venv':
    import venv, ensurepip  # noqa: F401
print('%d.%d.%d' % sys.version_info[:3])
" 2>/dev/null
}

# Prints the absolute path of the first suitable interpreter.
find_python() {
    local cand path root
    # 1. PATH (the pyenv shims of a version that is not selected fail here, that is fine)
    for cand in python3.13 python3.12 python3 python; do
        path="$(command -v "$cand" 2>/dev/null)" || continue
        if python_ok "$path" venv >/dev/null; then
            # Resolve shims/symlinks to the real interpreter so the venv does not
            # depend on PYENV_VERSION or the current directory.
            "$path" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    # 2. pyenv installations, highest version first
    root=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
    fi
    local roots=()
    [[ -n "$root" ]] && roots+=("$root")
    [[ -n "${PYENV_ROOT:-}" ]] && roots+=("$PYENV_ROOT")
    roots+=("$HOME/.pyenv")
    for root in "${roots[@]}"; do
        [[ -d "$root/versions" ]] || continue
        while IFS= read -r path; do
            [[ -n "$path" ]] || continue
            if python_ok "$path" venv >/dev/null; then
                echo "$path"
                return 0
            fi
        done < <(compgen -G "$root/versions/3.1[2-9]*/bin/python" | sort -r -V)
    done
    return 1
}

python_install_hint() {
    local id="" version=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        id="$(. /etc/os-release && echo "${ID:-}")"
        # shellcheck disable=SC1091
        version="$(. /etc/os-release && echo "${VERSION_ID:-}")"
    fi
    {
        echo "[setup] ERROR: no Python >= 3.$MIN_MINOR (with the venv module) found on PATH or in pyenv."
        echo "[setup] Install one, then run this script again:"
        echo "[setup]   Ubuntu 24.04:  sudo apt-get install python3.12 python3.12-venv"
        echo "[setup]   Debian 13:     sudo apt-get install python3 python3-venv   (Python 3.13)"
        echo "[setup]   any distribution (pyenv):  pyenv install 3.12"
        if [[ "$id" == debian && "$version" == 12 ]]; then
            echo "[setup]   (this is Debian 12, whose apt has only Python 3.11: use pyenv)"
        fi
    } >&2
}

install_debian_packages

# --- virtual environment -------------------------------------------------------
venv_version=""
if [[ -x "$VENV/bin/python" ]] && venv_version="$(python_ok "$VENV/bin/python")"; then
    log "venv: $VENV (Python $venv_version)"
else
    if [[ -e "$VENV" ]]; then
        warn "existing $VENV is broken or older than Python 3.$MIN_MINOR; recreating it"
    fi
    if ! PYTHON="$(find_python)"; then
        python_install_hint
        exit 1
    fi
    log "python: $PYTHON ($(python_ok "$PYTHON"))"
    rm -rf "$VENV"
    log "venv: creating $VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV with $PYTHON"
    venv_version="$(python_ok "$VENV/bin/python")" || die "the new venv's python does not work"
fi

# --- Python packages -------------------------------------------------------------
case "${KIZUNASR_CUDA:-}" in
    1 | true | yes) use_cuda=1 ;;
    0 | false | no) use_cuda=0 ;;
    *) if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then use_cuda=1; else use_cuda=0; fi ;;
esac
if ((use_cuda)); then
    extras="cuda,test"
    ort_want="onnxruntime-gpu"
    ort_other="onnxruntime"
else
    extras="cpu,test"
    ort_want="onnxruntime"
    ort_other="onnxruntime-gpu"
fi

case "${KIZUNASR_TORCH:-0}" in
    1 | true | yes) extras="$extras,torch" ;;
esac

stamp="$({
    cat pyproject.toml
    echo "extras=$extras"
    echo "python=$venv_version"
} | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$stamp" && -x "$VENV/bin/kizunasr" ]]; then
    log "python packages: up to date (.[$extras])"
else
    pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
    # onnxruntime and onnxruntime-gpu share the `onnxruntime` import package:
    # never keep both. If the unwanted one is there, remove both and reinstall
    # the wanted one cleanly (removing one would delete the other's files).
    if "${pip[@]}" show -q "$ort_other" >/dev/null 2>&1; then
        log "python packages: removing $ort_other (switching to $ort_want)"
        "${pip[@]}" uninstall -y -q "$ort_other" "$ort_want" >/dev/null 2>&1 || true
    fi
    log "python packages: installing -e .[$extras]"
    "${pip[@]}" install -q -e ".[$extras]"
    echo "$stamp" >"$STAMP"
fi

# vspipe (shipped by the vapoursynth wheel) needs a runtime configuration naming this Python.
if ! "$VENV/bin/vspipe" --version >/dev/null 2>&1; then
    log "vapoursynth: writing the runtime configuration for vspipe"
    "$VENV/bin/vapoursynth" config >/dev/null
fi

log "done; venv: $VENV"

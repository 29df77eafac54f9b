# shellcheck shell=bash
# Shared helpers for the development scripts (sourced, never executed).
#
# Home Assistant >= 2026.3 needs Python >= 3.14.2. Two strategies provide it, one file each:
#   lib-host.sh     a `python3.14` >= 3.14.2 on the host's PATH, used directly;
#   lib-chroot.sh   otherwise, a minimal Debian testing root file system with python3.14,
#                   built with debootstrap; every command runs inside it with chroot.
# This file chooses the strategy, sources its file, and builds the rest (venvs, npm packages,
# running a command in a venv) on the three functions every strategy defines:
#   snt_env_prepare [--check] [--debs]
#       make sure the runtime exists (the chroot, or uv beside the host's Python) and, with
#       --debs, the Debian packages SNT_ENV_DEBS; with --check only test that it does
#   snt_env_run WORKDIR VENV BIND -- CMD...
#       replace the calling shell with CMD run in the env (cwd WORKDIR, the venv VENV first
#       on PATH if non-empty, the repository and ../shared visible at their own paths if
#       BIND=1); run it in a subshell, ( snt_env_run ... ), to get its exit status
#   snt_env_path PATH
#       print the host's path of PATH as seen inside the env
# and the constants SNT_ENV_BASE (the directory holding uv/, venvs/ and npm/, as seen inside
# the env), SNT_ENV_PY (its python3.14), SNT_ENV_PY_KEY (what identifies that Python in the
# venv keys), SNT_ENV_UVCACHE (uv's cache) and SNT_ENV_COPIES_REPO (1 when the repository is
# copied into the env instead of shared with it).
#
# Every command runs under scripts/_pidns_init.py: in a PID namespace of its own, so nothing
# it starts (a `hass` in its own process group, say) outlives it.
#
# Everything lives outside the clone, shared by all clones, under
#   ${SINOTRACK_CACHE:-$HOME/.cache/sinotrack-ha}/
#     rootfs-<key>/                      the chroot (key: suite, packages, recipe version)
#       opt/uv/                          pinned uv, in a venv of its own
#       opt/venvs/<env>-<lockhash>/      one venv per lock file requirements/test-<env>.txt
#                                        (requirements/run-<ha>.txt for the run envs)
#       var/cache/uv/                    uv's download cache
#       opt/npm/<lockhash>/node_modules/ the npm packages of tools/icu/package-lock.json
#       opt/schemas/gpx-1.1.xsd          the GPX 1.1 schema, from Debian's pytrainer package
#       .sinotrack-debs-<key>            marker: the Debian packages $SNT_ENV_DEBS are installed
#     host/                              the same layout when a host python3.14 is used
#     provision.lock                     serialises concurrent set-ups
# A half-built rootfs or venv has no `.sinotrack-complete` marker and is rebuilt.
#
# Knobs: SINOTRACK_CACHE, SINOTRACK_FORCE_CHROOT=1 (ignore a host python3.14),
# SINOTRACK_DEBIAN_SUITE (default testing), SINOTRACK_DEBIAN_MIRROR (default: the host's apt
# mirror), SINOTRACK_NO_MOUNT=1 (copy the repo into the chroot instead of bind mounting it).

set -euo pipefail

SNT_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SNT_REPO="$(cd "$SNT_SCRIPTS/.." && pwd -P)"
SNT_SHARED="$(cd "$SNT_REPO/.." && pwd -P)/shared"

# The test environments: requirements/test-<env>.in -> requirements/test-<env>.txt (lock).
SNT_MAIN_ENV=ha2026.10
SNT_ALL_ENVS=(ha2026.10 ha2026.5)
# The run environments: a real Home Assistant with its frontend, for `make run`, the screenshot
# and the end-to-end tests: requirements/run-<ha>.in -> requirements/run-<ha>.txt. SNT_RUN_ENV
# is the current release's, the default of `make run` and `make screenshot`.
SNT_RUN_ENV=run-ha2026.11
SNT_RUN_ENVS=(run-ha2026.11 run-ha2026.5)
# The end-to-end tests (tests/e2e) of the main test env run Home Assistant from the current
# release's run env (SNT_RUN_ENV); those of another test env <ha> from run-<ha>.
snt_e2e_run_env() {
	if [[ $1 == "$SNT_MAIN_ENV" ]]; then printf '%s' "$SNT_RUN_ENV"; else printf 'run-%s' "$1"; fi
}
# Debian packages the tests need inside the env (the chroot, or the host when it has Python
# 3.14): chromium for the browser tests, node and npm for the translation check (the npm
# packages of tools/icu/package-lock.json, installed with `npm ci`), valgrind for the trip
# benchmark's instruction counts (benchmarks/bench_trips_ha.py --instructions).
SNT_ENV_DEBS=(chromium nodejs npm valgrind)
SNT_NPM_PROJECT=tools/icu
# The official GPX 1.1 schema (Topografix's gpx.xsd), which the tests check every GPX export
# against (tests/support/gpx.py). Debian ships it in pytrainer: the env's apt-get (the
# chroot's, or the host's) downloads that package, and only the schema is kept from it; the
# package itself is never installed.
SNT_GPX_DEB=pytrainer
SNT_GPX_MEMBER=usr/share/pytrainer/schemas/Topografix_gpx11.xsd
SNT_GPX_NAMESPACE=http://www.topografix.com/GPX/1/1

SNT_UV_VERSION=0.13.9
SNT_MIN_PYTHON=3.14.2
SNT_MARKER=.sinotrack-complete

snt_log() { printf '[sinotrack] %s\n' "$*" >&2; }
snt_die() {
	printf '[sinotrack] ERROR: %s\n' "$*" >&2
	exit 1
}

mkdir -p "${SINOTRACK_CACHE:-${HOME:-/root}/.cache/sinotrack-ha}"
SNT_CACHE="$(cd "${SINOTRACK_CACHE:-${HOME:-/root}/.cache/sinotrack-ha}" && pwd -P)"

# ---------------------------------------------------------------------------------------------
# Small utilities (for both strategies)

snt_need_root() {
	[[ $(id -u) == 0 ]] || snt_die "$1 needs root"
}

# apt-get install on the host, of those of the given packages that are not installed.
snt_apt_install() {
	local missing=() p
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	((${#missing[@]})) || return 0
	snt_need_root "installing ${missing[*]}"
	snt_log "apt-get install ${missing[*]}"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 </dev/null
}

# rm -rf that first detaches anything still mounted below the path (e.g. from an interrupted
# debootstrap) so it can never reach into the host's /dev, /proc or the repository.
snt_rmtree() {
	local d="$1" mnts
	[[ -e $d ]] || return 0
	[[ $d == "$SNT_CACHE"/* ]] || snt_die "refusing to delete $d (outside $SNT_CACHE)"
	mnts="$(awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)"
	if [[ -n $mnts ]]; then
		snt_log "unmounting leftovers under $d"
		while read -r m; do umount -l "$m" 2>/dev/null || true; done <<<"$mnts"
	fi
	rm -rf --one-file-system "$d"
}

# Can commands get a private mount namespace (to mount /proc, and the chroot's bind mounts)?
snt_can_mount() {
	[[ ${SINOTRACK_NO_MOUNT:-0} != 1 ]] &&
		unshare --mount --propagation private -- mount -t tmpfs none "$SNT_CACHE" 2>/dev/null
}
if snt_can_mount; then SNT_CAN_MOUNT=1; else SNT_CAN_MOUNT=0; fi

# The environment variables of a command in the env, NAME=VALUE, each followed by a NUL:
#   snt_env_vars VENV BIND   (VENV: the venv's path inside the env, or empty; BIND as above)
# PATH is the strategy's (VENV's bin first).
snt_env_vars() {
	local venv="$1" bind="$2" name
	printf '%s\0' UV_CACHE_DIR="$SNT_ENV_UVCACHE" UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1 \
		SINOTRACK_REPO="$SNT_REPO" SINOTRACK_IN_ENV=1
	if [[ -n $venv ]]; then
		name="${venv##*/}"
		printf '%s\0' VIRTUAL_ENV="$venv" MYPY_CACHE_DIR="$venv/mypy-cache" UV_PYTHON="$venv/bin/python" \
			SINOTRACK_ENV="${name%-*}" SINOTRACK_VENV="$venv"
		[[ $name == run-* ]] || printf '%s\0' SINOTRACK_E2E_RUN_ENV="$(snt_e2e_run_env "${name%-*}")"
	fi
	printf '%s\0' SINOTRACK_NODE_MODULES="$(snt_npm_dir)/node_modules" SINOTRACK_GPX_XSD="$(snt_gpx_xsd)"
	if [[ $bind == 1 ]]; then printf '%s\0' PYTHONPATH="$SNT_REPO"; fi
}

# ---------------------------------------------------------------------------------------------
# The strategy

# Print the host's python3.14 if it is recent enough (and not overridden by
# SINOTRACK_FORCE_CHROOT=1); fail otherwise.
snt_host_python() {
	[[ ${SINOTRACK_FORCE_CHROOT:-0} == 1 ]] && return 1
	local py
	py="$(command -v python3.14 2>/dev/null)" || return 1
	"$py" -c "import sys, ensurepip, venv; sys.exit(sys.version_info < (${SNT_MIN_PYTHON//./, }))" \
		2>/dev/null || return 1
	printf '%s' "$py"
}

if SNT_HOST_PY="$(snt_host_python)"; then
	# shellcheck source-path=SCRIPTDIR source=lib-host.sh
	source "$SNT_SCRIPTS/lib-host.sh"
else
	# shellcheck source-path=SCRIPTDIR source=lib-chroot.sh
	source "$SNT_SCRIPTS/lib-chroot.sh"
fi
SNT_ENV_UV="$SNT_ENV_BASE/uv/bin/uv"

# snt_in_env VENV -- CMD... : run CMD in the env (cwd /, no repository), as a child.
snt_in_env() {
	local venv="$1"
	shift 2
	(snt_env_run / "$venv" 0 -- "$@")
}

# ---------------------------------------------------------------------------------------------
# Venvs and npm packages

snt_lock_file() {
	case "$1" in
	run-*) printf '%s/requirements/%s.txt' "$SNT_REPO" "$1" ;;
	*) printf '%s/requirements/test-%s.txt' "$SNT_REPO" "$1" ;;
	esac
}

# Print env $1's venv path (inside the env): keyed by a hash of its lock file, so a changed
# lock gets a new venv. Fails if there is no lock file.
snt_venv_path() {
	local lock hash
	lock="$(snt_lock_file "$1")"
	[[ -f $lock ]] || return 1
	hash="$({
		cat "$lock"
		printf '%s\n' "$SNT_UV_VERSION" "$SNT_ENV_PY_KEY"
	} | sha256sum | cut -c1-12)"
	printf '%s' "$SNT_ENV_BASE/venvs/$1-$hash"
}

# Build env $1's venv unless it is complete.
snt_ensure_venv() {
	local name="$1" lock vdir out
	lock="$(snt_lock_file "$name")"
	vdir="$(snt_venv_path "$name")" || snt_die "missing $lock (run: make lock)"
	out="$(snt_env_path "$vdir")"
	[[ -f $out/$SNT_MARKER ]] && return 0
	local t0=$SECONDS
	snt_log "building venv $name from requirements/${lock##*/}"
	snt_rmtree "$out"
	snt_in_env "" -- "$SNT_ENV_UV" venv -q --python "$SNT_ENV_PY" "$vdir"
	cp "$lock" "$out/requirements.lock"
	snt_in_env "" -- "$SNT_ENV_UV" pip sync -q --python "$vdir/bin/python" \
		--compile-bytecode --strict "$vdir/requirements.lock"
	touch "$out/$SNT_MARKER"
	snt_log "venv $name ready in $((SECONDS - t0)) s"
	# Keep the three newest venvs of this env (other clones or branches may use older locks).
	local old venvs
	venvs="$(snt_env_path "$SNT_ENV_BASE/venvs")"
	while read -r old; do
		snt_rmtree "${old%/"$SNT_MARKER"}"
	done < <(ls -1t "$venvs/$name"-*/"$SNT_MARKER" 2>/dev/null | tail -n +4)
	for old in "$venvs/$name"-*; do
		[[ -f $old/$SNT_MARKER ]] || snt_rmtree "$old" # half-built leftovers
	done
}

# Print where (inside the env) `npm ci` installs tools/icu's lock.
snt_npm_dir() {
	local hash
	hash="$(cat "$SNT_REPO/$SNT_NPM_PROJECT/package.json" "$SNT_REPO/$SNT_NPM_PROJECT/package-lock.json" \
		2>/dev/null | sha256sum | cut -c1-12)"
	printf '%s' "$SNT_ENV_BASE/npm/$hash"
}

# Install tools/icu's npm packages unless they are there.
snt_ensure_npm() {
	local dir out
	dir="$(snt_npm_dir)"
	out="$(snt_env_path "$dir")"
	[[ -f $out/$SNT_MARKER ]] && return 0
	snt_log "npm ci: $SNT_NPM_PROJECT/package-lock.json"
	snt_rmtree "$out"
	mkdir -p "$out"
	cp "$SNT_REPO/$SNT_NPM_PROJECT/package.json" "$SNT_REPO/$SNT_NPM_PROJECT/package-lock.json" "$out/"
	snt_in_env "" -- env -C "$dir" npm ci --no-audit --no-fund --ignore-scripts \
		--cache "$dir/.npm-cache" >&2
	rm -rf "$out/.npm-cache"
	touch "$out/$SNT_MARKER"
	local old # keep the three newest installs (other clones or branches may use older locks)
	while read -r old; do
		snt_rmtree "${old%/"$SNT_MARKER"}"
	done < <(ls -1t "$(snt_env_path "$SNT_ENV_BASE/npm")"/*/"$SNT_MARKER" 2>/dev/null | tail -n +4)
}

# Print where (inside the env) the GPX 1.1 schema is kept (SINOTRACK_GPX_XSD in the env).
snt_gpx_xsd() { printf '%s' "$SNT_ENV_BASE/schemas/gpx-1.1.xsd"; }

# Fetch the GPX 1.1 schema unless it is there: `apt-get download` pytrainer in the env (after
# an `apt-get update` if the package lists do not have it), unpack the .deb, check that the
# file is the GPX 1.1 schema, keep it. Fails if any step does.
snt_ensure_gpx_xsd() {
	local xsd out work host_work log="$SNT_CACHE/gpx-schema.log" debs root=0
	xsd="$(snt_gpx_xsd)"
	out="$(snt_env_path "$xsd")"
	[[ -f $out ]] && return 0
	work="${xsd%/*}/.fetch"
	host_work="$(snt_env_path "$work")"
	snt_rmtree "$host_work"
	mkdir -p "$host_work"
	[[ $(id -u) == 0 ]] && root=1
	# Check-Valid-Until: a mirror snapshot keeps serving the Release file debootstrap used.
	# As root, apt cannot hand the download to its sandbox user in a directory of root's.
	local apt=(apt-get -q -o Acquire::Check-Valid-Until=false)
	((root)) && apt+=(-o APT::Sandbox::User=root)
	snt_log "the GPX 1.1 schema: apt-get download $SNT_GPX_DEB, keeping only /$SNT_GPX_MEMBER (log: $log)"
	if ! snt_in_env "" -- env -C "$work" "${apt[@]}" download "$SNT_GPX_DEB" >"$log" 2>&1; then
		if ((!root)); then
			tail -n 20 "$log" >&2
			snt_die "apt-get download $SNT_GPX_DEB failed (as root, make setup runs apt-get update first; full log: $log)"
		fi
		snt_log "apt-get update, then the download again"
		if ! { snt_in_env "" -- "${apt[@]}" update &&
			snt_in_env "" -- env -C "$work" "${apt[@]}" download "$SNT_GPX_DEB"; } >>"$log" 2>&1; then
			tail -n 20 "$log" >&2
			snt_die "could not download Debian's $SNT_GPX_DEB package for the GPX 1.1 schema (full log: $log)"
		fi
	fi
	debs=("$host_work/${SNT_GPX_DEB}"_*.deb)
	[[ -f ${debs[0]} ]] || snt_die "apt-get download $SNT_GPX_DEB left no .deb in $host_work (log: $log)"
	snt_in_env "" -- dpkg-deb -x "$work/${debs[0]##*/}" "$work/root" >>"$log" 2>&1 ||
		snt_die "could not unpack ${debs[0]##*/} (log: $log)"
	local got="$host_work/root/$SNT_GPX_MEMBER"
	[[ -f $got ]] || snt_die "${debs[0]##*/} has no /$SNT_GPX_MEMBER"
	if ! grep -q "targetNamespace=\"$SNT_GPX_NAMESPACE\"" "$got" || ! grep -q '<xsd:element name="gpx"' "$got"; then
		snt_die "/$SNT_GPX_MEMBER of ${debs[0]##*/} is not the GPX 1.1 schema (no targetNamespace $SNT_GPX_NAMESPACE or no gpx element)"
	fi
	cp "$got" "$out.tmp"
	mv "$out.tmp" "$out"
	snt_rmtree "$host_work"
	snt_log "GPX 1.1 schema from ${debs[0]##*/}: $xsd (sha256 $(sha256sum "$out" | cut -c1-16)...)"
}

# ---------------------------------------------------------------------------------------------
# Provisioning and running

# Is everything snt_provision would build there already?
snt_all_ready() {
	local name vdir
	if [[ ${SNT_WITH_TOOLS:-0} == 1 ]]; then
		snt_env_prepare --check --debs || return 1
		[[ -f $(snt_env_path "$(snt_npm_dir)")/$SNT_MARKER ]] || return 1
		[[ -f $(snt_env_path "$(snt_gpx_xsd)") ]] || return 1
	else
		snt_env_prepare --check || return 1
	fi
	for name in "$@"; do
		vdir="$(snt_venv_path "$name")" || return 1
		[[ -f $(snt_env_path "$vdir")/$SNT_MARKER ]] || return 1
	done
}

# snt_provision [ENV...]: the runtime (chroot, or the host's uv) and the venvs, under a lock.
# Idempotent. With SNT_WITH_TOOLS=1 also the Debian packages SNT_ENV_DEBS, the npm packages
# and the GPX 1.1 schema.
snt_provision() {
	snt_all_ready "$@" && return 0
	mkdir -p "$SNT_CACHE/host"
	(
		flock 9
		if [[ ${SNT_WITH_TOOLS:-0} == 1 ]]; then
			snt_env_prepare --debs
			snt_ensure_npm
			snt_ensure_gpx_xsd
		else
			snt_env_prepare
		fi
		local name
		for name in "$@"; do snt_ensure_venv "$name"; done
	) 9>"$SNT_CACHE/provision.lock"
}

# snt_run ENV exec|run -- CMD... : run CMD in env ENV's venv with the repo as cwd (exec: in
# place of this shell; run: as a child).
snt_run() {
	local name="$1" mode="$2" venv
	shift 3
	if [[ ${SINOTRACK_IN_ENV:-} == 1 && ${SINOTRACK_ENV:-} == "$name" ]]; then
		# Already inside this env (e.g. scripts/envrun called from `make shell`).
		cd "$SNT_REPO"
		if [[ $mode == exec ]]; then exec "$@"; fi
		"$@"
		return
	fi
	snt_provision "$name"
	venv="$(snt_venv_path "$name")"
	if [[ $mode == exec ]]; then snt_env_run "$SNT_REPO" "$venv" 1 -- "$@"; fi
	(snt_env_run "$SNT_REPO" "$venv" 1 -- "$@")
}

SNT_VERSIONS_PY='import importlib.metadata as m, platform, sys
def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None
phacc = version("pytest-homeassistant-custom-component")
frontend = version("home-assistant-frontend")
print("[sinotrack] env %s: Python %s (%s), homeassistant %s%s%s" % (
    sys.argv[1], platform.python_version(), sys.executable, version("homeassistant"),
    ", PHACC %s" % phacc if phacc else "", ", frontend %s" % frontend if frontend else ""))'

snt_print_versions() { snt_run "$1" run -- python -c "$SNT_VERSIONS_PY" "$1" >&2; }

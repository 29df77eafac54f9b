# shellcheck shell=bash
# Shared helpers for the development scripts (sourced, never executed).
#
# Home Assistant >= 2026.3 needs Python >= 3.14.2. When the host has such a `python3.14` on
# PATH it is used directly; otherwise a minimal Debian testing root file system with
# python3.14 is built with debootstrap and every command runs inside it with chroot.
#
# Everything lives outside the clone, shared by all clones, under
#   ${SINOTRACK_CACHE:-$HOME/.cache/sinotrack-ha}/
#     rootfs-<key>/                      the chroot (key: suite, packages, recipe version)
#       opt/uv/                          pinned uv, in a venv of its own
#       opt/venvs/<env>-<lockhash>/      one venv per lock file requirements/test-<env>.txt
#                                        (requirements/run-<ha>.txt for the run envs)
#       var/cache/uv/                    uv's download cache
#       opt/npm/<lockhash>/node_modules/ the npm packages of tools/icu/package-lock.json
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
# packages of tools/icu/package-lock.json, installed with `npm ci`).
SNT_ENV_DEBS=(chromium nodejs npm)
SNT_NPM_PROJECT=tools/icu

SNT_UV_VERSION=0.13.9
SNT_MIN_PYTHON=3.14.2
SNT_SUITE="${SINOTRACK_DEBIAN_SUITE:-testing}"
SNT_DEB_PACKAGES=python3.14,python3.14-venv,tzdata,tzdata-legacy
SNT_ROOTFS_RECIPE=1 # bump when the rootfs recipe below changes
SNT_MARKER=.sinotrack-complete

snt_log() { printf '[sinotrack] %s\n' "$*" >&2; }
snt_die() {
	printf '[sinotrack] ERROR: %s\n' "$*" >&2
	exit 1
}

mkdir -p "${SINOTRACK_CACHE:-${HOME:-/root}/.cache/sinotrack-ha}"
SNT_CACHE="$(cd "${SINOTRACK_CACHE:-${HOME:-/root}/.cache/sinotrack-ha}" && pwd -P)"

# ---------------------------------------------------------------------------------------------
# Mode: host python3.14 or chroot. Paths named SNT_IN_* are as seen by commands run in the env.

snt_host_python() {
	[[ ${SINOTRACK_FORCE_CHROOT:-0} == 1 ]] && return 1
	local py
	py="$(command -v python3.14 2>/dev/null)" || return 1
	"$py" -c "import sys, ensurepip, venv; sys.exit(sys.version_info < (${SNT_MIN_PYTHON//./, }))" \
		2>/dev/null || return 1
	SNT_HOST_PY="$py"
}

if snt_host_python; then
	SNT_MODE=host
	SNT_ROOT=
	SNT_IN_BASE="$SNT_CACHE/host"
	SNT_IN_PY="$SNT_HOST_PY"
	SNT_PY_KEY="$("$SNT_HOST_PY" -c 'import sys; print(sys.executable, sys.version)')"
else
	SNT_MODE=chroot
	SNT_ROOT="$SNT_CACHE/rootfs-$(printf '%s\n' "$SNT_SUITE" "$SNT_DEB_PACKAGES" \
		"$SNT_ROOTFS_RECIPE" "$SNT_UV_VERSION" | sha256sum | cut -c1-12)"
	SNT_IN_BASE=/opt
	SNT_IN_PY=/usr/bin/python3.14
	SNT_PY_KEY=chroot
fi
SNT_IN_UV="$SNT_IN_BASE/uv/bin/uv"
SNT_IN_VENVS="$SNT_IN_BASE/venvs"
if [[ $SNT_MODE == host ]]; then SNT_IN_UVCACHE="$SNT_CACHE/host/uv-cache"; else SNT_IN_UVCACHE=/var/cache/uv; fi
SNT_CA_IN=/etc/ssl/certs/ca-certificates.crt # chroot only: the host's bundle is copied there

# Host-side path of a path inside the env.
snt_out() { printf '%s%s' "$SNT_ROOT" "$1"; }

# ---------------------------------------------------------------------------------------------
# Small utilities

snt_need_root() {
	[[ $(id -u) == 0 ]] || snt_die "$1 needs root (no python3.14 >= $SNT_MIN_PYTHON on PATH, so a chroot is used)"
}

SNT_APT_UPDATED=0
snt_apt_install() {
	local missing=() p
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	((${#missing[@]})) || return 0
	snt_need_root "installing ${missing[*]}"
	snt_log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [[ $SNT_APT_UPDATED == 0 ]]; then
		apt-get update -q >&2
		SNT_APT_UPDATED=1
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 </dev/null
}

# The Debian mirror the host's apt uses.
snt_mirror() {
	if [[ -n ${SINOTRACK_DEBIAN_MIRROR:-} ]]; then
		printf '%s' "$SINOTRACK_DEBIAN_MIRROR"
		return
	fi
	local m
	m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | grep -v '^[[:space:]]*#' | grep -oE '(https?|ftp)://[^[:space:]]+' |
		sed 's:/*$::' | grep -E '/debian$' | head -n1)" || true
	printf '%s' "${m:-http://deb.debian.org/debian}"
}

# Is any process running with its root inside $1 (a chroot that is in use)?
snt_in_use() {
	local d="$1" link r
	for link in /proc/[0-9]*/root; do
		r="$(readlink "$link" 2>/dev/null)" || continue
		[[ $r == "$d" || $r == "$d"/* ]] && return 0
	done
	return 1
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

# ---------------------------------------------------------------------------------------------
# Running commands in the env

SNT_MOUNT_OK=
snt_mount_ok() {
	if [[ -z $SNT_MOUNT_OK ]]; then
		SNT_MOUNT_OK=0
		if [[ ${SINOTRACK_NO_MOUNT:-0} != 1 ]] &&
			unshare --mount --propagation private -- mount -t tmpfs none "$SNT_CACHE" 2>/dev/null; then
			SNT_MOUNT_OK=1
		fi
	fi
	[[ $SNT_MOUNT_OK == 1 ]]
}

# Refresh the files the chroot borrows from the host (network config and CA bundle, which
# must be the host's: the stock bundle fails through this network's TLS proxy).
snt_sync_host_files() {
	local root="$1" src dst ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
	[[ -f $ca ]] || ca=/etc/ssl/certs/ca-certificates.crt
	mkdir -p "$root/etc/ssl/certs"
	for src in /etc/resolv.conf /etc/hosts "$ca"; do
		[[ -f $src ]] || continue
		dst="$root/etc/${src##*/}"
		[[ $src == "$ca" ]] && dst="$root$SNT_CA_IN"
		[[ -L $dst ]] && rm -f "$dst"
		cmp -s "$src" "$dst" 2>/dev/null || cat "$src" >"$dst"
	done
}

# snt_build_cmd ROOT WORKDIR VENV BIND_REPO -- CMD...
# Sets the array SNT_CMD to a command that runs CMD in the env (cwd WORKDIR, the venv VENV
# first on PATH if non-empty, the repo and ../shared visible at their own paths if BIND_REPO=1).
# Chroot mode: unshare --mount -> _chroot-enter (mounts) -> chroot -> _pidns_init.py -> env -i
# -> CMD. Each step execs the next up to the init, which runs CMD in a PID namespace and
# forwards signals (see _pidns_init.py); mounts live in a private mount namespace and vanish
# with it, so nothing needs unmounting.
snt_build_cmd() {
	local root="$1" workdir="$2" venv="$3" bind="$4"
	shift 5
	local envs=() path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin name init
	envs+=(UV_CACHE_DIR="$SNT_IN_UVCACHE" UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1)
	envs+=(SINOTRACK_REPO="$SNT_REPO" SINOTRACK_IN_ENV=1)
	if [[ -n $venv ]]; then
		envs+=(VIRTUAL_ENV="$venv" MYPY_CACHE_DIR="$venv/mypy-cache" UV_PYTHON="$venv/bin/python")
		name="${venv##*/}"
		envs+=(SINOTRACK_ENV="${name%-*}" SINOTRACK_VENV="$venv")
		[[ $name == run-* ]] || envs+=(SINOTRACK_E2E_RUN_ENV="$(snt_e2e_run_env "${name%-*}")")
	fi
	snt_npm_path
	envs+=(SINOTRACK_NODE_MODULES="$SNT_NPM_DIR/node_modules")
	[[ $bind == 1 ]] && envs+=(PYTHONPATH="$SNT_REPO")
	if [[ $SNT_MODE == host ]]; then
		init=("$SNT_IN_PY" -I -S "$SNT_SCRIPTS/_pidns_init.py")
	else
		init=(/usr/bin/python3.14 -I -S /usr/local/lib/sinotrack/pidns_init.py)
		mkdir -p "$root/usr/local/lib/sinotrack"
		cmp -s "$SNT_SCRIPTS/_pidns_init.py" "$root/usr/local/lib/sinotrack/pidns_init.py" ||
			cp "$SNT_SCRIPTS/_pidns_init.py" "$root/usr/local/lib/sinotrack/pidns_init.py"
	fi
	if snt_mount_ok; then init+=(--mount-proc); fi
	init+=(--)
	if [[ $SNT_MODE == host ]]; then
		[[ -n $venv ]] && path="$venv/bin:$PATH" || path="$PATH"
		SNT_CMD=("${init[@]}" env -u PYTHONHOME -C "$workdir" PATH="$path" "${envs[@]}" "$@")
		if snt_mount_ok; then SNT_CMD=(unshare --mount --propagation private -- "${SNT_CMD[@]}"); fi
		return
	fi
	[[ -n $venv ]] && path="$venv/bin:$path"
	envs+=(PATH="$path" HOME=/root LANG=C.UTF-8 SHELL=/bin/bash)
	envs+=(SSL_CERT_FILE="$SNT_CA_IN" REQUESTS_CA_BUNDLE="$SNT_CA_IN" PIP_CERT="$SNT_CA_IN")
	# Pass through a few harmless host variables (not the host's PIP_*/proxy/CA paths).
	while read -r name; do
		case "$name" in
		CI | TERM | COLUMNS | LINES | NO_COLOR | FORCE_COLOR | PY_COLORS | TZ | \
			PYTHONDONTWRITEBYTECODE | PYTHONUNBUFFERED | PYTHONHASHSEED | PYTHONFAULTHANDLER | \
			PYTHONWARNINGS | PYTHONTRACEMALLOC | PYTEST_* | HYPOTHESIS_* | COVERAGE_* | SINOTRACK_*)
			case "$name" in SINOTRACK_REPO | SINOTRACK_IN_ENV | SINOTRACK_ENV | SINOTRACK_VENV) continue ;; esac
			envs+=("$name=${!name}")
			;;
		esac
	done < <(compgen -e)
	snt_sync_host_files "$root"
	local binds=()
	if [[ $bind == 1 ]]; then
		binds+=("$SNT_REPO")
		[[ -d $SNT_SHARED ]] && binds+=("$SNT_SHARED")
	fi
	local inner=("${init[@]}" /usr/bin/env -i -C "$workdir" "${envs[@]}" "$@")
	if snt_mount_ok; then
		SNT_CMD=(unshare --mount --propagation private -- bash "$SNT_SCRIPTS/_chroot-enter"
			"$root" "${#binds[@]}" "${binds[@]}" -- "${inner[@]}")
	else
		local b
		for b in "${binds[@]}"; do
			snt_log "no mount namespace: copying $b into the chroot (changes made there are not copied back)"
			rm -rf --one-file-system "${root:?}$b"
			mkdir -p "$root$b"
			cp -a "$b/." "$root$b/"
		done
		SNT_CMD=(chroot "$root" "${inner[@]}")
	fi
}

# snt_inside ROOT VENV -- CMD... : run CMD in the env (cwd /, no repo), as a child.
snt_inside() {
	local root="$1" venv="$2"
	shift 3
	snt_build_cmd "$root" / "$venv" 0 -- "$@"
	"${SNT_CMD[@]}"
}

# ---------------------------------------------------------------------------------------------
# Provisioning

snt_ensure_rootfs() {
	if [[ $SNT_MODE == host ]]; then
		[[ -f $SNT_CACHE/host/uv/$SNT_MARKER ]] && return 0
		local uvenv="$SNT_CACHE/host/uv"
		snt_rmtree "$uvenv"
		snt_log "installing uv $SNT_UV_VERSION into $uvenv"
		"$SNT_HOST_PY" -m venv "$uvenv"
		"$uvenv/bin/pip" install -q --no-cache-dir --disable-pip-version-check "uv==$SNT_UV_VERSION" >&2
		touch "$uvenv/$SNT_MARKER"
		return 0
	fi
	[[ -f $SNT_ROOT/$SNT_MARKER ]] && return 0
	snt_need_root "building the chroot"
	command -v debootstrap >/dev/null || snt_apt_install debootstrap
	local partial="$SNT_ROOT.partial" mirror log="$SNT_CACHE/debootstrap.log" t0=$SECONDS
	mirror="$(snt_mirror)"
	snt_rmtree "$partial"
	snt_log "building the Python 3.14 chroot: debootstrap $SNT_SUITE from $mirror (once; a few minutes)"
	snt_log "  into $SNT_ROOT (log: $log)"
	# In its own mount namespace: debootstrap bind-mounts /dev inside containers, and an
	# interrupted run must not leave that mounted.
	if ! unshare --mount --propagation private -- debootstrap --variant=minbase \
		--include="$SNT_DEB_PACKAGES" "$SNT_SUITE" "$partial" "$mirror" >"$log" 2>&1 </dev/null; then
		tail -n 30 "$log" >&2
		snt_die "debootstrap failed (full log: $log)"
	fi
	rm -f "$partial"/var/cache/apt/archives/*.deb
	mkdir -p "$partial/opt/venvs" "$partial/var/cache/uv" "$partial/tmp"
	chmod 1777 "$partial/tmp"
	local ver
	ver="$(snt_inside "$partial" "" -- /usr/bin/python3.14 -c \
		"import sys; print('%d.%d.%d' % sys.version_info[:3]); sys.exit(sys.version_info < (${SNT_MIN_PYTHON//./, }))")" ||
		snt_die "the chroot's python3.14 is ${ver:-missing}; need >= $SNT_MIN_PYTHON (try SINOTRACK_DEBIAN_SUITE=unstable)"
	snt_log "chroot python $ver; installing uv $SNT_UV_VERSION"
	snt_inside "$partial" "" -- /usr/bin/python3.14 -m venv /opt/uv
	snt_inside "$partial" "" -- /opt/uv/bin/pip install -q --no-cache-dir --disable-pip-version-check \
		"uv==$SNT_UV_VERSION" >&2
	ln -sf /opt/uv/bin/uv "$partial/usr/local/bin/uv"
	touch "$partial/$SNT_MARKER"
	snt_rmtree "$SNT_ROOT"
	mv "$partial" "$SNT_ROOT"
	snt_log "chroot ready in $((SECONDS - t0)) s"
	# Drop chroots of other recipes that nothing runs in.
	local old
	for old in "$SNT_CACHE"/rootfs-*; do
		[[ $old == "$SNT_ROOT" || ! -d $old ]] && continue
		snt_in_use "$old" || snt_rmtree "$old"
	done
}

snt_lock_file() {
	case "$1" in
	run-*) printf '%s/requirements/%s.txt' "$SNT_REPO" "$1" ;;
	*) printf '%s/requirements/test-%s.txt' "$SNT_REPO" "$1" ;;
	esac
}

# Sets SNT_VENV to env $1's venv path (inside the env): keyed by a hash of its lock file, so a
# changed lock gets a new venv. Fails if there is no lock file.
snt_venv_path() {
	local lock hash
	lock="$(snt_lock_file "$1")"
	[[ -f $lock ]] || return 1
	hash="$({
		cat "$lock"
		printf '%s\n' "$SNT_UV_VERSION" "$SNT_PY_KEY"
	} | sha256sum | cut -c1-12)"
	SNT_VENV="$SNT_IN_VENVS/$1-$hash"
}

# Sets SNT_VENV (path inside the env) for env $1, building the venv if needed.
snt_ensure_venv() {
	local name="$1" lock vdir out
	lock="$(snt_lock_file "$name")"
	snt_venv_path "$name" || snt_die "missing $lock (run: make lock)"
	vdir="$SNT_VENV"
	out="$(snt_out "$vdir")"
	[[ -f $out/$SNT_MARKER ]] && return 0
	local t0=$SECONDS
	snt_log "building venv $name from requirements/${lock##*/}"
	snt_rmtree "$out"
	snt_inside "$SNT_ROOT" "" -- "$SNT_IN_UV" venv -q --python "$SNT_IN_PY" "$vdir"
	cp "$lock" "$out/requirements.lock"
	snt_inside "$SNT_ROOT" "" -- "$SNT_IN_UV" pip sync -q --python "$vdir/bin/python" \
		--compile-bytecode --strict "$vdir/requirements.lock"
	touch "$out/$SNT_MARKER"
	snt_log "venv $name ready in $((SECONDS - t0)) s"
	# Keep the three newest venvs of this env (other clones or branches may use older locks).
	local old
	while read -r old; do
		snt_rmtree "${old%/"$SNT_MARKER"}"
	done < <(ls -1t "$(snt_out "$SNT_IN_VENVS")/$name"-*/"$SNT_MARKER" 2>/dev/null | tail -n +4)
	for old in "$(snt_out "$SNT_IN_VENVS")/$name"-*; do
		[[ -f $old/$SNT_MARKER ]] || snt_rmtree "$old" # half-built leftovers
	done
}

# The Debian packages SNT_ENV_DEBS, in the chroot (apt-get inside it; a marker file keyed by
# the list says they are there, so that the rootfs itself need not be rebuilt), or on the host.
snt_debs_marker() {
	printf '%s/.sinotrack-debs-%s' "$SNT_ROOT" "$(printf '%s\n' "${SNT_ENV_DEBS[@]}" | sha256sum | cut -c1-12)"
}
# On the host, a package counts as there when its command is (node and npm may come from
# another source than Debian's packages, which would conflict with them).
snt_host_missing_debs() {
	local p cmd
	SNT_MISSING_DEBS=()
	for p in "${SNT_ENV_DEBS[@]}"; do
		case "$p" in nodejs) cmd=node ;; *) cmd="$p" ;; esac
		command -v "$cmd" >/dev/null 2>&1 || SNT_MISSING_DEBS+=("$p")
	done
}
snt_debs_ready() {
	if [[ $SNT_MODE == host ]]; then
		snt_host_missing_debs
		((${#SNT_MISSING_DEBS[@]} == 0))
		return
	fi
	[[ -f $(snt_debs_marker) ]]
}
snt_ensure_debs() {
	snt_debs_ready && return 0
	if [[ $SNT_MODE == host ]]; then
		snt_apt_install "${SNT_MISSING_DEBS[@]}"
		return
	fi
	snt_need_root "installing ${SNT_ENV_DEBS[*]} into the chroot"
	local t0=$SECONDS log="$SNT_CACHE/apt.log"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false)
	snt_log "installing ${SNT_ENV_DEBS[*]} into the chroot (once; a few minutes; log: $log)"
	snt_sync_host_files "$SNT_ROOT"
	# Check-Valid-Until: a mirror snapshot keeps serving the Release file debootstrap used.
	if ! { snt_inside "$SNT_ROOT" "" -- "${apt[@]}" update &&
		snt_inside "$SNT_ROOT" "" -- "${apt[@]}" install -y --no-install-recommends \
			"${SNT_ENV_DEBS[@]}" </dev/null; } >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		snt_die "installing ${SNT_ENV_DEBS[*]} into the chroot failed (full log: $log)"
	fi
	rm -f "$SNT_ROOT"/var/cache/apt/archives/*.deb
	touch "$(snt_debs_marker)"
	snt_log "${SNT_ENV_DEBS[*]} installed in $((SECONDS - t0)) s"
}

# Sets SNT_NPM_DIR (path inside the env) to where `npm ci` installs tools/icu's lock.
snt_npm_path() {
	local hash
	hash="$(cat "$SNT_REPO/$SNT_NPM_PROJECT/package.json" "$SNT_REPO/$SNT_NPM_PROJECT/package-lock.json" \
		2>/dev/null | sha256sum | cut -c1-12)"
	SNT_NPM_DIR="$SNT_IN_BASE/npm/$hash"
}
snt_ensure_npm() {
	snt_npm_path
	local dir="$SNT_NPM_DIR" out
	out="$(snt_out "$dir")"
	[[ -f $out/$SNT_MARKER ]] && return 0
	snt_log "npm ci: $SNT_NPM_PROJECT/package-lock.json"
	snt_rmtree "$out"
	mkdir -p "$out"
	cp "$SNT_REPO/$SNT_NPM_PROJECT/package.json" "$SNT_REPO/$SNT_NPM_PROJECT/package-lock.json" "$out/"
	snt_inside "$SNT_ROOT" "" -- env -C "$dir" npm ci --no-audit --no-fund --ignore-scripts \
		--cache "$dir/.npm-cache" >&2
	rm -rf "$out/.npm-cache"
	touch "$out/$SNT_MARKER"
	local old # keep the three newest installs (other clones or branches may use older locks)
	while read -r old; do
		snt_rmtree "${old%/"$SNT_MARKER"}"
	done < <(ls -1t "$(snt_out "$SNT_IN_BASE/npm")"/*/"$SNT_MARKER" 2>/dev/null | tail -n +4)
}

snt_all_ready() {
	local name
	if [[ $SNT_MODE == host ]]; then
		[[ -f $SNT_CACHE/host/uv/$SNT_MARKER ]] || return 1
	else
		[[ -f $SNT_ROOT/$SNT_MARKER ]] || return 1
	fi
	if [[ ${SNT_WITH_TOOLS:-0} == 1 ]]; then
		snt_debs_ready || return 1
		snt_npm_path
		[[ -f $(snt_out "$SNT_NPM_DIR")/$SNT_MARKER ]] || return 1
	fi
	for name in "$@"; do
		snt_venv_path "$name" || return 1
		[[ -f $(snt_out "$SNT_VENV")/$SNT_MARKER ]] || return 1
	done
}

# snt_provision [ENV...]: the chroot (or host uv) and the venvs, under a lock. Idempotent.
# With SNT_WITH_TOOLS=1 also the Debian packages SNT_ENV_DEBS and the npm packages.
snt_provision() {
	snt_all_ready "$@" && return 0
	mkdir -p "$SNT_CACHE/host"
	(
		flock 9
		snt_ensure_rootfs
		if [[ ${SNT_WITH_TOOLS:-0} == 1 ]]; then
			snt_ensure_debs
			snt_ensure_npm
		fi
		local name
		for name in "$@"; do snt_ensure_venv "$name"; done
	) 9>"$SNT_CACHE/provision.lock"
}

# snt_run ENV [exec] -- CMD... : run CMD in env ENV's venv with the repo as cwd.
snt_run() {
	local name="$1" mode="$2"
	shift 3
	if [[ ${SINOTRACK_IN_ENV:-} == 1 && ${SINOTRACK_ENV:-} == "$name" ]]; then
		# Already inside this env (e.g. scripts/envrun called from `make shell`).
		cd "$SNT_REPO"
		if [[ $mode == exec ]]; then exec "$@"; fi
		"$@"
		return
	fi
	snt_provision "$name"
	snt_venv_path "$name"
	snt_build_cmd "$SNT_ROOT" "$SNT_REPO" "$SNT_VENV" 1 -- "$@"
	if [[ $mode == exec ]]; then exec "${SNT_CMD[@]}"; fi
	"${SNT_CMD[@]}"
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

# shellcheck shell=bash
# The chroot strategy of scripts/lib.sh (sourced by it, never on its own): no python3.14 >=
# $SNT_MIN_PYTHON on the host, so a minimal Debian root file system with one is built with
# debootstrap (once, cached as $SNT_CACHE/rootfs-<key>) and every command runs inside it with
# chroot. uv, the venvs and the npm packages live in its /opt, the Debian packages the tests
# need are installed into it with its own apt-get. Needs root. See lib.sh for the three
# functions defined here.

SNT_SUITE="${SINOTRACK_DEBIAN_SUITE:-testing}"
SNT_DEB_PACKAGES=python3.14,python3.14-venv,tzdata,tzdata-legacy
SNT_ROOTFS_RECIPE=1 # bump when the rootfs recipe below changes
SNT_CHROOT="$SNT_CACHE/rootfs-$(printf '%s\n' "$SNT_SUITE" "$SNT_DEB_PACKAGES" \
	"$SNT_ROOTFS_RECIPE" "$SNT_UV_VERSION" | sha256sum | cut -c1-12)"
SNT_CA_IN=/etc/ssl/certs/ca-certificates.crt # the host's bundle is copied there
SNT_PIDNS_IN=/usr/local/lib/sinotrack/pidns_init.py

SNT_ENV_BASE=/opt
SNT_ENV_PY=/usr/bin/python3.14
SNT_ENV_PY_KEY=chroot
SNT_ENV_UVCACHE=/var/cache/uv
SNT_ENV_COPIES_REPO=$((1 - SNT_CAN_MOUNT))

snt_chroot_need_root() {
	snt_need_root "$1 (no python3.14 >= $SNT_MIN_PYTHON on PATH, so a chroot is used)"
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

# Refresh the files the chroot ROOT borrows from the host (network config and CA bundle, which
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

# snt_chroot_exec ROOT WORKDIR VENV BIND -- CMD...: snt_env_run in the chroot ROOT (the
# finished one, or one being built).
# unshare --mount -> _chroot-enter (mounts) -> chroot -> the PID-namespace init -> env -i
# -> CMD. Each step execs the next up to the init, which runs CMD in a PID namespace and
# forwards signals (see _pidns_init.py); mounts live in a private mount namespace and vanish
# with it, so nothing needs unmounting. Without one (SINOTRACK_NO_MOUNT=1, or no privilege),
# the repository is copied into the chroot instead and changes made there are not copied back.
snt_chroot_exec() {
	local root="$1" workdir="$2" venv="$3" bind="$4"
	shift 5
	local vars name path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin init
	mapfile -d '' vars < <(snt_env_vars "$venv" "$bind")
	[[ -n $venv ]] && path="$venv/bin:$path"
	vars+=(PATH="$path" HOME=/root LANG=C.UTF-8 SHELL=/bin/bash)
	vars+=(SSL_CERT_FILE="$SNT_CA_IN" REQUESTS_CA_BUNDLE="$SNT_CA_IN" PIP_CERT="$SNT_CA_IN")
	# Pass through a few harmless host variables (not the host's PIP_*/proxy/CA paths).
	while read -r name; do
		case "$name" in
		CI | TERM | COLUMNS | LINES | NO_COLOR | FORCE_COLOR | PY_COLORS | TZ | \
			PYTHONDONTWRITEBYTECODE | PYTHONUNBUFFERED | PYTHONHASHSEED | PYTHONFAULTHANDLER | \
			PYTHONWARNINGS | PYTHONTRACEMALLOC | PYTEST_* | HYPOTHESIS_* | COVERAGE_* | SINOTRACK_*)
			case "$name" in SINOTRACK_REPO | SINOTRACK_IN_ENV | SINOTRACK_ENV | SINOTRACK_VENV | SINOTRACK_GPX_XSD) continue ;; esac
			vars+=("$name=${!name}")
			;;
		esac
	done < <(compgen -e)
	snt_sync_host_files "$root"
	mkdir -p "$root${SNT_PIDNS_IN%/*}"
	cmp -s "$SNT_SCRIPTS/_pidns_init.py" "$root$SNT_PIDNS_IN" ||
		cp "$SNT_SCRIPTS/_pidns_init.py" "$root$SNT_PIDNS_IN"
	init=("$SNT_ENV_PY" -I -S "$SNT_PIDNS_IN")
	((SNT_CAN_MOUNT)) && init+=(--mount-proc)
	local inner=("${init[@]}" -- /usr/bin/env -i -C "$workdir" "${vars[@]}" "$@")
	local binds=()
	if [[ $bind == 1 ]]; then
		binds+=("$SNT_REPO")
		[[ -d $SNT_SHARED ]] && binds+=("$SNT_SHARED")
	fi
	if ((SNT_CAN_MOUNT)); then
		exec unshare --mount --propagation private -- bash "$SNT_SCRIPTS/_chroot-enter" \
			"$root" "${#binds[@]}" "${binds[@]}" -- "${inner[@]}"
	fi
	local b
	for b in "${binds[@]}"; do
		snt_log "no mount namespace: copying $b into the chroot (changes made there are not copied back)"
		rm -rf --one-file-system "${root:?}$b"
		mkdir -p "$root$b"
		cp -a "$b/." "$root$b/"
	done
	exec chroot "$root" "${inner[@]}"
}

# snt_chroot_inside ROOT -- CMD...: run CMD in the chroot ROOT (cwd /, no venv, no
# repository), as a child.
snt_chroot_inside() {
	local root="$1"
	shift 2
	(snt_chroot_exec "$root" / "" 0 -- "$@")
}

# Build the chroot (debootstrap, then uv in /opt/uv) unless it is complete.
snt_chroot_ensure_rootfs() {
	[[ -f $SNT_CHROOT/$SNT_MARKER ]] && return 0
	snt_chroot_need_root "building the chroot"
	command -v debootstrap >/dev/null || snt_apt_install debootstrap
	local partial="$SNT_CHROOT.partial" mirror log="$SNT_CACHE/debootstrap.log" t0=$SECONDS
	mirror="$(snt_mirror)"
	snt_rmtree "$partial"
	snt_log "building the Python 3.14 chroot: debootstrap $SNT_SUITE from $mirror (once; a few minutes)"
	snt_log "  into $SNT_CHROOT (log: $log)"
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
	ver="$(snt_chroot_inside "$partial" -- "$SNT_ENV_PY" -c \
		"import sys; print('%d.%d.%d' % sys.version_info[:3]); sys.exit(sys.version_info < (${SNT_MIN_PYTHON//./, }))")" ||
		snt_die "the chroot's python3.14 is ${ver:-missing}; need >= $SNT_MIN_PYTHON (try SINOTRACK_DEBIAN_SUITE=unstable)"
	snt_log "chroot python $ver; installing uv $SNT_UV_VERSION"
	snt_chroot_inside "$partial" -- "$SNT_ENV_PY" -m venv /opt/uv
	snt_chroot_inside "$partial" -- /opt/uv/bin/pip install -q --no-cache-dir --disable-pip-version-check \
		"uv==$SNT_UV_VERSION" >&2
	ln -sf /opt/uv/bin/uv "$partial/usr/local/bin/uv"
	touch "$partial/$SNT_MARKER"
	snt_rmtree "$SNT_CHROOT"
	mv "$partial" "$SNT_CHROOT"
	snt_log "chroot ready in $((SECONDS - t0)) s"
	# Drop chroots of other recipes that nothing runs in.
	local old
	for old in "$SNT_CACHE"/rootfs-*; do
		[[ $old == "$SNT_CHROOT" || ! -d $old ]] && continue
		snt_in_use "$old" || snt_rmtree "$old"
	done
}

# The marker file that says the Debian packages SNT_ENV_DEBS are installed in the chroot (keyed
# by the list, so that the rootfs itself need not be rebuilt when it changes).
snt_chroot_debs_marker() {
	printf '%s/.sinotrack-debs-%s' "$SNT_CHROOT" "$(printf '%s\n' "${SNT_ENV_DEBS[@]}" | sha256sum | cut -c1-12)"
}

# Install SNT_ENV_DEBS into the chroot with its own apt-get, unless they are there.
snt_chroot_ensure_debs() {
	[[ -f $(snt_chroot_debs_marker) ]] && return 0
	snt_chroot_need_root "installing ${SNT_ENV_DEBS[*]} into the chroot"
	local t0=$SECONDS log="$SNT_CACHE/apt.log"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false)
	snt_log "installing ${SNT_ENV_DEBS[*]} into the chroot (once; a few minutes; log: $log)"
	# Check-Valid-Until: a mirror snapshot keeps serving the Release file debootstrap used.
	if ! { snt_chroot_inside "$SNT_CHROOT" -- "${apt[@]}" update &&
		snt_chroot_inside "$SNT_CHROOT" -- "${apt[@]}" install -y --no-install-recommends \
			"${SNT_ENV_DEBS[@]}" </dev/null; } >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		snt_die "installing ${SNT_ENV_DEBS[*]} into the chroot failed (full log: $log)"
	fi
	rm -f "$SNT_CHROOT"/var/cache/apt/archives/*.deb
	touch "$(snt_chroot_debs_marker)"
	snt_log "${SNT_ENV_DEBS[*]} installed in $((SECONDS - t0)) s"
}

# snt_env_prepare [--check] [--debs]: the chroot (and with --debs the Debian packages in it).
snt_env_prepare() {
	local check=0 debs=0
	while (($#)); do
		case "$1" in
		--check) check=1 ;;
		--debs) debs=1 ;;
		esac
		shift
	done
	if ((check)); then
		[[ -f $SNT_CHROOT/$SNT_MARKER ]] || return 1
		((!debs)) || [[ -f $(snt_chroot_debs_marker) ]]
		return
	fi
	snt_chroot_ensure_rootfs
	((!debs)) || snt_chroot_ensure_debs
}

# snt_env_run WORKDIR VENV BIND -- CMD...: exec CMD in the chroot (see snt_chroot_exec).
snt_env_run() { snt_chroot_exec "$SNT_CHROOT" "$@"; }

# snt_env_path PATH: the host's path of PATH in the chroot.
snt_env_path() { printf '%s%s' "$SNT_CHROOT" "$1"; }

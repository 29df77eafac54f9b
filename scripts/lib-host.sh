# shellcheck shell=bash
# The host strategy of scripts/lib.sh (sourced by it, never on its own): the host's python3.14
# ($SNT_HOST_PY, >= $SNT_MIN_PYTHON) runs everything. uv lives in a venv of its own under
# $SNT_CACHE/host/uv, the venvs and npm packages beside it, and the Debian packages the tests
# need are installed on the host itself. See lib.sh for the three functions defined here.

SNT_ENV_BASE="$SNT_CACHE/host"
SNT_ENV_PY="$SNT_HOST_PY"
SNT_ENV_PY_KEY="$("$SNT_HOST_PY" -c 'import sys; print(sys.executable, sys.version)')"
SNT_ENV_UVCACHE="$SNT_CACHE/host/uv-cache"
SNT_ENV_COPIES_REPO=0

# Print those of SNT_ENV_DEBS whose command is missing, one a line. A package counts as there
# when its command is: node and npm may come from another source than Debian's packages,
# which would conflict with them.
snt_host_missing_debs() {
	local p cmd
	for p in "${SNT_ENV_DEBS[@]}"; do
		case "$p" in nodejs) cmd=node ;; *) cmd="$p" ;; esac
		command -v "$cmd" >/dev/null 2>&1 || printf '%s\n' "$p"
	done
}

# snt_env_prepare [--check] [--debs]: uv (and with --debs the Debian packages) on the host.
snt_env_prepare() {
	local check=0 debs=0 uvenv="$SNT_CACHE/host/uv" missing
	while (($#)); do
		case "$1" in
		--check) check=1 ;;
		--debs) debs=1 ;;
		esac
		shift
	done
	if ((check)); then
		[[ -f $uvenv/$SNT_MARKER ]] || return 1
		((!debs)) || [[ -z $(snt_host_missing_debs) ]]
		return
	fi
	if [[ ! -f $uvenv/$SNT_MARKER ]]; then
		snt_rmtree "$uvenv"
		snt_log "installing uv $SNT_UV_VERSION into $uvenv"
		"$SNT_HOST_PY" -m venv "$uvenv"
		"$uvenv/bin/pip" install -q --no-cache-dir --disable-pip-version-check "uv==$SNT_UV_VERSION" >&2
		touch "$uvenv/$SNT_MARKER"
	fi
	if ((debs)); then
		missing="$(snt_host_missing_debs)"
		# shellcheck disable=SC2086 # one package name a word
		[[ -z $missing ]] || snt_apt_install $missing
	fi
}

# snt_env_run WORKDIR VENV BIND -- CMD...: exec CMD with the host's environment plus the env's
# variables, under the PID-namespace init (in a private mount namespace when possible, so
# that the init mounts the namespace's own /proc).
snt_env_run() {
	local workdir="$1" venv="$2" bind="$3" path="$PATH" vars cmd
	shift 4
	[[ -n $venv ]] && path="$venv/bin:$PATH"
	mapfile -d '' vars < <(snt_env_vars "$venv" "$bind")
	cmd=("$SNT_HOST_PY" -I -S "$SNT_SCRIPTS/_pidns_init.py")
	((SNT_CAN_MOUNT)) && cmd+=(--mount-proc)
	cmd+=(-- env -u PYTHONHOME -C "$workdir" PATH="$path" "${vars[@]}" "$@")
	((SNT_CAN_MOUNT)) && cmd=(unshare --mount --propagation private -- "${cmd[@]}")
	exec "${cmd[@]}"
}

# snt_env_path PATH: the host's path of PATH in the env (the same path).
snt_env_path() { printf '%s' "$1"; }

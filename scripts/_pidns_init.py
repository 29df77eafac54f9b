"""Internal: run a command in a new PID namespace, so that nothing it starts outlives it.

    python3 -I -S _pidns_init.py [--mount-proc] [--] CMD [ARG...]

Every command the scripts run in the env runs under it (scripts/lib-chroot.sh and
scripts/lib-host.sh), with the env's own python3.14: inside the chroot, where it is copied to
/usr/local/lib/sinotrack/pidns_init.py, or the host's python3.14. This process stays in the
caller's PID namespace and forks the namespace's init (PID 1), which mounts a fresh /proc
(with --mount-proc; only ever inside a private mount namespace), forks CMD, reaps orphans and
exits with CMD's exit status. When PID 1 exits, the kernel kills everything still running in
the namespace (e.g. a `hass` left over by a failing test), so it never holds ports or pipes
after the command has finished.

Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1/2 sent with kill(2) are forwarded down to
CMD. Those the terminal sends (Ctrl-C, Ctrl-\\, hang-up) already reach CMD directly, it being
in the same foreground process group, so they are not forwarded a second time. If this
process is killed with SIGKILL, PID 1 gets SIGKILL too (PR_SET_PDEATHSIG) and the namespace
goes with it. Without the privileges for a PID namespace, CMD is simply exec'd.

Only the standard library is used: this runs before any venv is involved.
"""

from collections.abc import Iterable
import contextlib
import ctypes
import os
import signal
import sys

FORWARD = {
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGINT,
}
SI_KERNEL = 0x80
PR_SET_PDEATHSIG = 1
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8


def mount_proc() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if libc.mount(b"proc", b"/proc", b"proc", flags, None) != 0:
        err = ctypes.get_errno()
        print(f"pidns init: mounting /proc failed: {os.strerror(err)}", file=sys.stderr)


def run(cmd: list[str], old_mask: Iterable[int]) -> None:
    """Become CMD (in a forked child)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as err:
        print(f"pidns init: cannot run {cmd[0]}: {err}", file=sys.stderr)
        os._exit(127)


def supervise(child: int) -> int:
    """Forward signals to CHILD until it exits; return its exit code (128+N if killed)."""
    waited = FORWARD | {signal.SIGCHLD}
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return 1
                if pid == 0:
                    break
                if pid == child:
                    code = os.waitstatus_to_exitcode(status)
                    return 128 - code if code < 0 else code
                # another orphan reaped (init only)
            continue
        if info.si_code == SI_KERNEL:
            # From the terminal (Ctrl-C, Ctrl-\, hang-up): sent to the whole foreground
            # process group, so CMD got it already.
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, info.si_signo)


def main() -> None:
    args = sys.argv[1:]
    want_proc = False
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--":
            break
        if opt == "--mount-proc":
            want_proc = True
    if not args:
        sys.exit("usage: _pidns_init.py [--mount-proc] [--] CMD [ARG...]")

    for sig in FORWARD | {signal.SIGCHLD}:
        # A real handler (not SIG_DFL) so the namespace's init receives these at all.
        signal.signal(sig, lambda *_: None)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARD | {signal.SIGCHLD})

    try:
        os.unshare(os.CLONE_NEWPID)
    except OSError, AttributeError:
        if want_proc:
            mount_proc()
        for sig in FORWARD | {signal.SIGCHLD}:
            signal.signal(sig, signal.SIG_DFL)
        run(args, old_mask)

    init = os.fork()
    if init == 0:
        # PID 1 of the new namespace.
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if want_proc:
            mount_proc()
        child = os.fork()
        if child == 0:
            for sig in FORWARD | {signal.SIGCHLD}:
                signal.signal(sig, signal.SIG_DFL)
            run(args, old_mask)
        os._exit(supervise(child))
    sys.stdout.flush()
    code = supervise(init)
    sys.exit(code)


main()

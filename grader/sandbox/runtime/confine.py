"""Inside the sandbox, before the program runs: confinement without bubblewrap's namespaces.

Applied by launch.py at the ``user`` and ``process`` levels, from a policy the trusted side computed
(grader/sandbox/confinement.py). Each step works alone and says what it could not do; none needs a
namespace except the first, which is taken only where one can be made:

- ``private_tmp``: a mount namespace of its own in which /tmp and /var/tmp are the grading's private
  folder (as root, or in an unprivileged user namespace, where the kernel lets it: a TA's machine, not
  Docker's default profile), the folders the process needs that lie under /tmp bound back at their paths;
- ``drop``: the unprivileged uid (after the mount namespace, which needs root);
- ``landlock``: the process and everything it starts may read only the runtime and the folders given, and
  write only the writable ones (Linux 5.13+, no privilege needed; also TCP bind/connect from 6.7, abstract
  unix sockets and signals to processes outside from 6.12);
- ``no_network``: a seccomp filter refuses every socket family but AF_UNIX (the kernel's ZMQ ipc:// and
  multiprocessing's socketpairs stay) and route netlink (reading addresses), io_uring (which could open
  sockets past it) and foreign ABIs.

Standard library only (ctypes): it runs before anything else is imported.
"""

import ctypes
import os
import platform
import struct

# -- system calls --------------------------------------------------------------------------------

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446  # every arch
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 0x1000, 0x4000, 1 << 18, 2

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _fail(what: str) -> str:
    return f"{what}: {os.strerror(ctypes.get_errno())}"


# -- a private /tmp ------------------------------------------------------------------------------

def _mount(source, target, flags) -> None:
    if _c().mount(source and source.encode(), target.encode(), None, ctypes.c_ulong(flags), None) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def private_tmp(private: str, targets: list, keep: list) -> str | None:
    """Show ``private`` at each of ``targets`` (/tmp, /var/tmp) in a mount namespace of this process's own;
    ``keep``: folders under the targets that must stay visible at their paths. None when done, else why not."""
    if os.geteuid() != 0:  # an unprivileged user namespace of its own, where the machine allows them
        uid, gid = os.geteuid(), os.getegid()
        if _c().unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            return _fail("no mount namespace (unprivileged user namespaces are off)")
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        except OSError as exc:
            raise SystemExit(f"pa3 sandbox: could not map its user namespace ({exc})") from None
    elif _c().unshare(CLONE_NEWNS) != 0:
        return _fail("no mount namespace (unshare)")
    held, bound = {}, []
    try:
        # opened in the new namespace (a bind from another namespace's mount is refused), before /tmp is covered
        held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for path in [private, *keep]}
        _mount(None, "/", MS_REC | MS_PRIVATE)  # nothing done here reaches the machine's mounts
        for target in targets:
            _mount(f"/proc/self/fd/{held[private]}", target, MS_BIND)
            bound.append(target)
        for path in sorted(keep, key=len):
            os.makedirs(path, mode=0o755, exist_ok=True)  # a mount point inside the private folder
            _mount(f"/proc/self/fd/{held[path]}", path, MS_BIND | MS_REC)
            bound.append(path)
    except OSError as exc:  # e.g. an LSM refusing mount: undo what was done, go on with the machine's view
        for path in reversed(bound):
            if _c().umount2(path.encode(), MNT_DETACH) != 0:
                raise SystemExit(f"pa3 sandbox: a private /tmp was left half made ({exc})") from None
        return f"no private /tmp ({exc.strerror or exc})"
    finally:
        for fd in held.values():
            os.close(fd)
    return None


def drop(uid: int) -> None:
    """Become ``uid`` (and gid) for good, with no supplementary groups; refuses to go on if it did not take."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise SystemExit("pa3 sandbox: the unprivileged uid did not take")


# -- Landlock ------------------------------------------------------------------------------------

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI1 = (1 << 13) - 1                       # execute .. make_sym
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV  # all a file rule may hold
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0: none, or refused by a seccomp profile)."""
    if platform.system() != "Linux":
        return 0
    abi = _c().syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(abi, 0)


def _fs_rights(abi: int) -> int:
    rights = FS_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock(read: list, write: list, listed: list = ()) -> str | None:
    """Restrict this process (and all it starts) to reading ``read`` and writing ``write`` (paths, folders or
    files), and listing the folders ``listed`` (names only); from ABI 4, no TCP bind or connect; from ABI 6, no
    abstract unix socket or signal outside. None when in force, else why not (nothing is restricted then)."""
    abi = landlock_abi()
    if abi < 1:
        return _fail("no Landlock here (it needs Linux 5.13+ and a seccomp profile that lets it through)") \
            if ctypes.get_errno() else "no Landlock here"
    handled = _fs_rights(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", handled, net, scoped)[: 24 if abi >= 6 else 16 if abi >= 4 else 8]
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _c().syscall(SYS_LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return _fail("landlock_create_ruleset")
    try:
        reading = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
        for paths, rights in ((listed, FS_READ_DIR), (read, reading), (write, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # not on this machine: nothing to allow
                try:
                    allowed = rights if os.path.isdir(f"/proc/self/fd/{fd}") else rights & FILE_RIGHTS
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed & handled, fd), 12)
                    # a rule the kernel refuses is left out: less is allowed, never more
                    _c().syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, rule, ctypes.c_uint32(0))
                finally:
                    os.close(fd)
        if _c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return _fail("no_new_privs")
        if _c().syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            return _fail("landlock_restrict_self")
    finally:
        os.close(ruleset)
    return None


# -- seccomp: no network -------------------------------------------------------------------------

# AF_UNIX, and the route netlink that glibc's getifaddrs and getaddrinfo read the machine's addresses with (libzmq
# aborts without it; it changes nothing without CAP_NET_ADMIN)
AF_UNIX, AF_NETLINK, NETLINK_ROUTE = 1, 16, 0
EACCES, ENOSYS = 13, 38
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
# (audit arch, socket, io_uring_setup, lowest number of a foreign ABI sharing the arch or None)
ARCHES = {"x86_64": (0xC000003E, 41, 425, 0x40000000), "aarch64": (0xC00000B7, 198, 425, None)}
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06


def _filter(arch: int, socket_nr: int, uring_nr: int, foreign: int | None) -> bytes:
    def op(code, k, jt=0, jf=0):
        return struct.pack("=HBBI", code, jt, jf, k)

    deny_foreign = op(RET_K, RET_ERRNO | ENOSYS)
    prog = [op(LD_W_ABS, 4),                       # arch
            op(JEQ_K, arch, 1, 0), deny_foreign,  # i386 or x32 entry points: never
            op(LD_W_ABS, 0)]                       # syscall number
    if foreign is not None:
        prog += [op(JGE_K, foreign, 0, 1), deny_foreign]
    prog += [op(JEQ_K, uring_nr, 0, 1), op(RET_K, RET_ERRNO | EACCES),
             op(JEQ_K, socket_nr, 1, 0), op(RET_K, RET_ALLOW),
             op(LD_W_ABS, 16),                     # socket's first argument: the family (low 32 bits)
             op(JEQ_K, AF_UNIX, 0, 1), op(RET_K, RET_ALLOW),
             op(JEQ_K, AF_NETLINK, 0, 3),
             op(LD_W_ABS, 32),                     # its third: the protocol
             op(JEQ_K, NETLINK_ROUTE, 0, 1), op(RET_K, RET_ALLOW),
             op(RET_K, RET_ERRNO | EACCES)]
    return b"".join(prog)


def no_network() -> str | None:
    """Refuse every socket family but AF_UNIX (and route netlink) from now on, in this process and all it
    starts. None when in force."""
    if platform.system() != "Linux":
        return "seccomp needs Linux"
    arch = ARCHES.get(platform.machine())
    if arch is None:
        return f"no seccomp filter for {platform.machine()}"
    code = _filter(*arch)
    prog = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(code) // 8, ctypes.cast(prog, ctypes.c_void_p))
    if _c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return _fail("no_new_privs")
    if _c().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return _fail("seccomp filter")
    return None


def apply(policy: dict) -> dict:
    """Every step ``policy`` asks for, in order; what each achieved (None: done), for the start-up check."""
    done = {}
    tmp = policy.get("tmp")
    if tmp:
        done["tmp"] = private_tmp(tmp["private"], tmp["targets"], tmp.get("keep", []))
    if policy.get("uid") is not None:
        drop(policy["uid"])
    if policy.get("read") is not None:
        done["landlock"] = landlock(policy["read"], policy.get("write", []), policy.get("list", []))
    if policy.get("no_network"):
        done["network"] = no_network()
    return done

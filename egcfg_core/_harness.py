"""In-sandbox harness: a fork server that runs untrusted programs and traces them.

This file is executed as a stand-alone script by the *sandboxed* interpreter
(``python -I -S _harness.py serve --ctrl-fd N``); it is the only project file mounted
into the sandbox.  It must only use the standard library and must never be imported by the
parent process for anything but its path.

Protocol (parent <-> server, over an AF_UNIX SOCK_SEQPACKET socket):
  server -> parent  {"ready": true, ...}                              once, at start
  parent -> server  header {"timeout": s, "memory_mb": m, ...} + SCM_RIGHTS fds
                    [stdin_r, stdout_w, stderr_w, verdict_w, job_r]
  parent -> server  {"kill": true}                                    optional, while running
  server -> parent  {"exit": code|None, "signal": n|None, "timed_out": bool, ...}
The job itself (source, nonce, mode, ...) travels through the job pipe, read by the forked
child (trusted harness code) and closed before any untrusted code runs.  The child reports
its verdict on the verdict pipe as ``nonce + b"\\n" + repr(record)``; see docs/SANDBOX.md.
"""
from __future__ import annotations

import ast
import builtins
import gc
import linecache
import os
import re
import resource
import signal
import socket
import sys
import traceback

# ---------------------------------------------------------------------------------------------
# Private references, captured before any untrusted code runs (user code may patch the public
# names later; the harness only uses these).
_os_write = os.write
_os_close = os.close
_os_exit = os._exit
_repr = repr
_type = type
_isinstance = isinstance
_len = len
_str = str
_int = int
_dict = dict
_list = list
_tuple = tuple
_set = set
_frozenset = frozenset
_sorted = sorted
_id = id
_BaseException = BaseException
_Exception = Exception
_AssertionError = AssertionError
_MemoryError = MemoryError
_SystemExit = SystemExit
_KeyboardInterrupt = KeyboardInterrupt
_settrace = sys.settrace
_gettrace = sys.gettrace
_type_name = _type.__dict__["__name__"].__get__
_str_join = _str.join
_getattr = getattr
_hasattr = hasattr
_builtins_snapshot = _dict(builtins.__dict__)
_ADDR_RE = re.compile(r" at 0x[0-9a-fA-F]+")
_re_sub = _ADDR_RE.sub
_STDLIB_DIR = os.path.dirname(os.__file__)

CANDIDATE = "<candidate>"
SETUP = "<setup>"
TEST = "<test>"
PROGRAM = "<program>"

# Common stdlib modules, imported once in the server so that forked children start warm.
_PRELOAD = (
    "math", "collections", "heapq", "itertools", "functools", "bisect", "string", "operator",
    "copy", "random", "statistics", "fractions", "decimal", "datetime", "typing", "cmath",
    "array", "struct", "textwrap", "json", "hashlib", "io", "time", "dataclasses", "enum",
    "numbers", "unicodedata", "calendar", "queue", "threading",
)


def _exact(s):
    """An exact ``str`` copy of ``s`` (user ``__repr__`` may return a str subclass)."""
    return _str_join("", (s,))


# ---------------------------------------------------------------------------------------------
# Bounded, deterministic repr.  Never calls user code for builtin containers; sets are sorted.

_SCALARS = (int, float, bool, type(None), complex)
_MAX_ITEMS = 12


def safe_repr(x, limit=120, _depth=0):
    try:
        r = _safe_repr(x, limit, _depth)
    except _BaseException:  # noqa: BLE001 - a broken __repr__ must not break tracing
        try:
            r = "<" + _type_name(_type(x)) + " (repr failed)>"
        except _BaseException:
            r = "<?>"
    r = _re_sub("", r)
    if _len(r) > limit:
        r = r[: max(limit - 3, 1)] + "..."
    return r


def _safe_repr(x, limit, depth):
    t = _type(x)
    if t in _SCALARS:
        if t is int and x.bit_length() > 200:
            return "<int with %d bits>" % x.bit_length()
        return _repr(x)
    if t is str or t is bytes:
        if _len(x) > limit:
            return _repr(x[:limit]) + "..."
        return _repr(x)
    if depth > 3:
        return "..."
    if t is list or t is tuple or t is set or t is frozenset:
        n = _len(x)
        if t is set or t is frozenset:
            items = _sorted(_safe_repr(i, limit, depth + 1) for i in _list(x)[: _MAX_ITEMS * 4])[:_MAX_ITEMS]
        else:
            items = [_safe_repr(x[i], limit, depth + 1) for i in range(min(n, _MAX_ITEMS))]
        more = ", ...(%d items)" % n if n > _MAX_ITEMS else ""
        body = ", ".join(items) + more
        if t is list:
            return "[" + body + "]"
        if t is tuple:
            return "(" + body + ("," if n == 1 else "") + ")"
        if n == 0:
            return "set()" if t is set else "frozenset()"
        return ("{" + body + "}") if t is set else ("frozenset({" + body + "})")
    if t is dict:
        n = _len(x)
        items = []
        for i, (k, v) in enumerate(x.items()):
            if i >= _MAX_ITEMS:
                break
            items.append(_safe_repr(k, limit, depth + 1) + ": " + _safe_repr(v, limit, depth + 1))
        more = ", ...(%d items)" % n if n > _MAX_ITEMS else ""
        return "{" + ", ".join(items) + more + "}"
    if t is range:
        return _repr(x)
    # Subclasses of builtin containers (Counter, deque, defaultdict, OrderedDict, namedtuple...)
    name = _type_name(t)
    if _isinstance(x, dict):
        return name + "(" + _safe_repr(_dict(x), limit, depth) + ")"
    if _isinstance(x, (list, set, frozenset)) or _type_name(t) == "deque":
        return name + "(" + _safe_repr(_list(x)[:_MAX_ITEMS + 1], limit, depth) + ")"
    if _isinstance(x, tuple):
        return name + _safe_repr(_tuple(x), limit, depth)
    # Anything else: use its repr only when that repr is not the program's own code.
    meth = None
    for klass in t.__mro__:
        if "__repr__" in klass.__dict__:
            meth = klass.__dict__["__repr__"]
            break
    code = _getattr(meth, "__code__", None)
    if code is not None and not code.co_filename.startswith(_STDLIB_DIR):
        return "<" + name + " object>"
    return _exact(_repr(x))


# ---------------------------------------------------------------------------------------------
# Tracer (sys.settrace based; Python 3.11 has no sys.monitoring).


class Tracer:
    HEAD = 200  # events kept from the start
    TAIL = 60  # events kept from the end (ring buffer)
    DETAIL_CAP = 5000  # events with variable snapshots; then only calls/returns
    LIGHT_CAP = 100000  # after this many events, tracing stops

    def __init__(self, filename):
        self.filename = filename
        self.head = []
        self.tail = []
        self.n_events = 0
        self.n_lines = 0
        self.depth = 0
        self.snap = {}  # id(frame) -> {name: repr}
        self.last_step = {}  # id(frame) -> event dict of the last line in that frame
        self.raising = {}  # id(frame) -> exception id
        self.seen_exc = None
        self.light = False
        self.off = False
        self.module_vars = True

    def _emit(self, ev):
        self.n_events += 1
        if _len(self.head) < self.HEAD:
            self.head.append(ev)
        else:
            self.tail.append(ev)
            if _len(self.tail) > self.TAIL * 2:
                del self.tail[: self.TAIL]
        if self.n_events >= self.DETAIL_CAP:
            self.light = True
        if self.n_events >= self.LIGHT_CAP:
            self.off = True

    def _vars(self, frame):
        out = {}
        try:
            items = frame.f_locals.items()
            for k, v in items:
                if _type(k) is not str or k.startswith("__") or k.startswith("."):
                    continue
                tv = _type(v)
                if tv is _type(os) or tv is _type or callable(v) and not _isinstance(v, (int, str, list, dict, tuple, set, frozenset)):
                    continue
                out[_exact(k)] = safe_repr(v)
        except _BaseException:
            pass
        return out

    def _diff(self, frame):
        fid = _id(frame)
        new = self._vars(frame)
        old = self.snap.get(fid, {})
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        self.snap[fid] = new
        return changed

    def global_trace(self, frame, event, arg):
        try:
            if self.off or frame.f_code.co_filename != self.filename:
                return None
            name = frame.f_code.co_name
            if name.startswith("<") and name != "<module>":
                return None  # comprehensions / lambdas: their line is already recorded
            if name != "<module>":
                self.depth += 1
                args = {}
                if not self.light:
                    code = frame.f_code
                    nargs = code.co_argcount + code.co_kwonlyargcount
                    nargs += bool(code.co_flags & 4) + bool(code.co_flags & 8)
                    loc = frame.f_locals
                    for a in code.co_varnames[:nargs]:
                        if a in loc:
                            args[_exact(a)] = safe_repr(loc[a])
                self._emit({"t": "call", "fn": _exact(name), "d": self.depth, "ln": frame.f_lineno, "args": args})
                self.snap[_id(frame)] = self._vars(frame) if not self.light else {}
            if self.light:
                frame.f_trace_lines = False
            return self.local_trace
        except _BaseException:
            return None

    def local_trace(self, frame, event, arg):
        try:
            if self.off:
                frame.f_trace_lines = False
                return None
            fid = _id(frame)
            name = frame.f_code.co_name
            d = self.depth if name != "<module>" else 0
            if event == "line":
                self.n_lines += 1
                self.raising.pop(fid, None)
                if self.light:
                    frame.f_trace_lines = False
                    return self.local_trace
                prev = self.last_step.get(fid)
                if prev is not None and (name != "<module>" or self.module_vars):
                    ch = self._diff(frame)
                    if ch:
                        prev["vars"] = ch
                ev = {"t": "line", "fn": _exact(name), "d": d, "ln": frame.f_lineno}
                self.last_step[fid] = ev
                self._emit(ev)
            elif event == "exception":
                exc = arg[1]
                if self.seen_exc != _id(exc):
                    self.seen_exc = _id(exc)
                    self._emit({"t": "exception", "fn": _exact(name), "d": d, "ln": frame.f_lineno,
                                "type": _exact(_type_name(arg[0])), "msg": safe_repr_msg(exc)})
                self.raising[fid] = _id(exc)
            elif event == "return":
                prev = self.last_step.pop(fid, None)
                if prev is not None and not self.light and (name != "<module>" or self.module_vars):
                    ch = self._diff(frame)
                    if ch:
                        prev["vars"] = ch
                self.snap.pop(fid, None)
                if name != "<module>":
                    if fid in self.raising:
                        self.raising.pop(fid, None)
                        self._emit({"t": "raise", "fn": _exact(name), "d": d})
                    else:
                        self._emit({"t": "return", "fn": _exact(name), "d": d, "value": safe_repr(arg)})
                    self.depth -= 1
            return self.local_trace
        except _BaseException:
            return self.local_trace

    def events(self):
        ev = _list(self.head)
        tail = self.tail[-self.TAIL:] if self.n_events > self.HEAD else []
        omitted = self.n_events - _len(self.head) - _len(tail)
        if omitted > 0:
            ev.append({"t": "gap", "n": omitted})
        ev.extend(tail)
        return ev


def safe_repr_msg(exc, limit=200):
    try:
        t = _type(exc)
        if t in _BUILTIN_EXC:
            m = _BUILTIN_EXC[t](exc)  # the builtin type's own (C) __str__
        else:
            m = _str(exc)
        m = _exact(m)
    except _BaseException:
        m = "<unprintable>"
    m = _re_sub("", m)
    return m if _len(m) <= limit else m[: limit - 3] + "..."


_BUILTIN_EXC = {v: v.__str__ for v in builtins.__dict__.values() if _isinstance(v, _type) and issubclass(v, _BaseException)}


# ---------------------------------------------------------------------------------------------
# Trusted equality for the test block: `x == y` in a test becomes `__egcfg_eq__(x, y)`.

_CONTAINERS = (list, tuple, set, frozenset, dict)


def _eq_is_trusted(t):
    for klass in t.__mro__:
        if "__eq__" in klass.__dict__:
            m = klass.__dict__["__eq__"]
            code = _getattr(m, "__code__", None)
            if code is None:
                return True  # C implementation (int, list, tuple, ...)
            return code.co_filename.startswith(_STDLIB_DIR)
    return True


def _trusted(x, depth=0):
    t = _type(x)
    if t in _SCALARS or t is str or t is bytes:
        return True
    if depth > 20 or not _eq_is_trusted(t):
        return False
    if _isinstance(x, dict):
        return all(_trusted(k, depth + 1) and _trusted(v, depth + 1) for k, v in x.items())
    if _isinstance(x, (list, tuple, set, frozenset)) or _type_name(t) == "deque":
        return all(_trusted(i, depth + 1) for i in x)
    return False  # any other object: equality is the program's own


class UntrustedComparison(Exception):
    pass


def _make_eq():
    def __egcfg_eq__(a, b, negate=False):
        ta, tb = _trusted(a), _trusted(b)
        if ta != tb:
            bad = b if ta else a
            raise UntrustedComparison(
                "the test compares a %s object whose __eq__ is defined by the program with a plain value"
                % _type_name(_type(bad))
            )
        return (a != b) if negate else (a == b)

    return __egcfg_eq__


class _EqRewriter(ast.NodeTransformer):
    def visit_Compare(self, node):
        self.generic_visit(node)
        if _len(node.ops) == 1 and _type(node.ops[0]) in (ast.Eq, ast.NotEq):
            call = ast.Call(
                func=ast.Name(id="__egcfg_eq__", ctx=ast.Load()),
                args=[node.left, node.comparators[0]],
                keywords=[ast.keyword(arg="negate", value=ast.Constant(_type(node.ops[0]) is ast.NotEq))],
            )
            return ast.copy_location(call, node)
        return node


def _compile_test(source):
    tree = ast.parse(source, TEST, "exec")
    tree = ast.fix_missing_locations(_EqRewriter().visit(tree))
    return compile(tree, TEST, "exec")


# ---------------------------------------------------------------------------------------------
# The child: runs one job.  Everything the verdict depends on uses the private references above.


def _register_source(name, src):
    linecache.cache[name] = (_len(src), None, src.splitlines(True), name)


def _exc_info(exc):
    """(type, message, line in candidate code or None, where) of an exception."""
    where, line = None, None
    tb = exc.__traceback__
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if fn in (CANDIDATE, SETUP, TEST, PROGRAM):
            where = fn.strip("<>")
            if fn == CANDIDATE or fn == PROGRAM:
                line = tb.tb_lineno
        tb = tb.tb_next
    if where is None and _isinstance(exc, SyntaxError) and exc.filename in (CANDIDATE, PROGRAM):
        where, line = exc.filename.strip("<>"), exc.lineno
    return _exact(_type_name(_type(exc))), safe_repr_msg(exc), line, where


class _SoftTimeout(BaseException):
    pass


def _make_reporter(nonce, stdout_stream, stderr_stream):
    def report(rec):
        # Called once, at the very end; only exact builtin types go into rec.
        for s in (stdout_stream, stderr_stream):
            try:
                s.flush()
            except _BaseException:
                pass
        data = nonce + b"\n" + _repr(rec).encode("utf-8", "backslashreplace")
        try:
            view = memoryview(data)
            while view:
                n = _os_write(3, view)
                view = view[n:]
        except _BaseException:
            pass
        _os_exit(0)

    return report


def _user_tb(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename not in (CANDIDATE, SETUP, TEST, PROGRAM):
        tb = tb.tb_next
    return tb


def child_main(job, stdout_stream, stderr_stream):
    mode = job["mode"]  # "program" | "function" | "stdio"
    trace = bool(job.get("trace"))
    tampered = []

    report = _make_reporter(job.pop("nonce"), stdout_stream, stderr_stream)

    def guarded_settrace(fn):
        tampered.append("sys.settrace called by the program")

    sys.settrace = guarded_settrace  # the program may not switch tracing off (or on)

    tracer = Tracer(PROGRAM if mode == "program" else CANDIDATE) if trace else None
    if tracer is not None and mode == "function":
        tracer.module_vars = False

    def on_alarm(signum, frame):
        _settrace(None)
        raise _SoftTimeout()

    soft = float(job.get("soft_timeout") or 0)
    if soft > 0:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, soft)

    gtrace = tracer.global_trace if tracer is not None else None
    rec = {"outcome": "completed", "exc": None, "tampered": []}
    g = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None}
    stage = "setup"
    try:
        if mode == "program":
            stage = "program"
            _register_source(PROGRAM, job["source"])
            code = compile(job["source"], PROGRAM, "exec")
            if tracer is not None:
                _settrace(gtrace)
            exec(code, g)
            _settrace(None)
        else:
            if job.get("setup"):
                _register_source(SETUP, job["setup"])
                exec(compile(job["setup"], SETUP, "exec"), g)
            stage = "candidate"
            _register_source(CANDIDATE, job["source"])
            code = compile(job["source"], CANDIDATE, "exec")
            if tracer is not None and mode == "stdio":
                _settrace(gtrace)
            exec(code, g)
            if mode == "function":
                stage = "test"
                _register_source(TEST, job["test"])
                tcode = _compile_test(job["test"])
                tg = _dict(g)
                tg["__builtins__"] = _dict(_builtins_snapshot)
                tg["__egcfg_eq__"] = _make_eq()
                if tracer is not None:
                    _settrace(gtrace)
                exec(tcode, tg)
            if tracer is not None and _gettrace() is not gtrace:
                tampered.append("the tracer was removed or replaced during the run")
            _settrace(None)
    except _SoftTimeout:
        _settrace(None)
        rec["outcome"] = "timeout"
    except _SystemExit as e:
        _settrace(None)
        code_ = e.code
        rec["outcome"] = "exit"
        rec["exit_code"] = code_ if _type(code_) is int else (0 if code_ is None else 1)
        if code_ is not None and _type(code_) is not int:
            try:
                stderr_stream.write(_exact(_str(code_)) + "\n")
            except _BaseException:
                pass
        rec["stage"] = stage
    except _BaseException as e:  # noqa: BLE001
        _settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        etype, msg, line, where = _exc_info(e)
        rec["outcome"] = "exception"
        rec["exc"] = {"type": etype, "msg": msg, "line": line, "where": where or stage,
                      "assertion": _isinstance(e, _AssertionError),
                      "memory": _isinstance(e, _MemoryError)}
        try:
            traceback.print_exception(_type(e), e, _user_tb(e.__traceback__), file=stderr_stream)
        except _BaseException:
            pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    _settrace(None)
    if tracer is not None:
        rec["trace"] = {"events": tracer.events(), "n_events": tracer.n_events,
                        "n_lines": tracer.n_lines, "truncated": tracer.n_events > _len(tracer.head)}
    rec["tampered"] = _list(tampered)
    report(rec)


def _child(header, fds):
    """Runs in the forked child of the server."""
    try:
        os.setsid()
        hi = [_fcntl_dup(fd) for fd in fds]
        for fd in fds:
            os.close(fd)
        stdin_fd, stdout_fd, stderr_fd, verdict_fd, job_fd = hi
        os.dup2(stdin_fd, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        os.dup2(verdict_fd, 3)
        os.dup2(job_fd, 4)
        os.closerange(5, 65536)
        chunks = []
        while True:
            b = os.read(4, 1 << 20)
            if not b:
                break
            chunks.append(b)
        os.close(4)
        job = ast.literal_eval(b"".join(chunks).decode("utf-8"))
        job["nonce"] = job["nonce"].encode("ascii")
        run_dir = header.get("cwd") or "/tmp"
        os.chdir(run_dir)
        _apply_limits(header)
        sys.stdin = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
        out = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        err = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stdout, sys.stderr = out, err
        sys.__stdout__, sys.__stderr__, sys.__stdin__ = out, err, sys.stdin
        sys.argv = ["main"]
        sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(run_dir)]
        child_main(job, out, err)
    except BaseException:  # noqa: BLE001 - the harness itself failed: say so on stderr
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
        _os_exit(70)
    _os_exit(71)


def _fcntl_dup(fd):
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


def _apply_limits(h):
    mb = int(h.get("memory_mb", 512))
    lim = [
        (resource.RLIMIT_AS, mb * 1024 * 1024),
        (resource.RLIMIT_CPU, int(h.get("cpu_s", 10))),
        (resource.RLIMIT_FSIZE, int(h.get("fsize_mb", 16)) * 1024 * 1024),
        (resource.RLIMIT_NOFILE, int(h.get("nofile", 64))),
        (resource.RLIMIT_NPROC, int(h.get("nproc", 64))),
        (resource.RLIMIT_CORE, 0),
    ]
    for res, val in lim:
        soft_hard = (val, val + 1) if res == resource.RLIMIT_CPU else (val, val)
        try:
            resource.setrlimit(res, soft_hard)
        except (ValueError, OSError):
            resource.setrlimit(res, (min(val, resource.getrlimit(res)[1]), resource.getrlimit(res)[1]))


# ---------------------------------------------------------------------------------------------
# The server.


def _send(sock, obj):
    sock.send(_repr(obj).encode("utf-8"))


def _recv(sock):
    fds = []
    msg, anc, flags, addr = sock.recvmsg(1 << 16, socket.CMSG_SPACE(16 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            import array

            a = array.array("i")
            a.frombytes(data[: len(data) - (len(data) % a.itemsize)])
            fds.extend(a)
    return msg, fds


def _wipe(path):
    import shutil

    def onerr(func, p, exc):
        try:
            os.chmod(os.path.dirname(p) or p, 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = os.path.join(path, n)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, onerror=onerr)
            else:
                os.unlink(p)
        except OSError:
            pass


def serve(ctrl_fd, ns_mode, work_dir):
    if os.getuid() == 0 and ns_mode:
        # bwrap gave us CAP_SETUID/CAP_SETGID only for this: become an unprivileged user so that
        # RLIMIT_NPROC applies and nothing host-owned is writable.
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0: children cannot ptrace us
        # the uid change cleared bwrap's parent-death signal: re-arm it (PR_SET_PDEATHSIG = 1)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
    for m in _PRELOAD:
        try:
            __import__(m)
        except Exception:
            pass
    gc.collect()
    gc.freeze()  # forked children do not scan (and copy) the server's objects
    ctrl = socket.socket(fileno=ctrl_fd)
    run_dir = os.path.join(work_dir, "run")
    _send(ctrl, {"ready": True, "pid": os.getpid(), "uid": os.getuid(), "ns": ns_mode})
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            msg, fds = _recv(ctrl)
        except OSError:
            break
        if not msg:
            break
        header = ast.literal_eval(msg.decode("utf-8"))
        if header.get("exit"):
            break
        _wipe(work_dir)
        if ns_mode and os.path.isdir("/dev/shm"):
            _wipe("/dev/shm")
        os.makedirs(run_dir, exist_ok=True)
        header["cwd"] = run_dir
        pid = os.fork()
        if pid == 0:
            try:
                ctrl.close()
            except Exception:
                pass
            _child(header, fds)
        for fd in fds:
            os.close(fd)
        reply = _supervise(ctrl, pid, header, ns_mode)
        _wipe(work_dir)
        try:
            _send(ctrl, reply)
        except OSError:
            break
    # parent gone or asked us to exit: take everything down with us
    if ns_mode:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    _os_exit(0)


def _supervise(ctrl, pid, header, ns_mode):
    import select
    import time

    t0 = time.monotonic()
    deadline = t0 + float(header.get("timeout", 5.0))
    timed_out = killed_by_request = parent_gone = False
    status = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while status is None:
        now = time.monotonic()
        wait = max(0.0, deadline - now)
        if pidfd is not None:
            r, _, _ = select.select([pidfd, ctrl], [], [], wait)
        else:
            r, _, _ = select.select([ctrl], [], [], min(wait, 0.005))
        if ctrl in r:
            try:
                m = ctrl.recv(1 << 16)
            except OSError:
                m = b""
            if not m:
                parent_gone = True
            killed_by_request = True
            _kill_group(pid)
        wp, st, ru = os.wait4(pid, os.WNOHANG)
        if wp == pid:
            status = (st, ru)
            break
        if time.monotonic() >= deadline and not timed_out:
            timed_out = True
            _kill_group(pid)
            wp, st, ru = os.wait4(pid, 0)
            status = (st, ru)
    if pidfd is not None:
        os.close(pidfd)
    st, ru = status
    # Whatever the program left behind (children, daemons) goes now.
    _kill_group(pid)
    if ns_mode:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    else:
        while True:
            try:
                w, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if w == 0:
                break
    if parent_gone:
        _os_exit(0)
    return {
        "exit": os.WEXITSTATUS(st) if os.WIFEXITED(st) else None,
        "signal": os.WTERMSIG(st) if os.WIFSIGNALED(st) else None,
        "timed_out": timed_out,
        "killed_by_request": killed_by_request,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kb": ru.ru_maxrss,
        "wall_s": time.monotonic() - t0,
    }


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def main(argv):
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["serve"])
    p.add_argument("--ctrl-fd", type=int, required=True)
    p.add_argument("--ns", action="store_true")
    p.add_argument("--work-dir", default="/tmp")
    a = p.parse_args(argv)
    serve(a.ctrl_fd, a.ns, a.work_dir)


if __name__ == "__main__":
    main(sys.argv[1:])

"""``elsnet`` command: service commands here, method commands in ``elsnet_core.cli``.

    elsnet serve [--host 127.0.0.1] [--port 8000]   API + embedded Celery worker
    elsnet worker [--queues train,infer]             a production Celery worker
    elsnet migrate [--revision head]                 apply database migrations
    elsnet create-key --name NAME [--role admin|editor|reader] [--project ID ...]
                                                     print a new API key (--admin = --role admin)
    elsnet demo [--port 8000] [--preset fast]        the bundled sample, end to end
    elsnet storage-check [--delete] [--min-age-hours 24]
                                                     objects no row reaches (left by crashes)
    elsnet fit | predict | bench ...                 the method (see `elsnet fit --help`)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SERVICE_COMMANDS = ("serve", "worker", "migrate", "create-key", "demo", "storage-check")


def exit_on_signals(*signums: int) -> None:
    """Turn these signals into ``SystemExit`` so ``finally`` blocks that stop child
    processes run (the default handlers end the process without them)."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in signums:
        signal.signal(signum, _exit)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ELSNET_HOME"] = str(Path(env.get("ELSNET_HOME", ".elsnet")).resolve())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _migrate(revision: str = "head") -> None:
    from store.migrate import upgrade

    Path(_env()["ELSNET_HOME"]).mkdir(parents=True, exist_ok=True)
    upgrade(revision=revision)


def _worker_cmd(queues: str, concurrency: int, name: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-Q", queues, "-c", str(concurrency), "-n", name, "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    os.environ.update(_env())
    _migrate()
    home = Path(os.environ["ELSNET_HOME"])
    log = open(home / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    worker = subprocess.Popen(
        _worker_cmd("train,infer", 1, "embedded@%h"), env={**_env(), "ELSNET_PARENT_PID": str(os.getpid())},
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    print(f"elsnet: embedded worker pid {worker.pid} (log: {home / 'worker.log'})", flush=True)
    # uvicorn shuts down on SIGTERM and then re-raises it to the previous handler; the
    # default one would end this process before the ``finally`` below stops the worker
    exit_on_signals(signal.SIGTERM)
    try:
        import uvicorn

        uvicorn.run("api.main:app", host=args.host, port=args.port, log_level="info")
    finally:
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(worker.pid, signal.SIGKILL)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    os.environ.update(_env())
    os.execv(sys.executable, _worker_cmd(args.queues, args.concurrency, args.name))
    return 0  # pragma: no cover


def cmd_migrate(args: argparse.Namespace) -> int:
    _migrate(args.revision)
    print(f"database at {args.revision}")
    return 0


def cmd_create_key(args: argparse.Namespace) -> int:
    os.environ.update(_env())
    _migrate()
    from store.auth import create_key
    from store.db import session_scope
    from store.errors import BadInput

    if args.admin and args.role not in (None, "admin"):
        print(f"elsnet create-key: --admin contradicts --role {args.role}; give one of them", file=sys.stderr)
        return 2
    role = args.role or ("admin" if args.admin else "editor")
    try:
        with session_scope() as s:
            key = create_key(s, args.name, role=role, project_ids=args.project)
    except BadInput as exc:
        print(f"elsnet create-key: {exc.detail}", file=sys.stderr)
        return 2
    print(key)
    return 0


def cmd_storage_check(args: argparse.Namespace) -> int:
    """List (and with --delete remove) objects no database row reaches any more."""
    from datetime import timedelta

    os.environ.update(_env())
    from store.db import session_scope
    from store.housekeeping import find_orphans, remove_orphans
    from store.storage import get_store

    store = get_store()
    with session_scope() as s:
        report = find_orphans(s, store, min_age=timedelta(hours=args.min_age_hours))
    print(f"scanned {report.scanned} objects; {len(report.orphans)} orphaned (older than "
          f"{args.min_age_hours:g} h), {report.too_recent} more too recent to judge, {len(report.unknown)} unknown")
    for reason, (n, size) in report.by_reason().items():
        print(f"  {n:6d} objects {size / 1e6:10.1f} MB  {reason}")
    for o in report.orphans[:20]:
        print(f"  {o.key}  ({o.reason})")
    if len(report.orphans) > 20:
        print(f"  ... and {len(report.orphans) - 20} more")
    for u in report.unknown[:5]:
        print(f"  unknown (kept): {u.key}")
    if args.delete and report.orphans:
        print(f"removed {remove_orphans(store, report)} objects")
    elif report.orphans:
        print("nothing removed: run again with --delete to remove them")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from demo import run_demo

    return run_demo(port=args.port, preset=args.preset, keep_serving=not args.no_keep)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SERVICE_COMMANDS:
        if argv and argv[0] in ("-h", "--help"):
            print(__doc__)
            return 0
        from elsnet_core.cli import main as core_main

        return int(core_main(argv) or 0)
    p = argparse.ArgumentParser(prog="elsnet")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="API + embedded worker on the embedded default")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="a Celery worker (production)")
    w.add_argument("--queues", default="train,infer")
    w.add_argument("--concurrency", type=int, default=1)
    w.add_argument("--name", default="elsnet@%h")
    w.set_defaults(func=cmd_worker)
    m = sub.add_parser("migrate", help="apply database migrations")
    m.add_argument("--revision", default="head")
    m.set_defaults(func=cmd_migrate)
    k = sub.add_parser("create-key", help="create an API key and print it once")
    k.add_argument("--name", default="cli")
    k.add_argument("--role", choices=("admin", "editor", "reader"), default=None,
                   help="reader: GET only; editor (default): also change and delete projects and their data; "
                        "admin: also manage keys and read the audit trail")
    k.add_argument("--project", action="append", default=None, metavar="PROJECT_ID",
                   help="limit the key to this project (repeat for several; default: all projects)")
    k.add_argument("--admin", action="store_true", help="same as --role admin")
    k.set_defaults(func=cmd_create_key)
    g = sub.add_parser("storage-check", help="find (and --delete) objects no database row reaches any more")
    g.add_argument("--delete", action="store_true", help="remove the orphans found (default: only list them)")
    g.add_argument("--min-age-hours", type=float, default=24.0,
                   help="judge only objects older than this (default 24: nothing being written now)")
    g.set_defaults(func=cmd_storage_check)
    d = sub.add_parser("demo", help="run the bundled CHAOS sample through the REST API")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--preset", default="fast")
    d.add_argument("--no-keep", action="store_true", help="stop the service after the demo")
    d.set_defaults(func=cmd_demo)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

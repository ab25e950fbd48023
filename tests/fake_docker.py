"""A stand-in ``docker`` command for tests: the CLI subset the docker executor uses.

There is no Docker daemon here, so tests put an executable named ``docker``
first on PATH that runs this file. It keeps container state in the
directory ``$FAKE_DOCKER_STATE`` (so ``ps``, ``inspect``, ``logs``, ``kill``
and ``rm`` work across invocations) and runs a container's command as a
local process:

- in its own session (``kill``/``rm -f`` kill its whole process group), with
  only the environment a container would have: the image's ``PATH`` and
  ``HOME``, plus ``-e NAME=VALUE`` and ``-e NAME`` (copied from this
  command's own environment, as docker does), nothing else of the caller's;
- in its own root directory (``containers/<id>/rootfs``): ``--workdir``
  and paths outside any mount live there;
- with bind mounts (``-v HOST:CONTAINER[:ro]``) applied by rewriting paths
  in the command line and the environment from container to host (a
  process here cannot have a mount namespace of its own).

Images: any name runs with this interpreter's environment on PATH (redun
installed); ``bare/...`` images have no redun (the command is not found,
exit 127, as docker reports it); ``missing/...`` cannot be pulled (exit 125).

Every invocation is appended to ``$FAKE_DOCKER_STATE/calls.jsonl``, each
container's parsed ``run`` request (image, command, environment, labels,
binds, resources) to ``runs.jsonl``, and containers starting and ending to
``events.jsonl``, so a test can assert on exactly what the executor asked for. Usage errors and messages follow
docker's (exit status 125 for ``run``'s own failures).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from typing import Any

STATE = os.environ.get("FAKE_DOCKER_STATE", "")
VENV_BIN = os.path.dirname(sys.executable)
BARE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

RUN_VALUE_FLAGS = {
    "--name": "name",
    "--label": "label",
    "-l": "label",
    "--env": "env",
    "-e": "env",
    "--volume": "volume",
    "-v": "volume",
    "--workdir": "workdir",
    "-w": "workdir",
    "--user": "user",
    "-u": "user",
    "--cpus": "cpus",
    "--memory": "memory",
    "-m": "memory",
    "--gpus": "gpus",
    "--shm-size": "shm_size",
    "--cidfile": "cidfile",
    "--network": "network",
}
RUN_BOOL_FLAGS = {
    "-d": "detach",
    "--detach": "detach",
    "-i": "interactive",
    "--interactive": "interactive",
    "-t": "tty",
    "--tty": "tty",
    "--rm": "rm",
    "--init": "init",
}


def fail(message: str, status: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(status)


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextmanager
def locked():
    with open(os.path.join(STATE, "lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def containers_dir() -> str:
    return os.path.join(STATE, "containers")


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as infile:
        return json.load(infile)


def write_json(path: str, data: Any) -> None:
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(temp, path)


def all_containers() -> list[dict]:
    found = []
    try:
        ids = sorted(os.listdir(containers_dir()))
    except FileNotFoundError:
        return []
    for cid in ids:
        try:
            spec = read_json(os.path.join(containers_dir(), cid, "spec.json"))
            spec["State"] = read_json(os.path.join(containers_dir(), cid, "state.json"))
        except (OSError, ValueError):
            continue
        found.append(spec)
    return found


def find(ref: str) -> dict | None:
    for spec in all_containers():
        if ref in (spec["Id"], spec["Name"], "/" + spec["Name"]) or (
            len(ref) >= 4 and spec["Id"].startswith(ref)
        ):
            return spec
    return None


def note(event: str, spec: dict) -> None:
    """Append to ``events.jsonl``: containers starting and ending, for tests of concurrency."""
    line = json.dumps({"event": event, "name": spec["Name"], "time": time.time()})
    with locked():
        with open(os.path.join(STATE, "events.jsonl"), "a", encoding="utf-8") as out:
            out.write(line + "\n")


def update_state(cid: str, **changes: Any) -> dict:
    path = os.path.join(containers_dir(), cid, "state.json")
    with locked():
        state = read_json(path)
        state.update(changes)
        write_json(path, state)
    return state


# -- docker run ------------------------------------------------------------------------


def parse_run(args: list[str]) -> tuple[dict, str, list[str]]:
    options: dict[str, Any] = {"label": [], "env": [], "volume": []}
    index = 0
    while index < len(args):
        word = args[index]
        if not word.startswith("-") or word == "-":
            break
        if word.startswith("--") and "=" in word:
            flag, value = word.split("=", 1)
            if flag not in RUN_VALUE_FLAGS:
                fail(f"unknown flag: {flag}\nSee 'docker run --help'.", 125)
            key = RUN_VALUE_FLAGS[flag]
        elif word in RUN_VALUE_FLAGS:
            key = RUN_VALUE_FLAGS[word]
            index += 1
            if index >= len(args):
                fail(f"flag needs an argument: {word}\nSee 'docker run --help'.", 125)
            value = args[index]
        elif word in RUN_BOOL_FLAGS:
            options[RUN_BOOL_FLAGS[word]] = True
            index += 1
            continue
        elif word.startswith("-") and not word.startswith("--") and len(word) > 2:
            letters = [f"-{letter}" for letter in word[1:]]  # -it
            if not all(letter in RUN_BOOL_FLAGS for letter in letters):
                fail(f"unknown shorthand flag: {word!r}\nSee 'docker run --help'.", 125)
            for letter in letters:
                options[RUN_BOOL_FLAGS[letter]] = True
            index += 1
            continue
        else:
            fail(f"unknown flag: {word}\nSee 'docker run --help'.", 125)
        if isinstance(options.get(key), list):
            options[key].append(value)
        else:
            options[key] = value
        index += 1
    if index >= len(args):
        fail("\"docker run\" requires at least 1 argument.\nSee 'docker run --help'.", 125)
    return options, args[index], args[index + 1 :]


def memory_bytes(text: str) -> int:
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def map_path(value: str, mounts: list[tuple[str, str]]) -> str:
    """A container path's place on this machine, for paths under a bind mount."""
    for host, container in mounts:
        if value == container:
            return host
        if value.startswith(container.rstrip("/") + "/"):
            return host.rstrip("/") + value[len(container.rstrip("/")) :]
    return value


def cmd_run(args: list[str]) -> None:
    options, image, command = parse_run(args)
    if image.startswith("missing/"):
        repo = image.split(":")[0]
        fail(
            f"Unable to find image '{image}' locally\n"
            f"docker: Error response from daemon: pull access denied for {repo}, repository "
            "does not exist or may require 'docker login'.\nSee 'docker run --help'.",
            125,
        )
    name = options.get("name") or f"fake_{uuid.uuid4().hex[:8]}"
    labels = {}
    for item in options["label"]:
        key, _, value = item.partition("=")
        labels[key] = value
    mounts: list[tuple[str, str]] = []
    binds = []
    for item in options["volume"]:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0].startswith("/"):
            fail(f"docker: the stand-in supports bind mounts HOST:CONTAINER only: {item!r}", 125)
        if len(parts) == 3 and parts[2] not in ("ro", "rw"):
            fail(f"docker: Error response from daemon: invalid mode: {parts[2]}.", 125)
        os.makedirs(parts[0], exist_ok=True)  # docker creates a missing host directory
        mounts.append((parts[0], parts[1]))
        binds.append(item)
    mounts.sort(key=lambda pair: -len(pair[1]))
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    root = os.path.join(containers_dir(), cid, "rootfs")
    path = BARE_PATH if image.startswith("bare/") else f"{VENV_BIN}:{BARE_PATH}"
    env = {"PATH": path, "HOSTNAME": cid[:12], "HOME": "/root"}
    for item in options["env"]:
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    workdir = options.get("workdir") or "/"
    if not workdir.startswith("/"):
        fail(
            f"docker: Error response from daemon: the working directory {workdir!r} is invalid", 125
        )
    spec = {
        "Id": cid,
        "Name": name,
        "Created": now_text(),
        "Image": image,
        "Args": args,
        "Config": {
            "Image": image,
            "Cmd": command,
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Labels": labels,
            "WorkingDir": workdir,
            "User": options.get("user", ""),
        },
        "HostConfig": {
            "Binds": binds,
            "Memory": memory_bytes(options["memory"]) if "memory" in options else 0,
            "NanoCpus": int(float(options["cpus"]) * 1e9) if "cpus" in options else 0,
            "Gpus": options.get("gpus", ""),
            "ShmSize": memory_bytes(options["shm_size"]) if "shm_size" in options else 0,
            "NetworkMode": options.get("network", "default"),
        },
        "Detach": bool(options.get("detach")),
        "Interactive": bool(options.get("interactive")),
        "Tty": bool(options.get("tty")),
    }
    with locked():
        for other in all_containers():
            if other["Name"] == name:
                fail(
                    f'docker: Error response from daemon: Conflict. The container name "/{name}" '
                    f'is already in use by container "{other["Id"]}". You have to remove (or '
                    "rename) that container to be able to reuse that name.\n"
                    "See 'docker run --help'.",
                    125,
                )
        os.makedirs(root)
        home = os.path.join(root, "root")
        os.makedirs(home)
        os.makedirs(os.path.join(root, workdir.lstrip("/")), exist_ok=True)
        directory = os.path.join(containers_dir(), cid)
        write_json(
            os.path.join(directory, "state.json"),
            {
                "Status": "created",
                "Running": False,
                "Pid": 0,
                "ExitCode": 0,
                "OOMKilled": False,
                "Dead": False,
                "Error": "",
                "StartedAt": "0001-01-01T00:00:00Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
            },
        )
        write_json(os.path.join(directory, "spec.json"), spec)
        with open(os.path.join(STATE, "runs.jsonl"), "a", encoding="utf-8") as out:
            out.write(json.dumps(spec) + "\n")  # kept after the container is removed
    if options.get("cidfile"):
        with open(options["cidfile"], "w") as out:
            out.write(cid)

    executable = shutil.which(command[0], path=path) if command else None
    if executable is None:
        error = f'exec: "{command[0] if command else ""}": executable file not found in $PATH'
        update_state(cid, ExitCode=127, Error=error)
        fail(
            "docker: Error response from daemon: failed to create task for container: failed "
            "to create shim task: OCI runtime create failed: runc create failed: unable to "
            f"start container process: {error}: unknown.",
            127,
        )
    if options.get("detach"):
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "__shim__", cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, FAKE_DOCKER_STATE=STATE),
        )
        deadline = time.monotonic() + 30
        while read_json(os.path.join(directory, "state.json"))["Status"] == "created":
            if time.monotonic() > deadline:
                fail("docker: Error response from daemon: the container did not start", 125)
            time.sleep(0.005)
        print(cid)
        return
    sys.exit(shim(cid, foreground=True))


def shim(cid: str, *, foreground: bool = False) -> int:
    """Run container ``cid``'s command to its end; its exit status."""
    directory = os.path.join(containers_dir(), cid)
    spec = read_json(os.path.join(directory, "spec.json"))
    config = spec["Config"]
    mounts = []
    for bind in spec["HostConfig"]["Binds"]:
        host, container = bind.split(":")[:2]
        mounts.append((host, container))
    root = os.path.join(directory, "rootfs")
    mounts.sort(key=lambda pair: -len(pair[1]))
    mounts.append((os.path.join(root, "root"), "/root"))
    env = {}
    for item in config["Env"]:
        key, _, value = item.partition("=")
        env[key] = map_path(value, mounts) if key != "PATH" else value
    command = [map_path(word, mounts) for word in config["Cmd"]]
    command[0] = shutil.which(command[0], path=env["PATH"]) or command[0]
    workdir = map_path(config["WorkingDir"], mounts)
    if workdir == config["WorkingDir"]:
        workdir = os.path.join(root, config["WorkingDir"].lstrip("/"))
    if foreground:  # attached to this terminal: it stays in the caller's process group
        out, err, stdin = None, None, None
    else:
        out = open(os.path.join(directory, "stdout"), "wb")
        err = open(os.path.join(directory, "stderr"), "wb")
        stdin = subprocess.DEVNULL
    child = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdin=stdin,
        stdout=out,
        stderr=err,
        start_new_session=not foreground,  # its own group: kill takes all it started
    )
    update_state(
        cid,
        Status="running",
        Running=True,
        Pid=child.pid,
        Group=not foreground,
        StartedAt=now_text(),
    )
    note("start", spec)
    code = child.wait()
    if code < 0:
        code = 128 - code
    with locked():
        path = os.path.join(directory, "state.json")
        try:
            state = read_json(path)
        except OSError:
            return code  # removed meanwhile
        if state["Status"] == "running":
            state.update(
                Status="exited", Running=False, Pid=0, ExitCode=code, FinishedAt=now_text()
            )
            write_json(path, state)
    note("exit", spec)
    return code


# -- queries and removal -------------------------------------------------------------


def cmd_inspect(args: list[str]) -> None:
    kind = "object"
    refs = []
    index = 0
    while index < len(args):
        if args[index] == "--type":
            kind = args[index + 1]
            index += 2
            continue
        if args[index].startswith("-"):
            fail(f"unknown flag: {args[index]}", 125)
        refs.append(args[index])
        index += 1
    found, missing = [], []
    for ref in refs:
        spec = find(ref)
        if spec is None:
            missing.append(ref)
            continue
        spec = dict(spec)
        spec["Name"] = "/" + spec["Name"]
        found.append(spec)
    print(json.dumps(found, indent=4))
    for ref in missing:
        print(f"Error: No such {kind}: {ref}", file=sys.stderr)
    sys.exit(1 if missing else 0)


def cmd_ps(args: list[str]) -> None:
    show_all = quiet = no_trunc = False
    filters = []
    index = 0
    while index < len(args):
        word = args[index]
        if word in ("-a", "--all"):
            show_all = True
        elif word in ("-q", "--quiet"):
            quiet = True
        elif word == "--no-trunc":
            no_trunc = True
        elif word in ("-f", "--filter"):
            index += 1
            filters.append(args[index])
        else:
            fail(f"unknown flag: {word}\nSee 'docker ps --help'.", 125)
        index += 1
    rows = []
    for spec in all_containers():
        if not show_all and spec["State"]["Status"] != "running":
            continue
        if all(matches(spec, item) for item in filters):
            rows.append(spec)
    for spec in rows:
        cid = spec["Id"] if no_trunc else spec["Id"][:12]
        if quiet:
            print(cid)
        else:
            print(f"{cid}  {spec['Image']}  {spec['State']['Status']}  {spec['Name']}")


def matches(spec: dict, item: str) -> bool:
    key, _, value = item.partition("=")
    if key == "label":
        label, sep, wanted = value.partition("=")
        labels = spec["Config"]["Labels"]
        return label in labels and (not sep or labels[label] == wanted)
    if key == "name":
        return value in spec["Name"]
    if key == "status":
        return spec["State"]["Status"] == value
    fail(f"Error response from daemon: invalid filter '{key}'", 1)
    return False


def cmd_logs(args: list[str]) -> None:
    if len(args) != 1 or args[0].startswith("-"):
        fail("the stand-in supports 'docker logs CONTAINER' only", 125)
    spec = find(args[0])
    if spec is None:
        fail(f"Error response from daemon: No such container: {args[0]}")
    directory = os.path.join(containers_dir(), spec["Id"])
    for name, stream in (("stdout", sys.stdout.buffer), ("stderr", sys.stderr.buffer)):
        try:
            with open(os.path.join(directory, name), "rb") as infile:
                stream.write(infile.read())
        except FileNotFoundError:
            pass
        stream.flush()


def kill_container(spec: dict) -> bool:
    state = spec["State"]
    if state["Status"] != "running":
        return False
    try:
        if state.get("Group"):
            os.killpg(state["Pid"], signal.SIGKILL)
        else:
            os.kill(state["Pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    update_state(
        spec["Id"], Status="exited", Running=False, Pid=0, ExitCode=137, FinishedAt=now_text()
    )
    return True


def cmd_kill(args: list[str]) -> None:
    status = 0
    for ref in args:
        spec = find(ref)
        if spec is None:
            print(f"Error response from daemon: No such container: {ref}", file=sys.stderr)
            status = 1
        elif not kill_container(spec):
            print(
                f"Error response from daemon: cannot kill container: {ref}: container "
                f"{spec['Id']} is not running",
                file=sys.stderr,
            )
            status = 1
        else:
            print(ref)
    sys.exit(status)


def cmd_rm(args: list[str]) -> None:
    force = False
    refs = []
    for word in args:
        if word in ("-f", "--force"):
            force = True
        elif word.startswith("-"):
            fail(f"unknown flag: {word}\nSee 'docker rm --help'.", 125)
        else:
            refs.append(word)
    status = 0
    for ref in refs:
        spec = find(ref)
        if spec is None:
            print(f"Error response from daemon: No such container: {ref}", file=sys.stderr)
            status = 1
            continue
        if spec["State"]["Status"] == "running":
            if not force:
                print(
                    f'Error response from daemon: cannot remove container "/{spec["Name"]}": '
                    "container is running: stop the container before removing or force remove",
                    file=sys.stderr,
                )
                status = 1
                continue
            kill_container(spec)
        with locked():
            shutil.rmtree(os.path.join(containers_dir(), spec["Id"]), ignore_errors=True)
        print(ref)
    sys.exit(status)


COMMANDS = {
    "run": cmd_run,
    "inspect": cmd_inspect,
    "ps": cmd_ps,
    "logs": cmd_logs,
    "kill": cmd_kill,
    "rm": cmd_rm,
}


def main(argv: list[str]) -> None:
    if not STATE:
        fail("fake docker: set FAKE_DOCKER_STATE to a directory", 2)
    os.makedirs(containers_dir(), exist_ok=True)
    if argv[:1] == ["__shim__"]:
        sys.exit(shim(argv[1]))
    with locked():
        with open(os.path.join(STATE, "calls.jsonl"), "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": argv, "time": time.time()}) + "\n")
    if not argv or argv[0] not in COMMANDS:
        fail(f"docker: '{argv[0] if argv else ''}' is not a docker command (stand-in).", 1)
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

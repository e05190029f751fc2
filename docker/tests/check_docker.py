#!/usr/bin/env python3
"""Checks docker/ without a Docker engine (ctest: docker_files_test, label unit).

  1. docker/compose.yaml validates against the Compose Specification schema (docker/schema/).
  2. Every flag and LOTTERY_* variable that compose.yaml and the Dockerfile give a binary is one
     that binary accepts (its --help, and its subcommand's --help).
  3. Start order and healthchecks as docs/operations.md documents them: migrate after PostgreSQL
     is healthy, writer and relay after migrate completed and Kafka is healthy, each daemon
     restarted by compose and health-checked on the address it binds.
  4. The writer's and the relay's metrics are not bound to all interfaces (0.0.0.0, [::]).
  5. The Dockerfile's build stage installs scripts/bootstrap's BUILD_PKGS, its runtime stage
     RUNTIME_PKGS (+ ca-certificates, curl), and RUNTIME_PKGS are exactly the Debian packages of
     the shared libraries the built binaries link.

Usage: check_docker.py BIN_DIR REPO_ROOT
Needs Debian's python3-yaml and python3-jsonschema (scripts/bootstrap).
"""
import json
import os
import re
import shlex
import subprocess
import sys

import jsonschema
import yaml

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


# ---------------------------------------------------------------- --help of the binaries
_help_cache = {}


def accepted(bin_dir, binary, sub=None):
    """(flags, env vars) the binary accepts: its own options plus the subcommand's."""
    key = (binary, sub)
    if key not in _help_cache:
        path = os.path.join(bin_dir, binary)
        if not os.access(path, os.X_OK):
            fail("%s is not a built binary (%s)" % (binary, path))
            _help_cache[key] = (set(), set())
            return _help_cache[key]
        text = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
        if sub:
            text += subprocess.run([path, sub, "--help"], capture_output=True, text=True).stdout
        flags = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text))
        envs = set(re.findall(r"\(Env:([A-Z0-9_]+)\)", text))
        _help_cache[key] = (flags, envs)
    return _help_cache[key]


def subcommands(bin_dir, binary):
    path = os.path.join(bin_dir, binary)
    text = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
    part = text.split("Subcommands:", 1)
    return set(re.findall(r"^  (\w[\w-]*) ", part[1], re.M)) if len(part) == 2 else set()


def check_command(bin_dir, where, argv, env):
    binary = argv[0]
    rest = argv[1:]
    sub = rest[0] if rest and rest[0] in subcommands(bin_dir, binary) else None
    flags, envs = accepted(bin_dir, binary, sub)
    for arg in rest:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if flag not in flags:
                fail("%s: %s does not accept %s (see %s --help)" % (where, binary, flag, binary))
    for var in env:
        if var not in envs:
            fail("%s: %s does not read %s (no '(Env:%s)' in its --help)" % (where, binary, var, var))
    ok("%s: %s%s: %d flag(s), %d variable(s) checked" % (
        where, binary, " " + sub if sub else "", sum(a.startswith("--") for a in rest), len(env)))


# ---------------------------------------------------------------- compose.yaml
def check_compose(bin_dir, root):
    path = os.path.join(root, "docker/compose.yaml")
    with open(path) as fh:
        raw = fh.read()
    doc = yaml.safe_load(raw)  # also resolves the `<<:` merge keys
    with open(os.path.join(root, "docker/schema/compose-spec.json")) as fh:
        schema = json.load(fh)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
    for e in errors:
        fail("compose.yaml does not follow the Compose Specification at /%s: %s" % (
            "/".join(map(str, e.absolute_path)), e.message))
    if not errors:
        ok("compose.yaml validates against the Compose Specification schema")

    services = doc["services"]
    ours = {n: s for n, s in services.items() if s.get("image") == "lottery-service:local"}
    if not ours:
        fail("no service runs the lottery-service image")
    for name, svc in ours.items():
        cmd = svc.get("command")
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        check_command(bin_dir, "compose.yaml service %s" % name, cmd,
                      list(env))
    # Suggested settings left as comments must be real too.
    for var in sorted(set(re.findall(r"#\s*(LOTTERY_[A-Z0-9_]+):", raw))):
        readers = [b for b in ("lottery-writer", "lottery-cdc-relay", "lottery-stakegen",
                               "lottery-migrate", "lottery-watch")
                   if var in accepted(bin_dir, b, "run" if b == "lottery-cdc-relay" else None)[1]]
        if not readers:
            fail("compose.yaml suggests %s in a comment, which no binary reads" % var)

    # Start order (docs/operations.md "Start order") and health.
    def depends(svc, on, condition):
        d = services[svc].get("depends_on") or {}
        if isinstance(d, list):
            return False
        return (d.get(on) or {}).get("condition") == condition

    expect = [("migrate", "postgres", "service_healthy")]
    for daemon in ("writer", "cdc-relay"):
        expect += [(daemon, "migrate", "service_completed_successfully"),
                   (daemon, "kafka", "service_healthy")]
    expect += [("stakegen", "kafka", "service_healthy")]
    for svc, on, cond in expect:
        if svc not in services:
            fail("compose.yaml has no service %s" % svc)
        elif not depends(svc, on, cond):
            fail("compose.yaml: %s must depend on %s with condition %s" % (svc, on, cond))
    for svc in ("postgres", "kafka"):
        if "healthcheck" not in services.get(svc, {}):
            fail("compose.yaml: %s has no healthcheck (its dependents wait for service_healthy)" % svc)
    for daemon in ("writer", "cdc-relay", "stakegen"):
        svc = services.get(daemon, {})
        if svc.get("restart") not in ("always", "unless-stopped", "on-failure"):
            fail("compose.yaml: %s must be restarted by compose (a relay started before "
                 "migrate exits 1 and relies on it)" % daemon)
        env = svc.get("environment") or {}
        if daemon == "stakegen":
            cmd = svc.get("command") or []
            addr = cmd[cmd.index("--listen") + 1] if "--listen" in cmd else env.get(
                "LOTTERY_STAKEGEN_LISTEN", "127.0.0.1:8081")
        else:
            addr = str(env.get("LOTTERY_METRICS_ADDR", ""))
            if addr in ("", "off"):
                fail("compose.yaml: %s serves no /readyz (LOTTERY_METRICS_ADDR), so it cannot "
                     "be health-checked" % daemon)
                continue
            host = addr.rsplit(":", 1)[0].strip("[]")
            if host in ("0.0.0.0", "::", "*"):
                fail("compose.yaml: %s binds its metrics to all interfaces (%s); bind 127.0.0.1 "
                     "unless a scraper in another container needs it" % (daemon, addr))
        port = addr.rsplit(":", 1)[1]
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
        path = "/healthz" if daemon == "stakegen" else "/readyz"
        if not re.search(r"127\.0\.0\.1:%s%s\b" % (port, path), test):
            fail("compose.yaml: %s's healthcheck does not ask http://127.0.0.1:%s%s (%r)" % (
                daemon, port, path, test))
    ok("compose.yaml: start order, restart policies, healthchecks and bind addresses")


# ---------------------------------------------------------------- Dockerfile
def dockerfile_stages(text):
    """{stage name: [instruction lines joined across continuations]}"""
    text = re.sub(r"\\\n", " ", text)
    stages, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            cur = m.group(1) or "stage%d" % len(stages)
            stages[cur] = []
            continue
        if cur:
            stages[cur].append(line)
    return stages


def apt_packages(lines):
    pkgs = set()
    for line in lines:
        for m in re.finditer(r"apt-get install ((?:\s*(?:-\S+|[a-z0-9][a-z0-9.+-]*))+)", line):
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def bootstrap_lists(root):
    with open(os.path.join(root, "scripts/bootstrap")) as fh:
        text = fh.read()
    lists = {}
    for name in ("BUILD_PKGS", "RUNTIME_PKGS", "DEV_PKGS"):
        m = re.search(r"^%s=\(\n?(.*?)\)" % name, text, re.S | re.M)
        if not m:
            fail("scripts/bootstrap has no %s=( ... ) list" % name)
            lists[name] = set()
        else:
            lists[name] = set(m.group(1).split())
    return lists


def linked_packages(bin_dir, binaries):
    """Debian packages owning the shared libraries the binaries name as NEEDED."""
    pkgs, libs = set(), set()
    for b in binaries:
        path = os.path.join(bin_dir, b)
        dyn = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
        resolved = {}
        for line in subprocess.run(["ldd", path], capture_output=True, text=True).stdout.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m:
                resolved[m.group(1)] = m.group(2)
        for lib in needed:
            if lib not in resolved:
                fail("%s: NEEDED %s not found by ldd" % (b, lib))
                continue
            libs.add(os.path.realpath(resolved[lib]))
    for lib in sorted(libs):
        out = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True).stdout
        if not out:
            # dpkg records the path the package shipped; /lib is a symlink to /usr/lib on bookworm.
            alt = lib.replace("/usr/lib/", "/lib/", 1) if lib.startswith("/usr/lib/") else lib
            out = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True).stdout
        if not out:
            fail("no Debian package owns %s" % lib)
            continue
        pkgs.add(out.split(":", 1)[0].strip())
    return pkgs


# In debian:bookworm already (apt itself needs them).
BASE_IMAGE_PKGS = {"libc6", "libgcc-s1", "libstdc++6"}
RUNTIME_EXTRAS = {"ca-certificates", "curl"}  # healthchecks over HTTP


def check_dockerfile(bin_dir, root):
    with open(os.path.join(root, "docker/Dockerfile")) as fh:
        text = fh.read()
    stages = dockerfile_stages(text)
    if set(stages) != {"build", "runtime"}:
        fail("Dockerfile stages are %s, expected build and runtime" % sorted(stages))
        return
    lists = bootstrap_lists(root)
    build = apt_packages(stages["build"])
    runtime = apt_packages(stages["runtime"])
    if build != lists["BUILD_PKGS"]:
        fail("Dockerfile build stage installs %s; scripts/bootstrap BUILD_PKGS differ: missing "
             "in the Dockerfile %s, extra %s" % (sorted(build), sorted(lists["BUILD_PKGS"] - build),
                                                 sorted(build - lists["BUILD_PKGS"])))
    want = lists["RUNTIME_PKGS"] | RUNTIME_EXTRAS
    if runtime != want:
        fail("Dockerfile runtime stage differs from scripts/bootstrap RUNTIME_PKGS + %s: missing "
             "%s, extra %s" % (sorted(RUNTIME_EXTRAS), sorted(want - runtime),
                               sorted(runtime - want)))
    # The binaries the image ships (its cmake --build --target list).
    targets = []
    for line in stages["build"]:
        m = re.search(r"--target((?:\s+[\w-]+)+)", line)
        if m:
            targets = m.group(1).split()
    if not targets:
        fail("Dockerfile build stage names no --target")
    linked = linked_packages(bin_dir, targets) - BASE_IMAGE_PKGS
    if linked != lists["RUNTIME_PKGS"]:
        fail("the binaries link libraries of %s; scripts/bootstrap RUNTIME_PKGS is %s (missing %s, "
             "extra %s)" % (sorted(linked), sorted(lists["RUNTIME_PKGS"]),
                            sorted(linked - lists["RUNTIME_PKGS"]),
                            sorted(lists["RUNTIME_PKGS"] - linked)))
    ok("Dockerfile: build stage = BUILD_PKGS, runtime stage = RUNTIME_PKGS + %s, RUNTIME_PKGS = "
       "what %d binaries link" % (sorted(RUNTIME_EXTRAS), len(targets)))
    # CMD / ENTRYPOINT and ENV of the runtime stage.
    env = []
    for line in stages["runtime"]:
        m = re.match(r"ENV\s+(.*)", line)
        if m:
            env += re.findall(r"([A-Z0-9_]+)=", m.group(1)) or m.group(1).split()[:1]
    for line in stages["runtime"]:
        m = re.match(r"(CMD|ENTRYPOINT)\s+(\[.*\])", line)
        if m:
            check_command(bin_dir, "Dockerfile %s" % m.group(1), json.loads(m.group(2)),
                          [e for e in env if e.startswith("LOTTERY_")])


def main():
    bin_dir, root = sys.argv[1], sys.argv[2]
    check_compose(bin_dir, root)
    check_dockerfile(bin_dir, root)
    if failures:
        print("%d problem(s) in docker/" % len(failures))
        return 1
    print("docker/: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

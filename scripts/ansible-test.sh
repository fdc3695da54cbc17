#!/usr/bin/env bash
# The Ansible playbook (ansible/soak.yml) end to end on this machine. ansible-core and
# ansible-lint from PyPI (pip as this machine configures it) in a venv under target/; a
# generated inventory of two hosts on this machine (ansible_connection=local), each a lab of its
# own (namespace and link names), short soaks. Checks: the playbook with the example inventory
# passes --syntax-check and ansible-lint (production profile); run 1 (both pass; host b runs a
# sweep of two cells where the build has `vflag-ctl sweep`) exits 0, fetches both reports and
# merges them, both hosts passed in merged.json; run 2 (host b's outage
# limit 1 ms, under any flap's; a host c whose verify fails) exits 2, still fetches and merges
# a and b, b's row failed and a's passed, c fetched (its verify.xml) with no soak run and not
# merged; after each run no lab namespace or link is left. Run as root.
# Settings (environment): ANSIBLE_TEST_THROTTLE (how many hosts soak at once: 1, the default,
# one after the other, as docs/ansible.md explains; 0 all at once), ANSIBLE_TEST_TIMEOUT (each
# playbook run's bound, s; default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/ansible-test
venv=$root/target/ansible-venv
bound=${ANSIBLE_TEST_TIMEOUT:-600}

cargo build --release -q -p vflag-dp -p vflag-control
if [ ! -x "$venv/bin/ansible-lint" ]; then
    python3 -m venv "$venv"
    timeout 300 "$venv/bin/pip" install -q 'ansible-core==2.19.*' 'ansible-lint==26.10.*'
fi
# ansible-core's ssh agent support imports a DSA class that cryptography warns about on every
# start; the lab test has no ssh.
export PYTHONWARNINGS="ignore:DSA is deprecated"
"$venv/bin/ansible-playbook" --version | sed -n 1p

# The two hosts' labs: a namespace and link names each (names.rs: 1-15 of [A-Za-z0-9._-]).
declare -A ns=([a]=vfa [b]=vfb)
ctl=$root/target/release/vflag-ctl
labs_down() {
    local h
    for h in a b; do
        if ip netns list | grep -qw "${ns[$h]}"; then
            "$ctl" lab down --ns "${ns[$h]}" --host-links "p${h}0,p${h}1" --switch-links "s${h}0,s${h}1" || true
        fi
    done
}
# Whatever happens, no lab is left behind (a playbook killed by the bound leaves its soaks to
# their own async bound, below it).
trap labs_down EXIT

rm -rf "$work"
mkdir -p "$work"

# Where the build has `vflag-ctl sweep`, run 1's host b runs a sweep of two cells (xor and
# active-backup) instead of a soak: the role's vflag_sweep_args path, merged as one row a cell.
sweep=0
"$ctl" sweep --help >/dev/null 2>&1 && sweep=1

# $1: run name (pass: hosts a and b; fail: b's outage limit 1 ms, and a host c whose verify
# fails). Writes $work/$1/inventory.json (JSON is YAML: lists stay lists, each argument one
# element).
inventory() {
    mkdir -p "$work/$1"
    python3 - "$work/$1" "$venv/bin/python" "$1" "$root/control/tests/fixtures/mlx5/up/sys" "$sweep" <<'EOF'
import json, sys
out, python, run, card_sysfs, sweep = sys.argv[1:6]
hugepages = int(open("/proc/sys/vm/nr_hugepages").read())
def host(h, **vars):
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": python,
        # root already, and no sudo needed
        "ansible_become": False,
        "vflag_prefix": f"{out}/hosts/dut-{h}",
        # what the machine has: the check runs and changes nothing
        "vflag_hugepages": hugepages,
        "vflag_run_timeout": 300,
        "vflag_poll": 2,
        **vars,
    }
def short(h, max_outage="500"):
    return [
        "--ns", f"vf{h}", "--host-links", f"p{h}0,p{h}1", "--switch-links", f"s{h}0,s{h}1",
        "--flaps", "1", "--interval", "3s", "--down-ms", "300", "--max-outage-ms", max_outage,
    ]
def lab(h, max_outage="500"):
    return host(h, vflag_lab=True, vflag_soak_args=[
        "--lab", "--bond", "xor", *short(h, max_outage), "--min-member-share", "30",
    ])
hosts = {"dut-a": lab("a")}
if run == "pass" and sweep == "1":
    hosts["dut-b"] = host("b", vflag_lab=True, vflag_sweep_args=[
        "--lab", "--bond", "xor,active-backup", "--", *short("b"),
    ])
elif run == "pass":
    hosts["dut-b"] = lab("b")
else:
    hosts["dut-b"] = lab("b", max_outage="1")
    # A hardware host whose VF-LAG is not in place: verify reads a card's sysfs fixture with
    # no card behind it (devlink, tc and ethtool find nothing) and exits 3, so no soak runs
    # (its arguments would be refused if one did).
    hosts["dut-c"] = host("c", vflag_verify_args=["--sysfs-root", card_sysfs], vflag_soak_args=["--flaps", "1"])
inv = {"all": {"children": {"vflag_duts": {"hosts": hosts}}}}
json.dump(inv, open(f"{out}/inventory.json", "w"), indent=1)
EOF
}

# $1: run name. The playbook's exit code.
playbook() {
    local rc=0
    ANSIBLE_CONFIG=$root/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 timeout --kill-after=30 "$bound" \
        "$venv/bin/ansible-playbook" -i "$work/$1/inventory.json" "$root/ansible/soak.yml" \
        -e "vflag_reports_dir=$work/$1/reports" -e "vflag_build_dir=$root/target/release" \
        -e "vflag_run_throttle=${ANSIBLE_TEST_THROTTLE:-1}" >"$work/$1/ansible.log" 2>&1 || rc=$?
    tail -n 25 "$work/$1/ansible.log"
    return $rc
}

passed=0
failed=0
check() {
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $*"
        failed=$((failed + 1))
    fi
}

# The merged report: every row's host and verdict, as `host:pass` words, sorted.
verdicts() {
    python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["schema"] == "vflag-ctl.merged.v1", m["schema"]
print(" ".join(sorted(r["host"] + ":" + r["outcome"] for r in m["rows"])), m["pass"])
' "$1"
}

no_lab_left() {
    local h
    for h in a b; do
        if ip netns list | grep -qw "${ns[$h]}" || ip -o link show | grep -qE ": p${h}[01][@:]"; then
            echo "lab ${ns[$h]} left behind"
            return 1
        fi
    done
}

is() { [ "$1" == "$2" ] || { echo "got '$1', expected '$2'"; return 1; }; }

echo "ansible-test: syntax and lint"
ANSIBLE_CONFIG=$root/ansible/ansible.cfg check "$venv/bin/ansible-playbook" --syntax-check \
    -i "$root/ansible/inventory.example.yml" "$root/ansible/soak.yml"
# ansible-lint puts its venv's bin first on PATH itself, and says so, unless it is there.
check env -C "$root/ansible" PATH="$venv/bin:$PATH" "$venv/bin/ansible-lint" -q soak.yml roles/vflag

echo "ansible-test: run 1, both hosts pass"
inventory pass
start=$SECONDS
rc=0
playbook pass || rc=$?
echo "ansible-test: run 1 took $((SECONDS - start)) s, exit $rc"
check is "$rc" 0
for h in a b; do
    check test -s "$work/pass/reports/dut-$h/junit.xml"
done
check test -s "$work/pass/reports/dut-a/soak.json"
check test -s "$work/pass/reports/merged/merged.md"
check test -s "$work/pass/reports/merged/junit.xml"
if [ "$sweep" = 1 ]; then
    check test -s "$work/pass/reports/dut-b/sweep.json"
    check is "$(verdicts "$work/pass/reports/merged/merged.json")" "dut-a:pass dut-b:pass dut-b:pass True"
else
    check test -s "$work/pass/reports/dut-b/soak.json"
    check is "$(verdicts "$work/pass/reports/merged/merged.json")" "dut-a:pass dut-b:pass True"
fi
check no_lab_left

echo "ansible-test: run 2, host b's soak fails (an outage limit of 1 ms), host c's verify fails"
inventory fail
start=$SECONDS
rc=0
playbook fail || rc=$?
echo "ansible-test: run 2 took $((SECONDS - start)) s, exit $rc"
# 2: a host failed (Ansible's code for it).
check is "$rc" 2
check grep -q "dut-b: vflag-ctl soak exited 3" "$work/fail/ansible.log"
check test -s "$work/fail/reports/dut-b/soak.json"
check grep -q "dut-c: verify exited 3, so no run" "$work/fail/ansible.log"
check grep -q "not merged, no report: dut-c" "$work/fail/ansible.log"
check test -s "$work/fail/reports/dut-c/verify.xml"
check test ! -e "$work/fail/reports/dut-c/soak.json"
check is "$(verdicts "$work/fail/reports/merged/merged.json")" "dut-a:pass dut-b:fail False"
check no_lab_left

echo "ansible-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

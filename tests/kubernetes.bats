#!/usr/bin/env bats
# examples/kubernetes/, without a cluster: the manifests parse and fit
# together (the Deployment staples from the Secret the CronJob writes, the
# Role grants that one Secret and nothing else); the CronJob's refresh step
# runs here against a local OCSP responder; and the kubelet's AtomicWriter
# layout of a Secret volume (files are links into ..data, which is replaced
# by rename) is built and updated by hand, step by step as the kubelet does
# it, under an openssl s_server and under the ConfigMap's nginx, both run
# with the Deployment's environment.
#
# Needs a python3 with the yaml module (Debian package python3-yaml).

load lib/common

K8S=$TOP/examples/kubernetes

setup_file() {
    local py
    export PY='' PY_SKIP=''
    for py in python3 /usr/bin/python3; do
        if "$py" -c 'import yaml' 2>/dev/null; then
            export PY=$py
            return 0
        fi
    done
    [[ -z ${CI:-} ]] || { echo "kubernetes.bats: no python3 with yaml (Debian package python3-yaml)" >&2; return 1; }
    # bats 1.8 cannot skip in setup_file: setup() skips every test
    export PY_SKIP="needs python3 with yaml (Debian package python3-yaml)"
}

setup() {
    [[ -z $PY_SKIP ]] || skip "$PY_SKIP"
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# k8s CODE: run python CODE with every object of examples/kubernetes/*.yaml
# loaded: docs (a list of (file, object)), obj(KIND, NAME), pod(KIND, NAME)
# (a workload's pod spec), container(POD, NAME), env(CONTAINER) (a dict),
# mount(CONTAINER, VOLUME) and volume(POD, NAME). A failed assert fails.
k8s() {
    "$PY" - "$K8S" "$1" <<'EOF'
import glob, os, sys, yaml
docs = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    with open(f) as fh:
        for o in yaml.safe_load_all(fh):
            if o is not None:
                docs.append((os.path.basename(f), o))
def obj(kind, name):
    found = [o for _, o in docs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]
def pod(kind, name):
    o = obj(kind, name)
    if kind == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return o["spec"]["template"]["spec"]
def container(p, name):
    found = [c for c in p.get("initContainers", []) + p["containers"] if c["name"] == name]
    assert len(found) == 1, f"container {name}: {len(found)}"
    return found[0]
def env(c):
    return {e["name"]: e["value"] for e in c.get("env", [])}
def mount(c, vol):
    found = [m for m in c.get("volumeMounts", []) if m["name"] == vol]
    assert len(found) == 1, f"{c['name']}: mounts of {vol}: {found}"
    return found[0]
def volume(p, name):
    found = [v for v in p["volumes"] if v["name"] == name]
    assert len(found) == 1, f"volume {name}: {len(found)}"
    return found[0]
exec(sys.argv[2])
EOF
}

# The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go, Write), by
# hand. aw_begin DIR [NAME=FILE...] does steps 5-7: a new timestamped
# directory ..YYYY_MM_DD_HH_MM_SS.NNNNNNNNN holding the payload (mode 0644),
# and a link NAME -> ..data/NAME for each name that has none yet (dangling
# until the swap, for a new name). aw_commit DIR does steps 8-11: a link
# ..data_tmp to the new directory, renamed over ..data (rename(2): atomic),
# the links of names no longer in the payload removed, the old timestamped
# directory removed. aw_write DIR [NAME=FILE...] is both: one update.
aw_begin() {
    local dir=$1 entry name
    shift
    AW_OLD=$(readlink "$dir/..data" || true)
    AW_TS=..$(date -u +%Y_%m_%d_%H_%M_%S).$(printf '%09d' $(((RANDOM * 32768 + RANDOM) % 1000000000)))
    mkdir -m 0755 "$dir/$AW_TS"
    AW_NAMES=()
    for entry; do
        name=${entry%%=*}
        install -m 0644 "${entry#*=}" "$dir/$AW_TS/$name"
        AW_NAMES+=("$name")
    done
    for name in "${AW_NAMES[@]}"; do
        [[ -L $dir/$name ]] || ln -s "..data/$name" "$dir/$name"
    done
}
aw_commit() {
    local dir=$1 path name
    ln -s "$AW_TS" "$dir/..data_tmp"
    mv -T "$dir/..data_tmp" "$dir/..data"
    if [[ -n $AW_OLD ]]; then
        for path in "$dir/$AW_OLD"/*; do
            [[ -e $path ]] || continue
            name=${path##*/}
            [[ " ${AW_NAMES[*]} " == *" $name "* ]] || rm "$dir/$name"
        done
        rm -rf "${dir:?}/$AW_OLD"
    fi
}
aw_write() {
    aw_begin "$@"
    aw_commit "$1"
}

# aw_layout DIR: the layout, one line per entry: "NAME -> TARGET" for a link,
# "NAME/" for a directory (sorted).
aw_layout() {
    local path
    for path in "$1"/* "$1"/.*; do
        case ${path##*/} in .|..) continue ;; esac
        [[ -e $path || -L $path ]] || continue
        if [[ -L $path ]]; then
            echo "${path##*/} -> $(readlink "$path")"
        elif [[ -d $path ]]; then
            echo "${path##*/}/"
        else
            echo "${path##*/}"
        fi
    done | sort
}

# deployment_env: the server container's environment, NAME=VALUE lines.
deployment_env() {
    k8s '
for k, v in env(container(pod("Deployment", "legacy-web"), "nginx")).items():
    print(f"{k}={v}")'
}

@test "every manifest parses, with the expected kinds and names and nothing cluster-wide" {
    k8s '
got = sorted((f, o["kind"], o["metadata"]["name"]) for f, o in docs)
want = sorted([
    ("refresh.yaml", "Secret", "staples"),
    ("refresh.yaml", "ServiceAccount", "staple-refresh"),
    ("refresh.yaml", "Role", "staple-refresh"),
    ("refresh.yaml", "RoleBinding", "staple-refresh"),
    ("refresh.yaml", "CronJob", "staple-refresh"),
    ("legacy-web.yaml", "ConfigMap", "legacy-web"),
    ("legacy-web.yaml", "Deployment", "legacy-web"),
    ("legacy-web.yaml", "Service", "legacy-web"),
])
assert got == want, got
for f, o in docs:
    assert o["apiVersion"] and "namespace" not in o["metadata"], (f, o["metadata"])
'
}

@test "the Deployment runs under the preload, its staple directory the CronJob's Secret, read-only" {
    k8s '
p = pod("Deployment", "legacy-web")
c = container(p, "nginx")
e = env(c)
assert e["LD_PRELOAD"] == "/usr/lib/libstaple/libstaple.so", e
assert e["LIBSTAPLE_DIR"] == "/var/lib/libstaple", e
assert e["LIBSTAPLE_LOG"] == "stderr", e
m = mount(c, "staples")
assert m["mountPath"] == e["LIBSTAPLE_DIR"] and m["readOnly"] is True and "subPath" not in m, m
served = volume(p, "staples")["secret"]["secretName"]
# the Secret the CronJob publishes, and reads back as its starting point
cj = pod("CronJob", "staple-refresh")
refresh = container(cj, "refresh")
assert env(refresh)["SECRET"] == served, (env(refresh), served)
assert volume(cj, "current")["secret"]["secretName"] == served
assert mount(refresh, "current")["mountPath"] == env(refresh)["CURRENT"]
assert obj("Secret", served)["type"] == "Opaque"
assert obj("Role", "staple-refresh")["rules"][0]["resourceNames"] == [served]
# the ConfigMap is what nginx runs
cfg = mount(c, "config")["mountPath"]
assert c["command"][c["command"].index("-c") + 1] == cfg + "/nginx.conf", c["command"]
assert "nginx.conf" in obj("ConfigMap", volume(p, "config")["configMap"]["name"])["data"]
import re
assert not re.search(r"^\s*ssl_stapling", obj("ConfigMap", "legacy-web")["data"]["nginx.conf"], re.M)
'
}

@test "the Role grants get, update and patch of that one Secret, to the CronJob's ServiceAccount only" {
    k8s '
kinds = [o["kind"] for _, o in docs]
assert kinds.count("Role") == 1 and kinds.count("RoleBinding") == 1, kinds
assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
rules = obj("Role", "staple-refresh")["rules"]
assert rules == [{"apiGroups": [""], "resources": ["secrets"],
                  "resourceNames": ["staples"],
                  "verbs": ["get", "update", "patch"]}], rules
rb = obj("RoleBinding", "staple-refresh")
assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                         "name": "staple-refresh"}, rb["roleRef"]
assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "staple-refresh"}], rb["subjects"]
obj("ServiceAccount", "staple-refresh")
assert pod("CronJob", "staple-refresh")["serviceAccountName"] == "staple-refresh"
assert "serviceAccountName" not in pod("Deployment", "legacy-web")
'
}

@test "the CronJob gets certificates and never keys, publishes what refresh wrote, fails when refresh did" {
    k8s '
cj = obj("CronJob", "staple-refresh")
assert cj["spec"]["concurrencyPolicy"] == "Forbid"
p = pod("CronJob", "staple-refresh")
assert [c["name"] for c in p["initContainers"]] == ["refresh", "publish"]
assert [c["name"] for c in p["containers"]] == ["result"]
refresh, publish, result = (container(p, n) for n in ("refresh", "publish", "result"))
e = env(refresh)
assert mount(refresh, "certs")["mountPath"] == e["CERTS"] and mount(refresh, "certs")["readOnly"]
assert mount(refresh, "work")["mountPath"] == e["WORK"]
assert "emptyDir" in volume(p, "work")
# the certificates: tls.crt of the server'"'"'s TLS Secret, as NAME.pem, no key
served = volume(pod("Deployment", "legacy-web"), "tls")["secret"]["secretName"]
sources = volume(p, "certs")["projected"]["sources"]
assert [s["secret"]["name"] for s in sources] == [served], sources
for s in sources:
    for item in s["secret"]["items"]:
        assert item["key"] == "tls.crt" and item["path"].endswith(".pem"), item
script = refresh["command"][2]
assert "staplectl refresh" in script and "$WORK/secret.yaml" in script
# publish: server-side apply of the file refresh wrote, on the same volume
args = publish["args"]
assert args[:2] == ["apply", "--server-side"], args
assert args[args.index("-f") + 1] == mount(publish, "work")["mountPath"] + "/secret.yaml"
assert "refresh.status" in " ".join(result["command"])
assert mount(result, "work")["mountPath"] == e["WORK"]
'
}

@test "the CronJob's refresh step, run here: it fetches, and writes a Secret whose staple verifies; run again, it keeps it" {
    RPORT=$(free_port)
    leaf_with_ocsp_url www.example.com "http://127.0.0.1:$RPORT/"
    ocsp_responder "$T/index.txt" int
    script=$(k8s 'print(container(pod("CronJob", "staple-refresh"), "refresh")["command"][2])')
    mkdir -p "$T/certs" "$T/current" "$T/work" "$T/bin"
    cp "$T/www.example.com.full.pem" "$T/certs/www.example.com.pem"
    ln -s "$TOP/staplectl" "$T/bin/staplectl"
    run env PATH="$T/bin:$PATH" CERTS="$T/certs" CURRENT="$T/current" WORK="$T/work" \
        SECRET=staples sh -c "$script"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"www.example.com.pem: fetched: good"* ]]
    [ "$(cat "$T/work/refresh.status")" = 0 ]
    # the manifest: the Secret "staples", one key, a staple that verifies
    k8s '
import base64
s = yaml.safe_load(open("'"$T"'/work/secret.yaml"))
assert (s["apiVersion"], s["kind"], s["type"], s["metadata"]) == \
    ("v1", "Secret", "Opaque", {"name": "staples"}), s
assert len(s["data"]) == 1, s["data"]
for k, v in s["data"].items():
    open("'"$T"'/key", "w").write(k)
    open("'"$T"'/staple.der", "wb").write(base64.b64decode(v))
'
    run "$TOP/staplectl" verify --cert "$T/www.example.com.pem" --issuer "$PKI/int.pem" \
        --CAfile "$PKI/ca.pem" "$T/staple.der"
    [ "$output" = good ]
    # the next run starts from the Secret as the kubelet mounts it; the
    # responder is gone, and the staple is fresh: nothing fetched, kept
    kill_bg
    aw_write "$T/current" "$(cat "$T/key")=$T/staple.der"
    rm -rf "$T/work"
    mkdir "$T/work"
    run env PATH="$T/bin:$PATH" CERTS="$T/certs" CURRENT="$T/current" WORK="$T/work" \
        SECRET=staples sh -c "$script"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"www.example.com.pem: fresh"* ]]
    [ "$(cat "$T/work/refresh.status")" = 0 ]
    cmp "$T/work/staples/$(cat "$T/key")" "$T/staple.der"
    grep -q "^  $(cat "$T/key"): $(base64 -w0 "$T/staple.der")\$" "$T/work/secret.yaml"
}

@test "the CronJob's refresh step: a failed fetch keeps the published staple, and is the job's status" {
    RPORT=$(free_port)
    leaf_with_ocsp_url www.example.com "http://127.0.0.1:$RPORT/"
    script=$(k8s 'print(container(pod("CronJob", "staple-refresh"), "refresh")["command"][2])')
    mkdir -p "$T/certs" "$T/current" "$T/work" "$T/bin"
    cp "$T/www.example.com.full.pem" "$T/certs/www.example.com.pem"
    ln -s "$TOP/staplectl" "$T/bin/staplectl"
    # published last time: a staple past half its validity (made 20 hours
    # ago, valid for a day), so refresh asks, and no responder answers
    openssl ocsp -issuer "$PKI/int.pem" -cert "$T/www.example.com.pem" -no_nonce \
        -reqout "$T/req.der" >/dev/null 2>&1
    faketime -f '-20h' openssl ocsp -index "$T/index.txt" -CA "$PKI/int.pem" \
        -rsigner "$PKI/int.pem" -rkey "$PKI/int.key" -reqin "$T/req.der" -ndays 1 \
        -respout "$T/old.der" >/dev/null 2>&1
    [ -s "$T/old.der" ]
    aw_write "$T/current" old.der="$T/old.der"
    run env PATH="$T/bin:$PATH" CERTS="$T/certs" CURRENT="$T/current" WORK="$T/work" \
        SECRET=staples sh -c "$script"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"www.example.com.pem: failed"* ]]
    [ "$(cat "$T/work/refresh.status")" = 1 ]
    grep -q "^  old.der: $(base64 -w0 "$T/old.der")\$" "$T/work/secret.yaml"
    # and the result step turns that status into the Job's
    cmd=$(k8s 'print(container(pod("CronJob", "staple-refresh"), "result")["command"][2])')
    run sh -c "${cmd//\/work/$T/work}"
    [ "$status" -eq 1 ]
}

@test "the kubelet's atomic writer: s_server under the preload follows ..data swaps, and a removed key" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    export LIBSTAPLE_DIR=$T/secret
    mkdir "$LIBSTAPLE_DIR"
    aw_write "$LIBSTAPLE_DIR" rsa.der="$T/good.der"
    first=$AW_TS
    [[ $first =~ ^\.\.[0-9]{4}(_[0-9]{2}){5}\.[0-9]{9}$ ]]
    [ "$(aw_layout "$LIBSTAPLE_DIR")" = "$(printf '%s\n' "$first/" "..data -> $first" "rsa.der -> ..data/rsa.der")" ]
    cmp "$LIBSTAPLE_DIR/rsa.der" "$T/good.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]

    # an update: the same key, a revoked staple; the link rsa.der stays as it was
    aw_write "$LIBSTAPLE_DIR" rsa.der="$T/revoked.der"
    [ "$AW_TS" != "$first" ]
    [ "$(aw_layout "$LIBSTAPLE_DIR")" = "$(printf '%s\n' "$AW_TS/" "..data -> $AW_TS" "rsa.der -> ..data/rsa.der")" ]
    staple_within 3 "$(serial rsa) revoked" "$PORT"

    # the key removed from the Secret: a payload without it, its link removed
    aw_write "$LIBSTAPLE_DIR"
    [ "$(aw_layout "$LIBSTAPLE_DIR")" = "$(printf '%s\n' "$AW_TS/" "..data -> $AW_TS")" ]
    staple_within 3 "none" "$PORT"

    # and back: a key added (its link made before the swap)
    aw_write "$LIBSTAPLE_DIR" www.der="$T/good.der"
    staple_within 3 "$(serial rsa) good" "$PORT"
    # nothing in between was served that should not have been, nothing failed
    [[ ! -e $LIBSTAPLE_LOG ]] || lacks 'error' "$LIBSTAPLE_LOG"
}

@test "the kubelet's atomic writer, held half-way: a dangling new link does not disturb the staple served" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    export LIBSTAPLE_DIR=$T/secret
    mkdir "$LIBSTAPLE_DIR"
    aw_write "$LIBSTAPLE_DIR" rsa.der="$T/good.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    # steps 5-7 of an update that replaces rsa.der by a new key: the new
    # directory is there, new.der -> ..data/new.der dangles, ..data is the old
    aw_begin "$LIBSTAPLE_DIR" new.der="$T/revoked.der"
    [ -L "$LIBSTAPLE_DIR/new.der" ]
    [ ! -e "$LIBSTAPLE_DIR/new.der" ]
    sleep 2.5   # more than reload_interval, and the directory changed
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    done
    [ "$(log_count 'new.der: broken symbolic link; skipped')" -ge 1 ]
    # steps 8-11: the swap, rsa.der's link removed, the old directory removed
    aw_commit "$LIBSTAPLE_DIR"
    [ "$(aw_layout "$LIBSTAPLE_DIR")" = "$(printf '%s\n' "$AW_TS/" "..data -> $AW_TS" "new.der -> ..data/new.der")" ]
    staple_within 3 "$(serial rsa) revoked" "$PORT"
}

@test "the ConfigMap's nginx, with the Deployment's environment, staples from a Secret volume layout" {
    command -v nginx >/dev/null || {
        [[ -z ${CI:-} ]] || { echo "nginx missing (Debian package nginx-light)" >&2; return 1; }
        skip "needs nginx (Debian package nginx-light)"
    }
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    mkdir -p "$T/secret" "$T/tls" "$T/nginx"
    aw_write "$T/secret" rsa.der="$T/good.der"
    # the server's TLS Secret, as the kubelet mounts it: tls.crt, tls.key
    aw_write "$T/tls" tls.crt="$PKI/rsa.full.pem" tls.key="$PKI/rsa.key"
    # the ConfigMap's nginx.conf with this test's paths and port
    k8s 'print(obj("ConfigMap", "legacy-web")["data"]["nginx.conf"], end="")' |
        sed -e "s|/tmp/|$T/nginx/|g" -e "s|/etc/tls/|$T/tls/|g" \
            -e "s|listen 8443 |listen 127.0.0.1:$PORT |" >"$T/nginx/nginx.conf"
    grep -q "listen 127.0.0.1:$PORT ssl;" "$T/nginx/nginx.conf"
    # the Deployment's environment: this build for LD_PRELOAD, the layout above
    mapfile -t envs < <(deployment_env | sed -e "s|^LD_PRELOAD=.*|LD_PRELOAD=$PRELOAD|" \
        -e "s|^LIBSTAPLE_DIR=.*|LIBSTAPLE_DIR=$T/secret|")
    [ "${#envs[@]}" -eq 3 ]
    # its command, with this test's config file
    mapfile -t cmd < <(k8s '
for a in container(pod("Deployment", "legacy-web"), "nginx")["command"]:
    print(a)' | sed "s|^/etc/legacy-web/nginx.conf\$|$T/nginx/nginx.conf|")
    [ "${cmd[0]}" = nginx ]
    bg nginx env "${envs[@]}" "${cmd[@]}" -p "$T/nginx"
    wait_port "$PORT"
    [ "$(staple "$PORT" -servername www.example.com)" = "$(serial rsa) good" ]
    aw_write "$T/secret" rsa.der="$T/revoked.der"
    # every worker: a few handshakes each time
    staple_within 3 "$(serial rsa) revoked" "$PORT" -servername www.example.com
    for _ in 1 2 3 4; do
        [ "$(staple "$PORT" -servername www.example.com)" = "$(serial rsa) revoked" ]
    done
    # LIBSTAPLE_LOG=stderr: libstaple's lines (if any) are in nginx's stderr, the pod's log
    [ ! -e "$T/staple.log" ]
}

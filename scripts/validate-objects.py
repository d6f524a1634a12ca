#!/usr/bin/env python3
"""Validates the Kubernetes objects in YAML files against their API schemas.

Usage: .tools/venv/bin/python scripts/validate-objects.py [--allow-unknown-kinds] PATH...
(the venv is made by scripts/tools.sh). PATH is a YAML file or a directory, walked
recursively for *.yaml / *.yml; multi-document files are split, empty documents skipped.

Each object is checked by its apiVersion and kind:
  - core Kubernetes kinds (anything kubernetes-validate has a schema for): its strict
    schemas (unknown fields are errors) for Kubernetes K8S_SCHEMA_VERSION;
  - policy.karmada.io/v1alpha1 PropagationPolicy and OverridePolicy: the openAPIV3Schema of
    the CRDs in host/karmada/crds/, with what the API server adds: unknown fields are errors
    (strict field validation), null fields are dropped (pruning), metadata is an ObjectMeta,
    the name a DNS subdomain;
  - multicluster.x-k8s.io/v1alpha1 ServiceExport and ServiceImport: the JSON schemas in
    host/karmada/crds/ (written by hand, see NOTICE.md there), and the same metadata checks;
  - anything else: an error "no schema for <apiVersion> <kind>", or skipped with
    --allow-unknown-kinds.

Output: one line per error, `FILE: document N (Kind/name): JSONPATH: message` (N counts the
file's documents from 1, empty ones included), then `validated K objects in F files`
(exit 0) or `E errors in K objects (of T objects in F files)` (exit 1). Usage errors
(no path, unreadable file, YAML syntax error) go to stderr with exit 2.
"""

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import yaml
from referencing import Registry, Resource

# The Kubernetes version whose schemas are used: smo builds against k8s-openapi's v1_33.
K8S_SCHEMA_VERSION = "1.33.0"

REPO = Path(__file__).resolve().parent.parent
CRD_DIR = REPO / "host" / "karmada" / "crds"

# (apiVersion, kind) -> CRD file (its version v1alpha1) or hand-written JSON schema
KARMADA_CRDS = {
    ("policy.karmada.io/v1alpha1", "PropagationPolicy"): "policy.karmada.io_propagationpolicies.yaml",
    ("policy.karmada.io/v1alpha1", "OverridePolicy"): "policy.karmada.io_overridepolicies.yaml",
}
MCS_SCHEMAS = {
    ("multicluster.x-k8s.io/v1alpha1", "ServiceExport"): "multicluster.x-k8s.io_serviceexports.schema.json",
    ("multicluster.x-k8s.io/v1alpha1", "ServiceImport"): "multicluster.x-k8s.io_serviceimports.schema.json",
}

# kubernetes-validate's definitions file, by its $id; its ObjectMeta checks custom resources'
# metadata as the API server does
K8S_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = K8S_DEFS_ID + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# The integer formats of OpenAPI, which the CRDs use; jsonschema does not know them.
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("int32")
def _int32(value):
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value):
    return not isinstance(value, int) or -(2**63) <= value < 2**63


class UsageError(Exception):
    """Ends the run with exit code 2."""


# --- YAML -------------------------------------------------------------------------------------

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_BaseLoader):
    """SafeLoader that keeps timestamps as strings (as Kubernetes reads them: a date in YAML is
    a string field's value) and rejects duplicate keys (Kubernetes' strict decoding does)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may be overridden by the mapping's own keys
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)



def load_documents(path):
    """The file's documents, None for an empty one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read: {e}")
    try:
        return list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise UsageError(f"{path}: YAML syntax error at {where}{problem}")


def yaml_files(arg):
    path = Path(arg)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if path.is_file():
        return [path]
    raise UsageError(f"{arg}: no such file or directory")


# --- error reporting --------------------------------------------------------------------------

def json_path(parts):
    """$.spec.containers[0].name; keys that are not identifiers as ['key.with.dots']."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", part):
            out += "." + part
        else:
            out += "[" + json.dumps(part).replace('"', "'") + "]"
    return out


def describe(error):
    """(path, message) pairs for one jsonschema error; an unknown field is named by its own
    path, as the API server's strict field validation does."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False \
            and isinstance(error.instance, dict):
        declared = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        extra = [k for k in error.instance
                 if k not in declared and not any(re.search(p, k) for p in patterns)]
        if extra:
            return [(json_path(path + [k]), f'unknown field "{k}"') for k in extra]
    return [(json_path(path), error.message)]


def all_errors(validator, obj):
    # sorted by path so that the output is stable
    found = [d for e in validator.iter_errors(obj) for d in describe(e)]
    return sorted(set(found))


# --- schemas ----------------------------------------------------------------------------------

class Schemas:
    """Builds each validator once per run."""

    def __init__(self):
        self._k8s = {}
        self._custom = {}
        self._defs = None

    def k8s_definitions(self):
        """kubernetes-validate's strict definitions file, as a registry resource."""
        if self._defs is None:
            schema_dir = f"v{K8S_SCHEMA_VERSION}-local-strict"
            defs = kv_utils.schema_contents(
                f"kubernetes-json-schema/{schema_dir}/_definitions.json", K8S_SCHEMA_VERSION)
            self._defs = Resource.from_contents(defs)
        return self._defs

    def k8s_validator(self, obj):
        """The validator for a core kind (the same schema, registry and validator class as
        kubernetes_validate.validate), or None if kubernetes-validate has no schema for it."""
        key = (obj["apiVersion"], obj["kind"])
        if key not in self._k8s:
            # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1
            api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", key[0])
            name = f"kubernetes-json-schema/v{K8S_SCHEMA_VERSION}-local-strict/{key[1].lower()}-{api}.json"
            try:
                schema = kv_utils.schema_contents(name, K8S_SCHEMA_VERSION)
            except FileNotFoundError:
                self._k8s[key] = None
            else:
                registry = Resource.from_contents(schema) @ Registry()
                registry = self.k8s_definitions() @ registry
                self._k8s[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._k8s[key]

    def custom_validator(self, key):
        """The validator for a Karmada or MCS kind."""
        if key not in self._custom:
            if key in KARMADA_CRDS:
                schema = karmada_schema(CRD_DIR / KARMADA_CRDS[key])
            else:
                schema = json.loads((CRD_DIR / MCS_SCHEMAS[key]).read_text())
            registry = self.k8s_definitions() @ Registry()
            self._custom[key] = jsonschema.Draft202012Validator(
                schema, registry=registry, format_checker=FORMATS)
        return self._custom[key]

    def object_meta_validator(self):
        if "meta" not in self._custom:
            registry = self.k8s_definitions() @ Registry()
            self._custom["meta"] = jsonschema.Draft202012Validator(
                {"$ref": OBJECT_META_REF}, registry=registry)
        return self._custom["meta"]


def karmada_schema(crd_path):
    """The CRD's v1alpha1 openAPIV3Schema as the API server applies it: properties not declared
    are unknown fields (errors under strict field validation) unless the schema keeps unknown
    fields or is a map (additionalProperties); metadata is an ObjectMeta."""
    crd = yaml.load(crd_path.read_text(), Loader=Loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for key, value in node.items():
                if key in ("properties", "patternProperties", "$defs"):
                    for sub in value.values():
                        close(sub)
                elif key not in ("enum", "default", "example", "const", "required"):
                    close(value)
        elif isinstance(node, list):
            for item in node:
                close(item)

    close(schema)
    schema["properties"]["metadata"] = {"$ref": OBJECT_META_REF}
    return schema


def drop_nulls(value):
    """The API server prunes null fields that are not nullable (no field of these schemas is)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def name_errors(obj, rule):
    """metadata.name (unless generateName is set) and metadata.namespace."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [("$.metadata", "metadata is required")]
    errors = []
    name = meta.get("name")
    if name is None:
        if not meta.get("generateName"):
            errors.append(("$.metadata.name", "metadata.name is required"))
    elif isinstance(name, str):
        if rule == "subdomain" and (len(name) > 253 or not DNS1123_SUBDOMAIN.match(name)):
            errors.append(("$.metadata.name", f"{name!r} is not a valid DNS subdomain (RFC 1123: "
                           "lower case alphanumerics, '-' and '.', at most 253 characters)"))
        elif rule == "path-segment" and (name in (".", "..") or re.search(r"[/%]", name)):
            errors.append(("$.metadata.name", f"{name!r} is not a valid path segment name"))
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and (len(namespace) > 63 or not DNS1123_LABEL.match(namespace)):
        errors.append(("$.metadata.namespace", f"{namespace!r} is not a valid DNS label"))
    return errors


def merge(errors, more):
    """errors and those of more whose field has no error yet (one message per field)."""
    reported = {path for path, _ in errors}
    return sorted(set(errors) | {(p, m) for p, m in more if p not in reported})


def validate_object(obj, schemas, allow_unknown):
    """(errors, checked): errors as (path, message) pairs; checked False if skipped."""
    if not isinstance(obj, dict):
        return [("$", "not a Kubernetes object (a YAML mapping)")], True
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [("$", "apiVersion and kind are required strings")], True
    key = (api_version, kind)

    if key in KARMADA_CRDS or key in MCS_SCHEMAS:
        pruned = drop_nulls(obj)
        errors = all_errors(schemas.custom_validator(key), pruned)
        if key in MCS_SCHEMAS and isinstance(pruned.get("metadata"), dict):
            # the hand-written schemas check a few metadata fields; the rest as an ObjectMeta
            meta = all_errors(schemas.object_meta_validator(), pruned["metadata"])
            errors = merge(errors, [("$.metadata" + p[1:], m) for p, m in meta])
        return merge(errors, name_errors(pruned, "subdomain")), True

    validator = schemas.k8s_validator(obj)
    if validator is None:
        if allow_unknown:
            return [], False
        return [("$", f"no schema for {api_version} {kind}")], True
    errors = []
    try:
        kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        # validate() stops at its best error; list them all (from the same schema)
        errors = all_errors(validator, obj) or describe(e)
    except kubernetes_validate.SchemaNotFoundError:
        return [("$", f"no schema for {api_version} {kind}")], True
    # RBAC objects may be named with any path segment; the others need a DNS subdomain
    rule = "path-segment" if api_version.startswith("rbac.authorization.k8s.io/") else "subdomain"
    return errors + name_errors(obj, rule), True


def main(argv):
    parser = argparse.ArgumentParser(
        description="Validate Kubernetes, Karmada and Multi-Cluster Services objects in YAML files.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="YAML file or directory")
    parser.add_argument("--allow-unknown-kinds", action="store_true",
                        help="skip objects of kinds without a schema instead of failing")
    parser.add_argument("--version", action="store_true",
                        help="print the versions of the schemas used and exit")
    args = parser.parse_args(argv)

    if args.version:
        print(f"kubernetes-validate {kubernetes_validate.version.__version__} "
              f"(Kubernetes {K8S_SCHEMA_VERSION} schemas), jsonschema {jsonschema_version()}, "
              f"PyYAML {yaml.__version__}")
        return 0
    try:
        if not args.paths:
            raise UsageError("no PATH given (a YAML file or a directory)")
        files = [f for p in args.paths for f in yaml_files(p)]
        if not files:
            raise UsageError(f"no *.yaml or *.yml file in {' '.join(args.paths)}")
        # parse everything first: a syntax error is a usage error, reported before any result
        documents = [(f, load_documents(f)) for f in files]
    except UsageError as e:
        print(f"validate-objects: {e}", file=sys.stderr)
        return 2

    schemas = Schemas()
    total = checked = skipped = bad_objects = error_count = 0
    for path, docs in documents:
        for n, obj in enumerate(docs, start=1):
            if obj is None:
                continue
            total += 1
            errors, was_checked = validate_object(obj, schemas, args.allow_unknown_kinds)
            if not was_checked:
                skipped += 1
                continue
            checked += 1
            if errors:
                bad_objects += 1
                error_count += len(errors)
                label = object_label(obj)
                for where, message in errors:
                    print(f"{path}: document {n} ({label}): {where}: {message}")

    if error_count:
        print(f"{error_count} errors in {bad_objects} objects (of {total} objects in {len(files)} files)")
        return 1
    note = f" ({skipped} objects of kinds without a schema not checked)" if skipped else ""
    print(f"validated {checked} objects in {len(files)} files{note}")
    return 0


def object_label(obj):
    if not isinstance(obj, dict):
        return "?"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}"


def jsonschema_version():
    from importlib.metadata import version
    return version("jsonschema")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

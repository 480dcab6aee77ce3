"""Label conventions: when ``-n NS`` finds nothing, which labels name the namespace.

kube-prometheus labels the app's series ``namespace`` / ``pod``. Prometheus's example
Kubernetes config uses ``kubernetes_namespace`` / ``kubernetes_pod_name``; ingress-nginx
request metrics put the Ingress's namespace in ``exported_namespace``; OTel metrics
through a collector carry ``k8s_namespace_name`` / ``k8s_pod_name`` when promoted. One
query (``probe_query``) asks which of these holds the namespace for the preset's own
series; ``read_probe`` reads the answer. Pure: the source sends and adopts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from streamdash.sources.promql import PART_LABEL, Matcher, eq, quote, tag


@dataclass(frozen=True)
class Convention:
    """Where a fleet's series keep their namespace and pod names."""

    namespace_label: str
    pod_label: str
    where: str
    """Who labels this way, for the note."""

    def config(self) -> str:
        """The config lines that make this explicit."""
        return f"namespace_label: {self.namespace_label} and pod_label: {self.pod_label}"


ALTERNATIVES: tuple[Convention, ...] = (
    Convention(
        "kubernetes_namespace", "kubernetes_pod_name", "Prometheus's example Kubernetes config"
    ),
    Convention("exported_namespace", "pod", "ingress-nginx request metrics"),
    Convention("k8s_namespace_name", "k8s_pod_name", "OpenTelemetry through a collector"),
)


def series_matcher(series: Sequence[str]) -> Matcher:
    """``__name__=~"a|b"`` for the preset's own series (regex-quoted names)."""
    escaped = ["".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in s) for s in series]
    return Matcher("__name__", "=~", "|".join(escaped))


def probe_query(series: Sequence[str], namespace: str, current: str = "namespace") -> str:
    """One query: for each alternative convention, whether any of ``series`` carries
    ``namespace`` under it (tagged with the alternative's namespace label)."""
    name = series_matcher(series)
    parts = []
    for c in ALTERNATIVES:
        if c.namespace_label == current:
            continue
        sel = "{" + ",".join(m.render() for m in (name, eq(c.namespace_label, namespace))) + "}"
        parts.append(tag(f"count({sel})", c.namespace_label))
    return " or ".join(parts)


def read_probe(rows: Iterable[Mapping[str, object]]) -> Convention | None:
    """The first alternative (in ``ALTERNATIVES`` order) the probe found series for."""
    found = set()
    for row in rows:
        metric = row.get("metric")
        if isinstance(metric, Mapping):
            found.add(metric.get(PART_LABEL))
    return next((c for c in ALTERNATIVES if c.namespace_label in found), None)


def adopted_note(namespace: str, c: Convention) -> str:
    """What was adopted and the config that makes it explicit."""
    return (
        f"namespace {namespace!r} matched nothing under the 'namespace' label; its series "
        f"carry {c.namespace_label} / {c.pod_label} ({c.where}): using those. Set "
        f"{c.config()} in the config to make it explicit."
    )


def missing_note(namespace: str, found: Sequence[str]) -> str:
    """Nothing under any convention: which namespaces do export the preset's series."""
    where = ", ".join(quote(n) for n in found[:10]) + (", …" if len(found) > 10 else "")
    listing = f"; namespaces exporting them: {where}" if found else ""
    tried = ", ".join(["namespace", *(c.namespace_label for c in ALTERNATIVES)])
    return (
        f"namespace {namespace!r}: none of the preset's series carry it under {tried}"
        f"{listing}. Set namespace (or namespace_label / pod_label) accordingly."
    )

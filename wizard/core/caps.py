"""agentmemory's import caps (FORMATS.md section 3): every cap reported, not only the first."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from wizard.core.spool import CountedObject


@dataclass(frozen=True)
class Cap:
    name: str
    count: int
    limit: int
    ok: bool
    message: str
    detail: str = ""  # e.g. which session holds the most observations

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.detail:
            d.pop("detail")
        return d


# name, limit, agentmemory's exact message
LIMITS: tuple[tuple[str, int, str], ...] = (
    ("sessions", 10_000, "Too many sessions (max 10000)"),
    ("memories", 50_000, "Too many memories (max 50000)"),
    ("summaries", 10_000, "Too many summaries (max 10000)"),
    ("observationBuckets", 10_000, "Too many observation buckets (max 10000)"),
    ("observationsPerSession", 5_000, "Too many observations per session (max 5000)"),
    ("observations", 500_000, "Too many total observations (max 500000)"),
    ("accessLogs", 50_000, "Too many access logs (max 50000)"),
)


def check_caps(data: dict) -> list[Cap]:
    """All caps for a canonical ExportData dict whose shape is already known to be right."""
    obs = data.get("observations") or {}
    biggest_bucket, biggest_session = 0, ""
    total_obs = 0
    buckets = len(obs)
    for sid, bucket in obs.items():
        n = len(bucket)
        total_obs += n
        if n > biggest_bucket:
            biggest_bucket, biggest_session = n, sid
    if isinstance(obs, CountedObject):  # buckets past what the reader keeps: counted
        buckets += obs.more_keys
        total_obs += obs.more_records
        if obs.more_largest > biggest_bucket:
            biggest_bucket, biggest_session = obs.more_largest, obs.more_largest_key
    counts = {
        "sessions": len(data.get("sessions") or ()),
        "memories": len(data.get("memories") or ()),
        "summaries": len(data.get("summaries") or ()),
        "observationBuckets": buckets,
        "observationsPerSession": biggest_bucket,
        "observations": total_obs,
        "accessLogs": len(data.get("accessLogs") or ()),
    }
    caps = []
    for name, limit, message in LIMITS:
        count = counts[name]
        detail = (
            f"largest: session {biggest_session}"
            if name == "observationsPerSession" and biggest_session
            else ""
        )
        caps.append(Cap(name, count, limit, count <= limit, message, detail))
    return caps

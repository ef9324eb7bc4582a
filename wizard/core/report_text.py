"""The preflight report as readable lines (CLI `validate`, copyable text in the GUI)."""

from __future__ import annotations

from wizard.core.report import Report

MAX_LISTED = 50


def report_lines(report: Report, name: str) -> list[str]:
    verdict = "can be imported" if report.ok else "REFUSED"
    lines = [f"{name}: {verdict}"]
    if report.format:
        version = f" (version {report.source_version})" if report.source_version else ""
        lines.append(f"  format: {report.format}{version}")
    if report.treated_as_version:
        lines.append(f"  read as agentmemory version {report.treated_as_version}, as chosen")
    if report.counts:
        lines.append("  records:")
        width = max(len(k) for k in report.counts)
        for key, n in report.counts.items():
            lines.append(f"    {key:<{width}}  {n:>9,}")
    if report.caps:
        lines.append("  caps:")
        for cap in report.caps:
            mark = "ok  " if cap.ok else "OVER"
            lines.append(
                f"    [{mark}] {cap.name}: {cap.count:,} of {cap.limit:,}"
                + ("" if cap.ok else f"  {cap.message}")
            )
    for title, problems in (("errors", report.errors), ("warnings", report.warnings)):
        if problems:
            lines.append(f"  {title} ({len(problems)}):")
            for p in problems[:MAX_LISTED]:
                lines.append(f"    {p}")
            if len(problems) > MAX_LISTED:
                lines.append(f"    ... and {len(problems) - MAX_LISTED} more (use --json)")
    if report.skipped_invalid_total:
        lines.append(f"  left out as invalid: {report.skipped_invalid_total} records")
    lines.extend(left_behind_lines(report))
    return lines


def left_behind_lines(report: Report) -> list[str]:
    """What the file holds that will not be imported, or only verbatim (with counts)."""
    if not report.left_behind:
        return []
    lines = [f"  left behind ({len(report.left_behind)}):"]
    lines.extend(f"    {item}" for item in report.left_behind)
    return lines

"""Alerts: one line per event in `$GEX_DATA_DIR/logs/alerts.log`, and a short JSON POST to
`GEX_ALERT_WEBHOOK_URL` when it is set.

`send_alert` is the one entry point (run failures, check failures, quiet feeds, anything else
that needs a human). Delivery problems never raise: the alert line says whether the POST worked.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gex_pipeline.settings import PathSettings, Settings

KINDS = ("run_failure", "check_failure", "feed_quiet", "service_gave_up")
POST_TIMEOUT_S = 5.0
log = logging.getLogger("gex_pipeline.alerts")


@dataclass(frozen=True)
class Alert:
    """What happened (`kind`), a one-line `summary`, and a few identifying `details`."""

    kind: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    at: str = ""
    host: str = ""


def alerts_log(paths: PathSettings) -> Path:
    """The alert log file."""
    return paths.logs_dir / "alerts.log"


def send_alert(
    kind: str,
    summary: str,
    details: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
) -> bool:
    """Record one alert (log line + alerts.log) and POST it when a webhook is set.

    `kind` is one of `KINDS`. Returns True when the alert was delivered to the webhook (False when
    there is none or the POST failed; the failure is in the alert line). `settings` defaults to
    the environment's (`Settings.from_env()`).
    """
    if kind not in KINDS:
        raise ValueError(f"alert kind must be one of {', '.join(KINDS)}, got {kind!r}")
    settings = settings or Settings.from_env()
    ops = settings.ops
    alert = Alert(
        kind=kind,
        summary=summary,
        details=dict(details or {}),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=socket.gethostname(),
    )
    payload = asdict(alert)
    delivered, problem = False, None
    if ops.alert_webhook_url:
        delivered, problem = _post(ops.alert_webhook_url, payload)
    line = {**payload, "webhook": "sent" if delivered else (problem or "not configured")}
    text = json.dumps(line, default=str, sort_keys=True)
    log.warning("ALERT %s", text)
    path = alerts_log(settings.paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(text + "\n")
    return delivered


def _post(url: str, payload: dict[str, Any]) -> tuple[bool, str | None]:
    import httpx

    try:
        answer = httpx.post(url, json=payload, timeout=POST_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return False, f"failed: {type(exc).__name__}"
    if answer.status_code >= 300:
        return False, f"failed: HTTP {answer.status_code}"
    return True, None


def read_alerts(paths: PathSettings, last: int = 20) -> list[dict[str, Any]]:
    """The newest `last` alerts, oldest first."""
    path = alerts_log(paths)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()[-last:]
    return [json.loads(line) for line in lines if line.strip()]

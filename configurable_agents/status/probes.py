"""HTTP health probes of the services of the set, run concurrently with short timeouts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from configurable_agents.settings import Settings

PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class ServiceHealth:
    """What one probe found."""

    name: str
    url: str
    healthy: bool
    detail: str
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def service_urls(settings: Settings) -> dict[str, str]:
    """The health URL of each web service of the set."""
    return {
        "dashboard": f"{settings.dashboard_url}/healthz",
        "chat": f"{settings.chat_url}/healthz",
        "mlflow": f"{settings.mlflow_url}/health",
    }


_client: Any = None


def _shared_client() -> Any:
    # One client for every probe: a new one per call costs 20-35 ms of TLS set-up.
    global _client
    if _client is None:
        import httpx

        _client = httpx.Client(timeout=PROBE_TIMEOUT)
    return _client


def probe(name: str, url: str, timeout: float = PROBE_TIMEOUT) -> ServiceHealth:
    """GET the URL; healthy on a 2xx answer."""
    import httpx

    started = time.perf_counter()
    try:
        response = _shared_client().get(url, timeout=timeout)
    except httpx.HTTPError as error:
        detail = "not running" if isinstance(error, httpx.ConnectError) else type(error).__name__
        return ServiceHealth(name, url, False, detail, (time.perf_counter() - started) * 1000)
    latency = (time.perf_counter() - started) * 1000
    healthy = response.is_success
    detail = "ok" if healthy else f"HTTP {response.status_code}"
    if not healthy and response.headers.get("content-type", "").startswith("application/json"):
        detail = str(response.json().get("status", detail))
    return ServiceHealth(name, url, healthy, detail, latency)


def probe_services(
    settings: Settings, skip: frozenset[str] = frozenset(), timeout: float = PROBE_TIMEOUT
) -> list[ServiceHealth]:
    """Probe every web service at once (a down one costs a refused connection, not a wait)."""
    targets = {name: url for name, url in service_urls(settings).items() if name not in skip}
    with ThreadPoolExecutor(max_workers=len(targets) or 1) as pool:
        futures = {name: pool.submit(probe, name, url, timeout) for name, url in targets.items()}
        return [futures[name].result() for name in targets]

"""Background jobs: reclusters run in one worker thread, never inside a request."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from service.store import Store
from service.topics.cluster import ClusterParams
from service.topics.recluster import open_run, recluster

log = logging.getLogger("pulse.jobs")


class JobBusy(RuntimeError):
    """A recluster for this community is already running."""


class Jobs:
    def __init__(self, store: Store, metrics=None) -> None:
        self.store = store
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulse-job")
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def start_recluster(self, community: str, until: datetime, days: int,
                        params: ClusterParams | None = None) -> int:
        """Queue a recluster; returns its run id at once."""
        params = params or ClusterParams()
        with self._lock:
            if community in self._running:
                raise JobBusy(f"a recluster of {community!r} is already running")
            self._running.add(community)
        try:
            run_id = open_run(self.store, community, until, days, params)
        except Exception:
            with self._lock:
                self._running.discard(community)
            raise
        self._pool.submit(self._run, community, until, days, params, run_id)
        return run_id

    def _run(self, community, until, days, params, run_id) -> None:
        start, outcome = time.perf_counter(), "done"
        try:
            recluster(self.store, community, until, days, params, log=log.info, run_id=run_id)
        except Exception:  # recorded on the run row by recluster(); keep the worker alive
            outcome = "failed"
            log.exception("recluster of %s failed", community)
        finally:
            if self.metrics is not None:
                self.metrics.jobs.labels("recluster", outcome).observe(time.perf_counter() - start)
            with self._lock:
                self._running.discard(community)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

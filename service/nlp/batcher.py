"""Dynamic micro-batching: concurrent requests share one model call.

Request threads hand their texts to one worker thread. The worker takes whatever requests
are waiting (up to ``max_batch`` texts), optionally lingers ``max_wait_ms`` for more, and
runs ``fn`` (embed, or embed + heads) once for all of them, then hands each request its
slice of the result.
A lone request pays no waiting when ``max_wait_ms`` is 0: under load, requests pile up
while the model runs and are batched together on the next call, so throughput rises
without adding latency at low load.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future


class MicroBatcher:
    def __init__(self, fn: Callable[[list[str]], Sequence], max_batch: int = 64,
                 max_wait_ms: float = 0.0):
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[tuple[list[str], Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="pulse-batcher", daemon=True)
        self._thread.start()

    def __call__(self, texts: list[str], timeout: float = 30.0) -> Sequence:
        future: Future = Future()
        self._queue.put((texts, future))
        return future.result(timeout=timeout)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            size = len(item[0])
            deadline = time.perf_counter() + self.max_wait
            while size < self.max_batch:
                try:
                    remaining = deadline - time.perf_counter()
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 \
                        else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # let the outer loop stop after this batch
                    break
                batch.append(nxt)
                size += len(nxt[0])
            self._run(batch)

    def _run(self, batch: list[tuple[list[str], Future]]) -> None:
        texts = [t for texts, _ in batch for t in texts]
        try:
            results = self.fn(texts)
        except Exception as exc:  # every waiting request gets the error, the worker lives on
            for _, future in batch:
                future.set_exception(exc)
            return
        start = 0
        for texts_, future in batch:
            future.set_result(results[start : start + len(texts_)])
            start += len(texts_)

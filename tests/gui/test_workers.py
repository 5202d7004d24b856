"""run_task lets go of a finished task's callbacks and data (continuous listening runs one a second)."""

from __future__ import annotations

import gc
import weakref
from typing import Any


def test_a_finished_task_keeps_nothing_alive(qtbot: Any) -> None:
    from app.workers import new_pool, run_task

    class Payload:
        pass

    pool = new_pool(1, "test")
    payload, results = Payload(), []
    in_fn, in_callback = weakref.ref(payload), None
    callback_data = Payload()
    in_callback = weakref.ref(callback_data)
    handle = run_task(pool, lambda state, p=payload: 1,
                      on_result=lambda value, d=callback_data: results.append(value),
                      on_finished=lambda d=callback_data: None)
    del payload, callback_data
    qtbot.waitUntil(lambda: not handle.running, timeout=5000)
    qtbot.wait(50)  # deferred deletes
    gc.collect()
    assert results == [1]
    assert in_fn() is None and in_callback() is None

"""Progress on stderr, one line per step of each bug, and a final summary; `--json` makes them JSON lines."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO


class Progress:
    def __init__(self, *, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def emit(self, event: str, bug: int | None = None, message: str = "", **fields: Any) -> None:
        if self.as_json:
            record: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "event": event}
            if bug is not None:
                record["bug"] = bug
            if message:
                record["message"] = message
            record.update({k: v for k, v in fields.items() if v is not None})
            line = json.dumps(record, default=str)
        else:
            prefix = f"bug #{bug}: " if bug is not None else "agent: "
            line = prefix + (f"{event}: {message}" if message else event)
        with self._lock:
            print(line, file=self.stream, flush=True)

"""The outcome of moving one file: what was sent or fetched, and what the peer answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from icans_interop.issues import Issue


@dataclass(frozen=True, slots=True)
class TransferResult:
    """One file's fate in a send or fetch.

    ``status`` is the peer's own word for it: a DIMSE status (``0x0000``), an HTTP status
    (``200``) or, when the file never left, ``not-sent``. ``ok`` is what the exit code
    follows.
    """

    file: str
    ok: bool
    status: str
    message: str = ""
    sop_instance_uid: str = ""
    issues: tuple[Issue, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "ok": self.ok, "status": self.status,
                                "message": self.message}
        if self.sop_instance_uid:
            data["sop_instance_uid"] = self.sop_instance_uid
        if self.issues:
            data["issues"] = [issue.to_dict() for issue in self.issues]
        return data

    def to_text(self) -> str:
        verdict = "ok" if self.ok else "REFUSED"
        detail = f": {self.message}" if self.message else ""
        lines = [f"{self.file}: {verdict} ({self.status}){detail}"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)

"""The integration guide's fingerprint formulas, exactly; and custom fingerprints sent by SDKs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _md5(*parts: object) -> str:
    return hashlib.md5("|".join(str(p) for p in parts).encode("utf-8"), usedforsecurity=False).hexdigest()


def runtime(project_id: str, error_type: str, file_path: str, line_number: int) -> str:
    """md5(project_id|error_type|file_path|line_number)"""
    return _md5(project_id, error_type, file_path, line_number)


def cicd(project_id: str, error_type: str, job_name: str, step_name: str) -> str:
    """md5(project_id|cicd|error_type|job_name|step_name)"""
    return _md5(project_id, "cicd", error_type, job_name, step_name)


def deployment(project_id: str, error_type: str, namespace: str, deployment_name: str) -> str:
    """md5(project_id|deployment|error_type|namespace|deployment_name)"""
    return _md5(project_id, "deployment", error_type, namespace, deployment_name)


def custom(project_id: str, parts: Sequence[str]) -> str:
    """A client-chosen grouping key, scoped to the project and hashed to the same 32-hex shape."""
    return _md5(project_id, "custom", *parts)

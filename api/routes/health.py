"""HTTP route for liveness: ``GET /health`` answers the engine and the store's watermark
(open, no authorization: it shows no data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import RuntimeDep

__all__ = ["router"]

router = APIRouter()


@router.get("/health")
def health(rt: RuntimeDep) -> dict[str, Any]:
    return {"status": "ok", "store": rt.store.engine, "watermark": rt.store.watermark()}

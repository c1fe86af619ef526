"""HTTP route for the recall export: ``POST /api/recall`` with the seeds (any identifiers)
answers the recall files (a CSV per list and ``recall.json``) as one zip; the GraphQL ``recall``
field answers the same traversal paged."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.bodies import clip
from api.deps import CurrentUser, RuntimeDep, require
from api.graphql.types import MAX_SEEDS
from graph.recall_balance import write_export
from ingest.seeds import seeds_from_text

__all__ = ["RecallRequest", "router"]

router = APIRouter()


class RecallRequest(BaseModel):
    seeds: list[str] = Field(min_length=1, max_length=MAX_SEEDS)


class SeedFile(BaseModel):
    text: str = Field(description="the content of a CSV or text file of seeds")


@router.post("/api/recall/seeds")
def seed_file(body: SeedFile, user: CurrentUser) -> dict[str, list[str]]:
    """The seeds of an uploaded file, read as the CLI reads them (:mod:`ingest.seeds`)."""
    require("POST /api/recall", user)
    return {"seeds": seeds_from_text(body.text)}


@router.post("/api/recall", responses={200: {"content": {"application/zip": {}}}})
def recall_export(body: RecallRequest, rt: RuntimeDep, user: CurrentUser) -> Response:
    """The recall files (CSV per list + recall.json) for the seeds, as one zip."""
    require("POST /api/recall", user)
    answer = rt.recall(body.seeds, unit_limit=0)
    if not answer.seeds:
        raise HTTPException(404, {"code": "NOT_FOUND", "field": "seeds",
                                  "message": "no seed matched a node",
                                  "unknownSeeds": clip(answer.unknown_seeds)})
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w",
                                                               zipfile.ZIP_DEFLATED) as z:
        for path in write_export(answer, Path(tmp), rt.store).values():
            z.write(path, path.name)
    name = f"recall-w{answer.watermark}.zip"
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

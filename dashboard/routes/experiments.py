"""Experiment commands, from the Optimization page's form and buttons and from the API:
create (with its dataset) and start, cancel, promote a variant; store a dataset; add a run
to a dataset. Thin handlers over configurable_agents.experiments."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from configurable_agents.experiments import creation, launch, promotion, stored_datasets
from configurable_agents.experiments.datasets import MAX_BYTES
from configurable_agents.experiments.definition import Definition, parse_definition
from configurable_agents.experiments.errors import DatasetError, DefinitionError
from configurable_agents.experiments.progress import progress as experiment_progress
from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import experiments
from dashboard.deps import hx_target, session_factory_of, settings_of
from dashboard.errors import DISPATCH
from dashboard.experiment_form import definition_data, read_form
from dashboard.pages.optimization import (
    dataset_out,
    experiment_out,
    experiments_context,
    form_context,
)
from dashboard.render import page, partial, redirect
from dashboard.schemas import (
    CONFLICT,
    ERRORS,
    AddToDatasetIn,
    DatasetIn,
    DatasetOut,
    ExperimentIn,
    ExperimentOut,
    PromotedOut,
    PromoteIn,
)

router = APIRouter(responses=ERRORS)


def create_and_start(
    request: Request,
    definition: Definition,
    dataset: bytes | None,
    filename: str | None,
    *,
    start: bool = True,
) -> int:
    """Store the experiment with its dataset (nothing when either is invalid) and queue
    its cells; the experiment's id."""
    experiment_id = creation.create_experiment(
        settings_of(request),
        session_factory_of(request),
        definition,
        dataset=dataset,
        dataset_filename=filename,
    )
    if start:
        start_cells(request, experiment_id)
    return experiment_id


def start_cells(request: Request, experiment_id: int) -> None:
    """Queue every cell of a draft experiment (REFUSALS when the queue will not take them)."""
    launch.start_experiment(settings_of(request), session_factory_of(request), experiment_id)


def reload_experiment(request: Request, experiment_id: int) -> ExperimentOut:
    """The experiment as stored now, with its progress."""
    with session_scope(session_factory_of(request)) as session:
        experiment = experiments.get(session, experiment_id)
        progress = experiment_progress(session, [experiment_id]).get(experiment_id)
        return experiment_out(experiment, progress)


async def read_upload(upload: Any) -> tuple[bytes | None, str | None]:
    """An uploaded file's bytes (at most one byte past the dataset bound, so a bigger file
    is reported as too large without being read whole) and its name; None when none."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, None
    return await upload.read(MAX_BYTES + 1), upload.filename


# --- the page's form and buttons -----------------------------------------------------------


@router.post("/optimization/new", response_class=HTMLResponse, include_in_schema=False)
async def create_from_form(request: Request) -> Response:
    form = await request.form()
    values = read_form(form, [v for v in form.getlist("scorer") if isinstance(v, str)])
    dataset, dataset_name = await read_upload(form.get("dataset"))
    definition_file, definition_name = await read_upload(form.get("definition"))
    failure: dict[str, Any] = {}
    status = 422
    try:
        if definition_file is not None:
            values.text["definition_used"] = "1"
            source: Any = definition_file.decode("utf-8", errors="replace")
            definition = parse_definition(source, filename=definition_name or "definition")
        else:
            definition = parse_definition(definition_data(values), filename="form")
        if dataset is None:
            failure = {"error": "Choose a dataset file (CSV or JSONL) to upload."}
        else:
            experiment_id = await run_in_threadpool(
                create_and_start, request, definition, dataset, dataset_name, start=False
            )
            try:
                await run_in_threadpool(start_cells, request, experiment_id)
            except REFUSALS as error:
                # Stored but not started (a full or unreachable queue): its page offers Start.
                failure, status = (
                    {
                        "error": f"{error} The experiment was saved as a draft: "
                        f"start it from its page (/optimization/{experiment_id}) "
                        "when the queue can take it."
                    },
                    http_status(error),
                )
    except DefinitionError as error:
        failure = {"issues": error.issues}
    except DatasetError as error:
        failure = {"dataset_problems": error.problems, "dataset_file": error.filename}
    except REFUSALS as error:
        # A name taken, a full or unreachable queue, a workflow that is gone: at the form.
        failure, status = {"error": str(error)}, http_status(error)
    if not failure:
        return redirect(request, f"/optimization/{experiment_id}")
    return await run_in_threadpool(form_again, request, values, failure, status)


def form_again(request: Request, values: Any, failure: dict[str, Any], status: int) -> Response:
    """The form again as it was sent, with its problems in place (nothing was stored)."""
    with session_scope(session_factory_of(request)) as session:
        context = form_context(session, values, **failure)
    if hx_target(request) == "experiment-form":
        return partial(request, "partials/_experiment_form.html", context, status_code=status)
    with session_scope(session_factory_of(request)) as session:
        full = {**experiments_context(session), **context}
    return page(request, "optimization/list.html", full, status_code=status)


@router.post(
    "/optimization/{experiment_id}/start", response_class=HTMLResponse, include_in_schema=False
)
def start_from_page(request: Request, experiment_id: int) -> Response:
    start_cells(request, experiment_id)
    return redirect(request, f"/optimization/{experiment_id}")


@router.post(
    "/optimization/{experiment_id}/cancel", response_class=HTMLResponse, include_in_schema=False
)
def cancel_from_page(request: Request, experiment_id: int) -> Response:
    launch.cancel_experiment(session_factory_of(request), experiment_id)
    return redirect(request, f"/optimization/{experiment_id}")


@router.post(
    "/optimization/{experiment_id}/promote", response_class=HTMLResponse, include_in_schema=False
)
def promote_from_page(
    request: Request, experiment_id: int, variant: Annotated[str, Form(max_length=200)]
) -> Response:
    workflow_id, version = promotion.promote_variant(
        session_factory_of(request), experiment_id, variant
    )
    return redirect(request, f"/workflows/{workflow_id}?version={version}")


@router.post("/runs/{run_id}/dataset", response_class=HTMLResponse, include_in_schema=False)
def add_to_dataset_from_page(
    request: Request, run_id: str, dataset: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    info = stored_datasets.add_run_to_dataset(
        session_factory_of(request), run_id=run_id, dataset_name=dataset.strip()
    )
    return redirect(
        request, f"/runs/{run_id}?added={quote(info.name)}&dataset_version={info.version}"
    )


# --- the API -------------------------------------------------------------------------------


@router.post(
    "/api/v1/experiments",
    response_model=ExperimentOut,
    status_code=201,
    tags=["experiments"],
    responses={**CONFLICT, **DISPATCH},
)
def create_experiment(request: Request, body: ExperimentIn) -> Any:
    """Create an experiment from its definition and dataset, and queue every cell (row x
    variant x repeat, each a run) unless ``start`` is false. A bad definition or dataset
    answers 422 with every problem (a dataset's with its row and column); nothing is stored.
    When the queue refuses the cells (full, unreachable) the experiment stays a draft:
    start it later with POST /api/v1/experiments/{id}/start."""
    if body.definition_yaml is not None:
        definition = parse_definition(body.definition_yaml, filename="definition_yaml")
    else:
        definition = parse_definition(body.definition or {}, filename="definition")
    dataset = body.dataset.encode("utf-8") if body.dataset is not None else None
    filename = body.dataset_filename if dataset is not None else None
    experiment_id = create_and_start(request, definition, dataset, filename, start=body.start)
    return reload_experiment(request, experiment_id)


@router.post(
    "/api/v1/experiments/{experiment_id}/start",
    response_model=ExperimentOut,
    tags=["experiments"],
    responses={**CONFLICT, **DISPATCH},
)
def start_experiment(request: Request, experiment_id: int) -> Any:
    """Queue the cells of a draft experiment (or the unfinished ones of a cancelled one)."""
    start_cells(request, experiment_id)
    return reload_experiment(request, experiment_id)


@router.post(
    "/api/v1/experiments/{experiment_id}/cancel",
    response_model=ExperimentOut,
    tags=["experiments"],
    responses=CONFLICT,
)
def cancel_experiment(request: Request, experiment_id: int) -> Any:
    """Cancel the cells not finished yet; finished cells and their scores are kept."""
    launch.cancel_experiment(session_factory_of(request), experiment_id)
    return reload_experiment(request, experiment_id)


@router.post(
    "/api/v1/experiments/{experiment_id}/promote",
    response_model=PromotedOut,
    status_code=201,
    tags=["experiments"],
    responses=CONFLICT,
)
def promote(request: Request, experiment_id: int, body: PromoteIn) -> Any:
    """Save a variant of a finished experiment as the workflow's new version."""
    workflow_id, version = promotion.promote_variant(
        session_factory_of(request), experiment_id, body.variant
    )
    return PromotedOut(
        workflow_id=workflow_id,
        version=version,
        url=f"/workflows/{workflow_id}?version={version}",
    )


@router.post(
    "/api/v1/datasets",
    response_model=DatasetOut,
    status_code=201,
    tags=["experiments"],
    responses=CONFLICT,
)
def create_dataset(request: Request, body: DatasetIn) -> Any:
    """Store a dataset file checked against a workflow's inputs (a new version when the
    name exists); 422 with every bad row and column, nothing stored."""
    return dataset_out(
        stored_datasets.import_dataset(
            session_factory_of(request),
            name=body.name,
            data=body.content.encode("utf-8"),
            filename=body.filename,
            workflow_id=body.workflow_id,
        )
    )


@router.post(
    "/api/v1/runs/{run_id}/dataset",
    response_model=DatasetOut,
    status_code=201,
    tags=["runs"],
    responses=CONFLICT,
)
def add_run(request: Request, run_id: str, body: AddToDatasetIn) -> Any:
    """Add a finished run's inputs (and its outputs as expected values) as a row of a
    dataset: its next version, or its first when the name is new."""
    return dataset_out(
        stored_datasets.add_run_to_dataset(
            session_factory_of(request), run_id=run_id, dataset_name=body.dataset
        )
    )

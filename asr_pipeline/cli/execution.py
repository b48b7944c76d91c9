"""Options choosing where a batch runs (``--executor`` and Ray's), shared by the batch commands."""

from typing import Annotated

import typer

from ..executors import EXECUTORS, Executor, make_executor
from .options import InputError

__all__ = [
    "AddressOption",
    "CpusOption",
    "ExecutorOption",
    "GpusOption",
    "WorkersOption",
    "executor_from_options",
]

PANEL = "Execution options"

ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        metavar="NAME",
        help="Where files are processed: local (this process, one by one) or ray (a pool of "
        "workers on a Ray cluster; needs the ray extra of asr-pipeline).",
        rich_help_panel=PANEL,
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDRESS",
        help="The Ray cluster: auto (the one started here with ray start) or ray://HOST:PORT; "
        "default: a local cluster on this machine for this run.",
        rich_help_panel=PANEL,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        metavar="N",
        help="Ray workers, each holding the pipeline once (default 1).",
        rich_help_panel=PANEL,
    ),
]
CpusOption = Annotated[
    float | None,
    typer.Option(
        "--cpus-per-worker",
        min=0.0,
        metavar="C",
        help="CPU cores per Ray worker, also its torch threads (default 1).",
        rich_help_panel=PANEL,
    ),
]
GpusOption = Annotated[
    float | None,
    typer.Option(
        "--gpus-per-worker",
        min=0.0,
        metavar="G",
        help="GPUs per Ray worker, fractions sharing one GPU (default 0).",
        rich_help_panel=PANEL,
    ),
]


def executor_from_options(
    executor: str,
    address: str | None,
    workers: int | None,
    cpus: float | None,
    gpus: float | None,
) -> Executor:
    """The chosen executor; refuses unknown names and Ray's options with ``local``."""
    if executor not in EXECUTORS:
        raise InputError(f"--executor: unknown '{executor}'; choose {' or '.join(EXECUTORS)}")
    ray_options = {
        "--ray-address": address,
        "--workers": workers,
        "--cpus-per-worker": cpus,
        "--gpus-per-worker": gpus,
    }
    given = [name for name, value in ray_options.items() if value is not None]
    if executor == "local" and given:
        raise InputError(f"{', '.join(given)}: only with --executor ray")
    if address is not None and address != "auto" and not address.startswith("ray://"):
        raise InputError(f"--ray-address: expected auto or ray://HOST:PORT, got '{address}'")
    return make_executor(
        executor,
        address=address,
        workers=workers or 1,
        cpus_per_worker=1.0 if cpus is None else cpus,
        gpus_per_worker=gpus or 0.0,
    )

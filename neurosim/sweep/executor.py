"""Where sweep cells run: a local Dask cluster, an existing Dask scheduler, or SLURM.

* ``local`` (default): ``distributed.LocalCluster`` with one single-threaded worker process per
  core (each cell's torch then uses ``cores / workers`` threads), or one worker per GPU when
  CUDA devices exist (a cell pins its worker's GPU, see :func:`neurosim.sweep.cell.pin_gpu`).
* ``--scheduler tcp://host:port``: submit to a running Dask cluster (``dask scheduler`` plus
  ``dask worker`` processes started by hand, on any machines that share the run folder).
* ``--cluster slurm``: ``dask_jobqueue.SLURMCluster``, one SLURM job per worker; options such as
  ``cores``, ``memory``, ``walltime``, ``queue``/``account`` are passed through from
  ``--cluster-option key=value``. The run folder must be on a file system the nodes share.
"""

from __future__ import annotations

import logging
import os

from neurosim.errors import UserError, choices_message
from neurosim.extras import require

log = logging.getLogger(__name__)

CLUSTERS = ("local", "slurm")
SLURM_DEFAULTS = {"cores": 4, "memory": "16GB", "processes": 1, "walltime": "04:00:00"}


def default_workers() -> int:
    """One worker per GPU when CUDA is available, else one per CPU core."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return os.cpu_count() or 1


def slurm_cluster(options: dict | None = None):
    """A ``dask_jobqueue.SLURMCluster`` with neurosim's defaults updated by ``options`` (not yet scaled)."""
    jobqueue = require("slurm")
    return jobqueue.SLURMCluster(**{**SLURM_DEFAULTS, **(options or {})})


def make_client(
    scheduler: str | None = None,
    workers: int | None = None,
    cluster: str = "local",
    cluster_options: dict | None = None,
):
    """A ``distributed.Client`` for the chosen executor; the caller closes it (and its cluster)."""
    from distributed import Client, LocalCluster

    if scheduler:
        log.info("connecting to the Dask scheduler at %s", scheduler)
        try:
            return Client(scheduler, timeout="30s")
        except OSError as error:
            raise UserError(f"could not reach the Dask scheduler at {scheduler}: {error}") from None
    if cluster not in CLUSTERS:
        raise UserError(choices_message("cluster", cluster, CLUSTERS))
    n_workers = workers or default_workers()
    if cluster == "slurm":
        slurm = slurm_cluster(cluster_options)
        slurm.scale(jobs=n_workers)
        log.info("submitted %d SLURM worker jobs", n_workers)
        return Client(slurm)
    log.info("starting a local Dask cluster with %d workers", n_workers)
    local = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(local)

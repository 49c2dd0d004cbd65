"""USEB (Wang et al. 2021): the symmetric-search benchmark the SGPT paper scores its nli bi-encoders on.

`data` reads USEB's data-eval files, `download` fetches them, `evaluators` scores embeddings
with USEB's metrics, `run` puts a model through it with reports, `table` prints the paper's table.
"""

from .data import DATASETS, UsebData, load
from .evaluators import MAIN_METRIC, evaluate
from .run import UsebOutcome, run_useb
from .table import useb_table

__all__ = ["DATASETS", "MAIN_METRIC", "UsebData", "UsebOutcome", "evaluate", "load", "run_useb", "useb_table"]

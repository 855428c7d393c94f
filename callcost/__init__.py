"""callcost — what an enterprise's calls cost, and what its IP telephony saves.

The public Python API (pinned by ``tests/test_public_api.py``):

    >>> import callcost
    >>> ent = callcost.load_config("callcost-demo/callcost.toml")        # doctest: +SKIP
    >>> report = callcost.import_files(ent, "nyc-cucm", files)          # doctest: +SKIP

Analysts: see ``analytics`` for loading calls from the lake into pandas.
"""

from importlib.metadata import version as _installed_version

from collector.importer import ImportReport, import_files
from warehouse.config import Enterprise, find_config, load_config
from warehouse.errors import CallcostError, ConfigError, ConfigErrors, ParseError, RatingError, StorageError
from analytics.rating.stage import RatingStage
from warehouse.store import Store

__version__ = _installed_version("callcost")  # one source: pyproject.toml's version, as installed

__all__ = [
    "CallcostError",
    "ConfigError",
    "ConfigErrors",
    "Enterprise",
    "ImportReport",
    "ParseError",
    "RatingError",
    "RatingStage",
    "StorageError",
    "Store",
    "__version__",
    "find_config",
    "import_files",
    "load_config",
]

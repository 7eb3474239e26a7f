"""Step definitions of the VA features (pytest-bdd finds them through this conftest)."""

from steps.alimentation_mes import *  # noqa: F401,F403
from steps.ris import *  # noqa: F401,F403

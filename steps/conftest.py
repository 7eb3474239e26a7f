"""Step definitions of the VA features (pytest-bdd finds them through this conftest)."""

from steps.alimentation_mes import *  # noqa: F401,F403
from steps.consommation import *  # noqa: F401,F403
from steps.espace_de_confiance import *  # noqa: F401,F403
from steps.ris import *  # noqa: F401,F403
from steps.source import *  # noqa: F401,F403
from steps.supervision import *  # noqa: F401,F403
from steps.visualisation import *  # noqa: F401,F403

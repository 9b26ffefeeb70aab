# The API token model lives with the other models in ops/models/api.py; importing it here
# registers it while Django loads the installed apps' models.
from ops.models.api import ApiToken  # noqa: F401

"""A local twin of the Google Cloud APIs this project touches, for tests:
real clients (OpenTofu's GCS backend, Google's Python libraries) talk to it
unchanged through their custom-endpoint settings, and it enforces IAM on
every call it answers.

Today it holds Cloud Storage (an authorizing front on fake-gcs-server,
`storage.py`) and IAM policy evaluation (`iam.py`). Where it answers as
Google does, the source is named beside the behaviour.
"""

from .iam import Iam, token_for
from .storage import StorageTwin, start, stop

__all__ = ["Iam", "StorageTwin", "start", "stop", "token_for"]

"""Models of the API's bodies. `_generated.py` is generated from the OpenAPI document by
`scripts/gen-sdk-types.sh`; do not edit it by hand."""

from ._generated import *  # noqa: F401,F403
from .events import DoneEvent, ErrorEvent, QueryEvent, SourcesEvent, TokenEvent, UnknownEvent  # noqa: F401

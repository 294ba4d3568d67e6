"""Stage 1, emit: the events every service writes. Imports nothing from later stages."""
from .config import logging_config
from .context import bind, bound, clear, get_context, reset, unbind
from .formatter import JSONFormatter
from .ids import uuid7
from .render import Renderer, flatten, nest
from .structlog_path import BoundLogger, get_logger

__all__ = ["logging_config", "JSONFormatter", "get_logger", "BoundLogger", "Renderer", "bind", "bound",
           "unbind", "reset", "clear", "get_context", "uuid7", "flatten", "nest"]

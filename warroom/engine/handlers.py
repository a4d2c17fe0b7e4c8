"""Registers every module's job handlers with the engine."""

from __future__ import annotations

from warroom.engine.worker import HANDLERS
from warroom.incidents.service import check_response_target

HANDLERS["response_target"] = check_response_target

"""Registers every module's job handlers with the engine."""

from __future__ import annotations

from warroom.comms.deliver import JOB as COMMS_DELIVER_JOB
from warroom.comms.deliver import deliver as comms_deliver
from warroom.comms.service import check_cadence
from warroom.engine.worker import DB_HANDLERS, HANDLERS
from warroom.paging.service import NOTIFY_JOB, STEP_JOB, run_step
from warroom.incidents.service import check_response_target
from warroom.notify.deliver import deliver as notify_deliver
from warroom.oncall.handoff_service import HANDOFF_JOB
from warroom.oncall.handoff_service import run_job as run_handoff_job
from warroom.statuspage.deliver import deliver as statuspage_deliver
from warroom.statuspage.service import fan_out as statuspage_fan_out
from warroom.statuspage.service import run_maintenance_step

HANDLERS["response_target"] = check_response_target
HANDLERS["statuspage_maintenance"] = run_maintenance_step
HANDLERS["statuspage_fanout"] = statuspage_fan_out
HANDLERS["statuspage_deliver"] = statuspage_deliver
HANDLERS["comms_cadence"] = check_cadence
HANDLERS[HANDOFF_JOB] = run_handoff_job


HANDLERS[STEP_JOB] = run_step
DB_HANDLERS[NOTIFY_JOB] = notify_deliver
DB_HANDLERS[COMMS_DELIVER_JOB] = comms_deliver

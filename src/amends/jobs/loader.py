"""Import every module that registers job kinds, so a worker knows all of them."""

from __future__ import annotations

import importlib

JOB_MODULES = ("amends.jobs.tasks", "amends.redemptions.tasks", "amends.webhooks.tasks",
               "amends.approvals.tasks", "amends.delivery.tasks",
               "amends.recovery.tasks", "amends.delivery.staff", "amends.incidents.tasks",
               "amends.outcomes.tasks", "amends.rollups.tasks", "amends.wallet.tasks",
               "amends.integrations.helpdesks", "amends.shops.tasks")


def load_job_kinds(extra: tuple[str, ...] = ()) -> None:
    for name in (*JOB_MODULES, *extra):
        importlib.import_module(name)

"""`tpu-bot check`, for the projects whose TPUs come from Compute Engine: one filtered instance
listing per project, read only."""

from __future__ import annotations

from google.auth.exceptions import GoogleAuthError

from bot.config import Settings
from bot.tpu.compute import ComputeClient
from bot.tpu.transport import make_credentials
from bot.usecases.ports import PermissionDenied, TpuError


def compute_findings(settings: Settings) -> list[tuple[bool, str, str]]:
    """(ok, what, detail) per project with `compute` in its sources (none without one)."""
    projects = [p for p in settings.bot.projects if "compute" in p.sources]
    if not projects:
        return []
    endpoint = settings.env.COMPUTE_API_ENDPOINT
    try:
        credentials = make_credentials(
            endpoint,
            impersonate=settings.bot.gcp.impersonate_service_account,
            credentials_file=settings.bot.gcp.credentials_file,
        )
        client = ComputeClient(endpoint, credentials, retries=1, timeout=15)
    except (GoogleAuthError, OSError, ValueError) as exc:
        detail = (
            f"no credentials: {exc}. Run `gcloud auth application-default login`, "
            "or use Workload Identity"
        )
        return [(False, "Compute Engine", detail)]
    found = []
    for project in projects:
        what = f"Compute Engine {project.id}"
        try:
            listing = client.list_instances(project.id, project.locations)
        except PermissionDenied as exc:
            detail = (
                f"{exc.message} Grant the bot's service account roles/compute.viewer "
                "(roles/compute.instanceAdmin.v1 to act) on the project, or leave compute out "
                "of its sources"
            )
            found.append((False, what, detail))
            continue
        except TpuError as exc:
            found.append((False, what, f"{exc.status}: {exc.message}"))
            continue
        unreachable = len(listing.unreachable)
        partial = f", no answer from {unreachable} zones" if unreachable else ""
        found.append((True, what, f"{len(listing.instances)} TPU VMs{partial}"))
    return found

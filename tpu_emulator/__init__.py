"""A local Cloud TPU REST API, v1alpha1 and v2 over one fleet: nodes, queued resources,
operations, a seeded fleet, fault injection. Imports nothing from the bot."""

from tpu_emulator.server import EmulatorApp, serve
from tpu_emulator.state import ApiError, Emulator, Faults

__all__ = ["ApiError", "Emulator", "EmulatorApp", "Faults", "serve"]

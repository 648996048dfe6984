"""A local Cloud TPU v1alpha1 REST API: state machine, operations, fault injection."""

from tpu_emulator.server import EmulatorApp, serve
from tpu_emulator.state import ApiError, Emulator, Faults

__all__ = ["ApiError", "Emulator", "EmulatorApp", "Faults", "serve"]

"""Compute Engine's TPU subset (compute.v1.json) beside the Cloud TPU API, on one fleet."""

from tpu_emulator.compute.service import Compute

__all__ = ["Compute"]

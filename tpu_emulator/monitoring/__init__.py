"""Cloud Monitoring v3 for the emulated fleet: time series of running TPUs computed on demand
from deterministic patterns, metric and monitored resource descriptors."""

from tpu_emulator.monitoring.patterns import UtilizationTable
from tpu_emulator.monitoring.service import MonitoringService
from tpu_emulator.monitoring.sources import RunningTpu, Source, tpu_api_nodes

__all__ = ["MonitoringService", "RunningTpu", "Source", "UtilizationTable", "tpu_api_nodes"]

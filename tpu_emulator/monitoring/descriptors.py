"""The metric types and monitored resources the emulator serves, as Cloud Monitoring describes
them (MetricDescriptor, MonitoredResourceDescriptor of `monitoring.v3.json`). Where each fact
comes from is in docs/emulator.md ("Monitoring")."""

from __future__ import annotations

from dataclasses import dataclass

from tpu_emulator.errors import Json

# The monitored resource of a Cloud TPU API node's worker (TPU Nodes and TPU VMs alike).
TPU_WORKER = "tpu_worker"
# The monitored resource of a Compute Engine instance with a TPU machine type (TPU7x, v6e, v5p
# as GCE instances); the compute source reports its series against it.
GCE_TPU_WORKER = "tpu.googleapis.com/GceTpuWorker"


@dataclass(frozen=True)
class MetricType:
    """One served metric: a value linear in the TPU's duty cycle, `base + per_duty * duty`
    (duty in percent), so window statistics follow from the duty cycle's in closed form."""

    type: str
    display_name: str
    description: str
    value_type: str  # DOUBLE or INT64
    unit: str
    # What the value is: "duty" (percent), "tensorcore", "hbm_used", "hbm_total" (bytes).
    derive: str

    def descriptor(self, project: str) -> Json:
        return {
            "name": f"projects/{project}/metricDescriptors/{self.type}",
            "type": self.type,
            "metricKind": "GAUGE",
            "valueType": self.value_type,
            "unit": self.unit,
            "description": self.description,
            "displayName": self.display_name,
            "launchStage": "GA",
            "metadata": {"samplePeriod": "60s", "ingestDelay": "180s"},
            "monitoredResourceTypes": [TPU_WORKER, GCE_TPU_WORKER],
        }


METRICS: tuple[MetricType, ...] = (
    MetricType(
        "tpu.googleapis.com/accelerator/duty_cycle",
        "Accelerator Duty Cycle",
        "Percentage of time over the sample period during which the accelerator was actively "
        "processing. Values are in the range [0,100].",
        "DOUBLE",
        "%",
        "duty",
    ),
    MetricType(
        "tpu.googleapis.com/accelerator/tensorcore_utilization",
        "TensorCore Utilization",
        "Current percentage of the TensorCore that is utilized.",
        "DOUBLE",
        "%",
        "tensorcore",
    ),
    MetricType(
        "tpu.googleapis.com/accelerator/memory_used",
        "Accelerator Memory Used",
        "High bandwidth memory (HBM) in use on the worker's accelerators, in bytes.",
        "INT64",
        "By",
        "hbm_used",
    ),
    MetricType(
        "tpu.googleapis.com/accelerator/memory_total",
        "Accelerator Memory Total",
        "High bandwidth memory (HBM) on the worker's accelerators, in bytes.",
        "INT64",
        "By",
        "hbm_total",
    ),
)
BY_TYPE = {m.type: m for m in METRICS}

_RESOURCES: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    TPU_WORKER: (
        "Cloud TPU Worker",
        "A Cloud TPU worker (one host of a TPU node).",
        (
            ("project_id", "The identifier of the Google Cloud project of the TPU."),
            ("zone", "The zone the TPU runs in."),
            ("node_id", "The id of the TPU node."),
            ("worker_id", "The id of the worker (host) within the TPU node."),
        ),
    ),
    GCE_TPU_WORKER: (
        "GCE TPU Worker",
        "A Compute Engine VM with TPU accelerators.",
        (
            ("resource_container", "The identifier of the Google Cloud project of the VM."),
            ("location", "The zone the VM runs in."),
            ("worker_id", "The id of the VM."),
        ),
    ),
}
RESOURCE_TYPES = tuple(_RESOURCES)


def resource_descriptor(project: str, resource_type: str) -> Json:
    display, description, labels = _RESOURCES[resource_type]
    return {
        "name": f"projects/{project}/monitoredResourceDescriptors/{resource_type}",
        "type": resource_type,
        "displayName": display,
        "description": description,
        "labels": [{"key": k, "valueType": "STRING", "description": d} for k, d in labels],
        "launchStage": "GA",
    }

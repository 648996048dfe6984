"""tpu-bot: see and act on Cloud TPU nodes from Slack, and hear about trouble there first."""

__version__ = "0.1.0"

"""The v1alpha1 API (TPU Nodes): requestId on create/delete, reimage, TensorFlow versions."""

from __future__ import annotations

from bot.core.models import NodeSpec, TensorFlowVersion
from bot.core.operations import Operation
from bot.tpu import wire_v1alpha1
from bot.tpu.base import VersionApi


class V1Alpha1Api(VersionApi):
    version = "v1alpha1"
    prefix = ""
    wire = wire_v1alpha1

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str
    ) -> Operation:
        request = self.nodes.create(
            parent=f"projects/{project}/locations/{zone}",
            nodeId=node_id,
            requestId=request_id,
            body=wire_v1alpha1.node_body(spec),
        )
        return self.operation(self.execute("nodes.create", request))

    def delete_node(self, name: str, request_id: str) -> Operation:
        request = self.nodes.delete(name=name, requestId=request_id)
        return self.operation(self.execute("nodes.delete", request))

    # v1alpha1 gives stop/start/reimage no requestId; a retried duplicate is refused by the
    # service (an operation is already running on the node), never applied twice.
    def reimage_node(self, name: str, software_version: str) -> Operation:
        request = self.nodes.reimage(name=name, body={"tensorflowVersion": software_version})
        return self.operation(self.execute("nodes.reimage", request))

    def list_software_versions(self, project: str, zone: str) -> list[TensorFlowVersion]:
        collection = self.locations.tensorflowVersions()
        request = collection.list(parent=f"projects/{project}/locations/{zone}")
        return [
            TensorFlowVersion(name=item["name"], version=item.get("version", ""))
            for page in self.transport.pages("tensorflowVersions.list", collection, request)
            for item in page.get("tensorflowVersions", [])
        ]

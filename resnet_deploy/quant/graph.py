"""Small ONNX graph queries and fixes shared by the INT8 and FP16 converters."""

from __future__ import annotations

from collections import deque

import onnx

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def is_quantized(model: onnx.ModelProto) -> bool:
    return any(node.op_type in QDQ_OPS for node in model.graph.node)


def has_fp16_weights(model: onnx.ModelProto) -> bool:
    return any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)


def module_path(node_name: str) -> str | None:
    """`/layer3/layer3.2/conv2/Conv` -> `layer3.2.conv2`; None for a name without module scopes.

    The TorchScript exporter names each node by its module scopes, one path component per module
    (`/layer1/layer1.0/downsample/downsample.0/Conv`), and onnxslim keeps the names."""
    scopes = [part for part in node_name.split("/") if part][:-1]  # the last part is the op
    if not node_name.startswith("/") or not scopes:
        return None
    parts: list[str] = []
    previous = ""
    for scope in scopes:
        # A container's child is scoped "<container attribute>.<index>": add only the index.
        parts.append(scope[len(previous) + 1 :] if previous and scope.startswith(previous + ".") else scope)
        previous = scope
    return ".".join(parts)


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after its inputs' producers (the fp16 converter appends Casts last)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ValueError("the graph has a cycle or a dangling input")
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


def keep_qdq_on_residual_inputs_only(model: onnx.ModelProto) -> int:
    """Remove the Q/DQ pair on the conv-branch input of each residual Add, keeping the shortcut's.

    TensorRT fuses conv + add when the Add's other (residual) input is quantized and the conv
    output is not (TensorRT developer guide, Q/DQ placement; NVIDIA's quant_resnet50 tutorial;
    ModelOpt does the same). For two conv inputs (a projection shortcut), the branch with the
    longer path back to their common ancestor is the residual branch. Returns pairs removed.
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def quantized_source(tensor: str) -> tuple[str, onnx.NodeProto, onnx.NodeProto] | None:
        dq = producer.get(tensor)
        if dq is None or dq.op_type != "DequantizeLinear":
            return None
        q = producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            return None
        return q.input[0], q, dq

    def ancestors_by_distance(tensor: str) -> dict[str, int]:
        seen: dict[str, int] = {}
        todo = deque([(tensor, 0)])
        while todo:
            name, distance = todo.popleft()
            node = producer.get(name)
            if node is not None and node.name not in seen:
                seen[node.name] = distance
                todo.extend((i, distance + 1) for i in node.input)
        return seen

    removed = 0
    for add in [n for n in graph.node if n.op_type == "Add" and len(n.input) == 2]:
        sources = [quantized_source(name) for name in add.input]
        if not all(sources) or not all(s[0] in producer for s in sources):
            continue
        from_conv = [producer[s[0]].op_type == "Conv" for s in sources]
        if not any(from_conv):
            continue
        if all(from_conv):
            da, db = ancestors_by_distance(sources[0][0]), ancestors_by_distance(sources[1][0])
            common = set(da) & set(db)
            if not common:
                continue
            lca = min(common, key=lambda name: da[name] + db[name])
            branch = 0 if da[lca] > db[lca] else 1
        else:
            branch = from_conv.index(True)
        tensor, q, dq = sources[branch]
        add.input[branch] = tensor
        if len(consumers.get(dq.output[0], [])) == 1 and len(consumers.get(q.output[0], [])) == 1:
            graph.node.remove(dq)
            graph.node.remove(q)
            removed += 1
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    return removed

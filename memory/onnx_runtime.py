"""Running our PyTorch models in ONNX Runtime, exported once per machine.

A single short text through all-MiniLM-L6-v2 takes about a third of the time in ONNX
Runtime that eager PyTorch needs on one thread (DESIGN §7), and recall and consolidation
both embed one text at a time. The export is written beside its model's other files:
to a temporary file first, checked there against PyTorch by the caller, and only then
renamed into place, so two processes exporting at once both end with a whole file.

What the check compared stays inside the file (ONNX metadata), so a later start can check
the file against it without loading the PyTorch model at all.
"""

import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

# The legacy (TorchScript) exporter: the dynamo exporter needs onnxscript and traced
# transformers 5's mask helpers into shape-fixed constants.
OPSET = 17
PROBE_KEY = "pipo_probe"


class OnnxMismatch(Exception):
    """An exported model does not give what PyTorch gives."""


def onnx_session(path: Path, *, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle worker threads spinning for work would steal a shared 2-core CPU from the rest.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_run(session, inputs: dict[str, np.ndarray]) -> np.ndarray:
    names = {i.name for i in session.get_inputs()}
    feed = {k: v.astype(np.int64, copy=False) for k, v in inputs.items() if k in names}
    return session.run(None, feed)[0]


def onnx_probe_stored(session) -> dict:
    """The probe texts and outputs saved in the file at export; raises OnnxMismatch."""
    raw = session.get_modelmeta().custom_metadata_map.get(PROBE_KEY)
    if not raw:
        raise OnnxMismatch("no probe outputs stored in the file")
    try:
        probe = json.loads(raw)
        return {**probe, "texts": list(probe["texts"]), "outputs": np.asarray(probe["outputs"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise OnnxMismatch(f"unreadable probe outputs: {exc}") from exc


def onnx_export_checked(
    *,
    module,
    example_inputs: dict,
    output_name: str,
    path: Path,
    threads: int,
    probe: dict,
    check: Callable[[object], None],
):
    """Export `module`, run `check(session)` on the export, then move it to `path`.

    `module` is a wrapper whose forward takes `example_inputs`' keys as positional tensors
    (batch x sequence, both dynamic) and returns one tensor. `probe` ({"texts", "outputs"}
    and any other JSON-able keys) is stored in the file. Returns the session; raises on
    any failure, leaving no file behind.
    """
    import onnx
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # export() restores the wrapper's training flag afterwards, and train() on the
        # wrapper reaches the wrapped model: a wrapper left in training mode turns
        # dropout on in the model we go on using (the "cosine 0.955" of DESIGN §7).
        module.eval()
        dynamic = {name: {0: "batch", 1: "sequence"} for name in example_inputs}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(example_inputs.values()),
                str(tmp),
                input_names=list(example_inputs),
                output_names=[output_name],
                dynamic_axes={**dynamic, output_name: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(
            proto,
            {PROBE_KEY: json.dumps({**probe, "outputs": np.asarray(probe["outputs"]).tolist()})},
        )
        onnx.save(proto, str(tmp))
        session = onnx_session(tmp, threads=threads)
        check(session)
        os.replace(tmp, path)
        return session
    finally:
        tmp.unlink(missing_ok=True)

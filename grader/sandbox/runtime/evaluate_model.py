"""Inside the sandbox: run an exported model on images and report one predicted class per image.

    python -I evaluate_model.py CONFIG_JSON

CONFIG_JSON: {"limits": {...as worker.py...}, "model": path, "format": "export" | "torchscript",
"images": path of raw uint8 images (count, 28, 28), "count": n, "layout": "images" | "features",
"threads": n or null, "max_model_bytes": n}.

It is given images and never labels: the trusted side counts the correct answers. The model file is
student-made (a TorchScript program can read and write files and print), so this process imports no
grader code and no student Python, runs at the kernel's isolation level, and its answer is one frame on
the stdout it had at start (8-byte big-endian length, then JSON); fd 1 and 2 point at /dev/null while
the model runs, so whatever the model prints cannot pass for the answer. The trusted side accepts
exactly one frame followed by the end of the stream and exit status 0.
"""

import io
import json
import os
import stat
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import apply_limits  # noqa: E402

SIDE = 28
BATCH = 500
MAX_NAMES = 200  # module types and ops reported (the trusted side re-checks every field)


def read_regular(path, cap):
    """The bytes of a regular file opened without following links (a link, fifo or device is refused)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("the exported model is not a regular file")
        if info.st_size > cap:
            raise ValueError(f"the exported model is {info.st_size >> 20} MB; at most {cap >> 20} MB is evaluated")
        chunks, left = [], info.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def short_type(name):
    """'torch.nn.modules.linear.Linear' -> 'Linear'."""
    return str(name).rsplit(".", 1)[-1][:60]


def load(config):
    """(a callable model, its architecture facts) from the file named in ``config``."""
    import torch

    data = read_regular(config["model"], config["max_model_bytes"])
    if config["format"] == "export":
        program = torch.export.load(io.BytesIO(data))
        types, parameterised = {}, set()
        for node in program.graph.nodes:
            for path, kind in (node.meta.get("nn_module_stack") or {}).values():
                types[str(path)] = short_type(kind[1] if isinstance(kind, tuple) else kind)
        for name in program.state_dict:
            owner = name.rsplit(".", 1)[0] if "." in name else ""
            parameterised.add(types.get(owner, owner or "(top-level parameter)"))
        ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
        module = program.module()
        return module, {"parameterised": sorted(parameterised), "modules": sorted(set(types.values())),
                        "ops": sorted(ops)}
    model = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
    with_params, types = [], []
    for sub in model.modules():
        kind = getattr(sub, "original_name", type(sub).__name__)
        types.append(kind)
        if any(True for _ in sub.named_parameters(recurse=False)):
            with_params.append(kind)
    ops = sorted({node.kind() for node in model.inlined_graph.nodes()})
    return model, {"parameterised": sorted(set(with_params)), "modules": sorted(set(types)), "ops": ops}


def predict(model, config):
    """Predicted classes as a string of digits, the output shape, and how many rows were probabilities."""
    import numpy as np
    import torch

    count = int(config["count"])
    raw = np.fromfile(config["images"], dtype=np.uint8, count=count * SIDE * SIDE)
    images = torch.from_numpy(raw.astype(np.float32) / 255.0).reshape(count, 1, SIDE, SIDE)
    if config["layout"] == "features":
        images = images.reshape(count, SIDE * SIDE)
    digits, probability_rows = [], 0
    with torch.no_grad():
        for start in range(0, count, BATCH):
            out = model(images[start:start + BATCH])
            if isinstance(out, (tuple, list)) and len(out) == 1:
                out = out[0]
            expected = min(BATCH, count - start)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (expected, 10):
                shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                return None, shape, 0
            rows = out.double()
            probability_rows += int(((rows >= 0).all(dim=1) & ((rows.sum(dim=1) - 1).abs() < 1e-4)).sum())
            digits.append("".join(map(str, out.argmax(dim=1).tolist())))
    return "".join(digits), [count, 10], probability_rows


def main():
    config = json.loads(sys.argv[1])
    answer = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the model's prints (and torch's warnings) go nowhere near the answer
    apply_limits(config["limits"])
    report = {}
    try:
        import torch

        if config.get("threads"):
            torch.set_num_threads(int(config["threads"]))
        model, facts = load(config)
        report.update({key: value[:MAX_NAMES] for key, value in facts.items()})
        report["predictions"], report["output_shape"], report["probability_rows"] = predict(model, config)
    except BaseException as exc:  # noqa: BLE001 - the model is hostile: any failure is an answer, not a crash
        report["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    body = json.dumps(report).encode()
    os.write(answer, struct.pack(">Q", len(body)))
    view = memoryview(body)
    while view:
        view = view[os.write(answer, view):]
    os.close(answer)
    os._exit(0)  # no interpreter shutdown: nothing of the model's (atexit, finalisers) runs after the answer


if __name__ == "__main__":
    main()

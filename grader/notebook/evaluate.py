"""Section 2's accuracy, measured without trusting anything the notebook made.

The exported model is student-made (a TorchScript or torch.export program can read and write files), so
it runs only inside the sandbox, at the kernel's level, in a fresh process that imports no student code
(runtime/evaluate_model.py). That process is given the held-out images (the half of the test split the
kernel never had, grader.fashion_data.HeldOut) and never their labels; it answers one predicted class
per image, and the counting is done here. The grader never opens the model file or follows anything in
the export folder: it only checks, without following links, that the file the export named is a regular
file, and hands the folder to the sandbox read-only.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from grader import threads as thread_budget
from grader.fashion_data import HeldOut
from grader.notebook.export import INPUT_SHAPES, MODEL_FILES
from grader.sandbox import isolation
from grader.sandbox.drain import Drain
from grader.sandbox.isolation import Mount
from grader.sandbox.limits import Limits
from grader.sandbox.process import SandboxedProcess

INPUT_LAYOUTS = tuple(INPUT_SHAPES)  # images as ToTensor() makes them, or flattened: what pa3-api.md allows
CONV_OPS = ("conv", "convolution")
MAX_MODEL_BYTES = 256 << 20   # an MLP on 784 inputs is a few MB; the export's file-size limit is the same
MAX_NAMES, MAX_NAME = 200, 200
EVALUATOR_LIMITS = Limits(address_space=8 << 30, cpu_seconds=900, file_size=16 << 20, processes=64, open_files=256,
                          tmp_bytes=64 << 20, shm_bytes=64 << 20, work_bytes=64 << 20,
                          memory=2 << 30)  # its memory cgroup, where one can be made: torch, the model, the images
STDERR_BYTES = 16 << 10


class EvaluationFailed(Exception):
    """The model could not be evaluated; the message is for the student."""


def model_file(export: Path, report: dict) -> tuple[Path, str]:
    """(the exported model's path, its format) from the export report, checked without opening anything.

    The report is the kernel's: only the two names the grader itself chose are accepted, and the file must be
    a regular file (not a link, fifo or device) of a bounded size.
    """
    fmt, name = report.get("format", "torchscript"), report.get("model")
    if fmt not in MODEL_FILES or name != MODEL_FILES[fmt]:
        raise EvaluationFailed(f"the export named an unknown model file {str(name)[:40]!r} ({str(fmt)[:20]!r})")
    path = Path(export) / name
    try:
        info = os.lstat(path)
    except OSError:
        raise EvaluationFailed("the exported model file is missing") from None
    if not stat.S_ISREG(info.st_mode):
        raise EvaluationFailed("the exported model is not a regular file (a link or a device was left in its place)")
    if info.st_size > MAX_MODEL_BYTES:
        raise EvaluationFailed(f"the exported model is {info.st_size >> 20} MB; at most {MAX_MODEL_BYTES >> 20} MB")
    return path, fmt


def evaluate(export: Path, report: dict, held_out: HeldOut, level: str, folder: Path, threads: int | None = None,
             timeout: float = 300.0) -> dict:
    """The evaluation of the model the export report names, on ``held_out``: accuracy, output shape, whether
    every row is a probability distribution, and the architecture (module types with weights, ops).

    ``folder``: a fresh private folder of the grader's (the images and the evaluator's working copy go there).
    Raises EvaluationFailed with a message for the student.
    """
    path, fmt = model_file(export, report)
    layout = report.get("input") or "images"
    if layout not in INPUT_LAYOUTS:
        raise EvaluationFailed(f"the export named an unknown input layout {str(layout)[:40]!r}")
    inputs, work = folder / "inputs", folder / "work"
    folder.mkdir(mode=0o711, exist_ok=True)
    inputs.mkdir(mode=0o700)
    work.mkdir(mode=0o700)
    np.ascontiguousarray(held_out.images, dtype=np.uint8).tofile(inputs / "images.u8")
    answer = run_evaluator(Path(export), path.name, fmt, inputs, work, len(held_out.labels), layout, level,
                           threads, timeout)
    return score(answer, held_out.labels, layout, fmt)


def run_evaluator(export: Path, name: str, fmt: str, inputs: Path, work: Path, count: int, layout: str, level: str,
                  threads: int | None, timeout: float) -> dict:
    """Start runtime/evaluate_model.py at ``level`` and return its one answer (checked here, not trusted)."""
    mounts = {"export": Mount(export, "/export"), "inputs": Mount(inputs, "/inputs"),
              "work": Mount(work, "/evaluator", True, private=True)}
    runtime = isolation.WORKER_IN_SANDBOX if level == "bwrap" else str(isolation.RUNTIME_DIR)
    config = {"limits": EVALUATOR_LIMITS.rlimits(), "model": f"{mounts['export'].visible(level)}/{name}",
              "format": fmt, "images": f"{mounts['inputs'].visible(level)}/images.u8", "count": count,
              "layout": layout, "threads": threads, "max_model_bytes": MAX_MODEL_BYTES}
    program = [isolation.interpreter(), "-I", f"{runtime}/evaluate_model.py", json.dumps(config)]
    env = isolation.scrubbed_env() | thread_budget.environment(threads) | {"CUDA_VISIBLE_DEVICES": ""}
    process = SandboxedProcess(level, EVALUATOR_LIMITS, memory_cgroup=True, subreaper=False)
    if level == "none":  # benchmarks only: no sandbox, as for the kernel
        spec = isolation.Launch(program, {"env": env, "cwd": str(work)}, isolation.describe(level))
    else:
        spec = isolation.wrap(level, program, list(mounts.values()), mounts["work"], limits=EVALUATOR_LIMITS)
        spec.popen.update(env=env | isolation.private_tmp(level, work))
        process.hand_over(spec, [work, inputs])
    deadline = time.monotonic() + max(1.0, timeout)
    cap = 8 + count + 64 * 1024  # the frame: its length, one digit per image, and the architecture facts
    try:
        popen = process.launch(spec, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise EvaluationFailed(f"the evaluator could not start ({exc})") from None
    out, err = Drain(popen.stdout, cap), Drain(popen.stderr, STDERR_BYTES)
    code = process.wait(max(0.0, deadline - time.monotonic()))
    memory = process.memcg.events() if process.memcg is not None else {}  # before the kill removes it
    process.kill()
    process.reap()
    for drain in (out, err):
        drain.join(timeout=5)
    if code is None:
        raise EvaluationFailed(f"evaluating the exported model took more than {timeout:.0f} s and was stopped")
    if code != 0:
        cause = ("it ran out of memory" if memory.get("oom_kill") else process.exit_description(code)
                 if code < 0 or (level == "bwrap" and code > 128) else f"the evaluator exited with code {code}")
        tail = err.kept.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise EvaluationFailed(f"the exported model could not be evaluated: {cause}"
                               + (f" ({tail[0][:300]})" if tail else ""))
    return parse_answer(bytes(out.kept), out.total)


def parse_answer(data: bytes, total: int) -> dict:
    """The evaluator's one frame; anything else on its stdout (a model that wrote there) fails the evaluation."""
    if len(data) < 8 or total != len(data):
        raise EvaluationFailed("the evaluator's answer was malformed or too long (did the model write to its output?)")
    (size,) = struct.unpack(">Q", data[:8])
    if size != len(data) - 8:
        raise EvaluationFailed("the evaluator's answer was malformed (did the model write to its output?)")
    try:
        answer = json.loads(data[8:])
    except (ValueError, RecursionError):
        raise EvaluationFailed("the evaluator's answer was not valid JSON (did the model write to its output?)") \
            from None
    if not isinstance(answer, dict):
        raise EvaluationFailed("the evaluator's answer was malformed")
    return answer


def _names(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:MAX_NAME] for v in value[:MAX_NAMES] if isinstance(v, str)]


def score(answer: dict, labels: np.ndarray, layout: str, fmt: str) -> dict:
    """The evaluation dict the judge reads, from the evaluator's answer and the labels only the grader has."""
    if isinstance(answer.get("error"), str):
        raise EvaluationFailed(f"the exported model could not be run on the test images: {answer['error'][:400]}")
    ops = _names(answer.get("ops"))
    report = {"accuracy": None, "n": int(len(labels)), "input": layout, "format": fmt,
              "parameterised": _names(answer.get("parameterised")), "modules": _names(answer.get("modules")),
              "ops": ops, "convolution": any(c in op.lower() for op in ops for c in CONV_OPS),
              "softmax_output": False, "output_shape": None}
    shape = answer.get("output_shape")
    report["output_shape"] = ([int(v) for v in shape[:4] if isinstance(v, int) and not isinstance(v, bool)]
                              if isinstance(shape, list) else str(shape)[:60])
    predictions = answer.get("predictions")
    if predictions is None:
        return report
    if not isinstance(predictions, str) or len(predictions) != len(labels) or not predictions.isascii() \
            or not predictions.isdigit():
        raise EvaluationFailed("the evaluator's answer held no valid prediction for every test image")
    predicted = np.frombuffer(predictions.encode("ascii"), dtype=np.uint8) - ord("0")
    report["accuracy"] = float(np.mean(predicted == labels))
    rows = answer.get("probability_rows")
    report["softmax_output"] = isinstance(rows, int) and not isinstance(rows, bool) and rows == len(labels)
    return report

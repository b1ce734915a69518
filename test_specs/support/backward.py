"""Running a layer's backward the way the contract describes: after the student's own forward.

The backward reads whatever the student's forward cached, under whatever keys it chose. Only where that
forward raises, gives a wrong output or caches a wrong X or Z under the contract's keys does the test put
X and Z in the cache itself (the contract's keys), and every failure of that backward then says so, so
that the student knows which forward it ran on.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from grader.sandbox.errors import SandboxError
from test_specs.support.compare import SpecFailure, fail, shown

FALLBACK = ("your forward {why} on this input, so the test put X and Z = X W + b in the cache itself, under the "
            "contract's keys 'X' and 'Z'; your forward's own tests say what is wrong with it")


def after_forward(layer, X: np.ndarray, W: np.ndarray, b: np.ndarray, output: np.ndarray) -> str:
    """Run the student's forward on X; return "" if it gave ``output``, else fill the cache and return the note."""
    cache = {"X": X, "Z": X @ W + b}
    try:
        out = layer.call("forward", X)
        why = "gave a wrong output"
        if isinstance(out, np.ndarray) and out.shape == output.shape and np.allclose(out, output):
            held = layer.get("cache")
            wrong = [k for k in cache if isinstance(held, dict) and k in held
                     and not (isinstance(held[k], np.ndarray) and held[k].shape == cache[k].shape
                              and np.allclose(held[k], cache[k]))]
            if not wrong:
                return ""  # its own keys, or the contract's with the right values: backward reads what it cached
            why = f"cached a wrong {' and '.join(repr(k) for k in wrong)}"
    except Exception:  # noqa: BLE001 - the forward's own tests report it
        why = "raised an error"
    try:
        for key, value in cache.items():
            layer.set("cache", key, value=value)
    except Exception:  # noqa: BLE001 - its cache is not a dict: replace it
        layer.set("cache", value=cache)
    return FALLBACK.format(why=why)


@contextmanager
def noted(note: str):
    """Failures inside carry ``note`` (why the cache was filled by the test)."""
    if not note:
        yield
        return
    try:
        yield
    except SpecFailure as exc:
        raise SpecFailure(f"{exc}\n  note: {note}") from None
    except SandboxError as exc:
        from grader.messages import explain

        raise SpecFailure(f"{explain(exc)}\n  note: {note}") from None


def gradient(layer, name: str):
    """``layer.gradients[name]``, or a failure showing the keys the student's layer used."""
    grads = layer.get("gradients")
    if isinstance(grads, dict):
        extra = [k for k in grads if k not in ("W", "b")]
        value = grads.get(name)
        if name in grads and extra and isinstance(value, np.ndarray) and value.size and not np.any(value):
            fail(f"gradients['{name}']", f"gradients['{name}'] still holds the zeros that _init_parameters put there; "
                 f"your backward stored gradients under other keys", f"store it as self.gradients['{name}'], the "
                 "contract's key (the optimizer reads only 'W' and 'b')", got=f"keys {list(grads)}")
        if name in grads:
            return value
        fail(f"gradients['{name}']", f"your layer's gradients have no key '{name}'",
             f"store it as self.gradients['{name}'], the contract's key", got=f"keys {list(grads)}")
    if getattr(grads, "type_name", None) is None:
        fail(f"gradients['{name}']", "gradients is not a dictionary",
             "keep the OrderedDict that _init_parameters makes", got=shown(grads))
    return layer.get("gradients", name)

"""The starter-code contract (../shared/pa3-api.md) as data: modules, graded members, signatures."""

from __future__ import annotations

# The assignment's files, the one list of them. Modules the student submits; optimizer.py is supplied by the grader.
SUBMITTED_MODULES = ("activations", "layers", "loss", "model", "util")
GRADER_SUPPLIED = ("optimizer",)
NOTEBOOK = "PA3.ipynb"
DATA_FILES = ("data/iris.csv",)
# What a submission holds (PA3_qa.pdf: the written answers, hand-graded).
REQUIRED_FILES = tuple(f"{m}.py" for m in SUBMITTED_MODULES) + (NOTEBOOK, "PA3_qa.pdf")
# What the grader supplies to every submission (grader/provided/ in the bundle and the autograder).
PROVIDED_FILES = tuple(f"{m}.py" for m in GRADER_SUPPLIED) + DATA_FILES
# What student_template/ holds (generated from reference/) and the student bundle's PA3/ folder.
TEMPLATE_FILES = tuple(f"{m}.py" for m in SUBMITTED_MODULES + GRADER_SUPPLIED) + (NOTEBOOK,) + DATA_FILES

# [student] members, by module, as Class.method.
STUDENT_MEMBERS: dict[str, tuple[str, ...]] = {
    "activations": ("ReLU.forward", "ReLU.backward", "SoftMax.forward", "SoftMax.backward"),
    "layers": ("FullyConnectedLayer.forward", "FullyConnectedLayer.backward"),
    "loss": ("CrossEntropyLoss.forward", "CrossEntropyLoss.backward"),
    "model": ("NeuralNetworkModel.forward", "NeuralNetworkModel.backward", "NeuralNetworkModel.predict"),
}

# Members that must not loop over the rows of a mini-batch (SoftMax.backward may).
VECTORISED_MEMBERS = tuple(
    (module, member) for module, members in STUDENT_MEMBERS.items() for member in members
    if member != "SoftMax.backward" and module != "model"
)

# Parameter names of every graded member, as the contract writes them (self first).
SIGNATURES: dict[str, tuple[str, ...]] = {
    "ReLU.forward": ("self", "Z"),
    "ReLU.backward": ("self", "Z", "dY"),
    "SoftMax.forward": ("self", "Z"),
    "SoftMax.backward": ("self", "Z", "dY"),
    "FullyConnectedLayer.__init__": ("self", "n_out", "activation", "weight_init"),
    "FullyConnectedLayer.forward": ("self", "X"),
    "FullyConnectedLayer.backward": ("self", "dLdY"),
    "CrossEntropyLoss.forward": ("self", "Y", "Y_hat"),
    "CrossEntropyLoss.backward": ("self", "Y", "Y_hat"),
    "NeuralNetworkModel.__init__": ("self", "loss", "layer_args", "optimizer_args", "logger", "seed"),
    "NeuralNetworkModel.forward": ("self", "X"),
    "NeuralNetworkModel.backward": ("self", "target", "out"),
    "NeuralNetworkModel.predict": ("self", "X", "Y"),
}

MEMBER_MODULE = {member: module for module, members in STUDENT_MEMBERS.items() for member in members}
MEMBER_MODULE.update({"FullyConnectedLayer.__init__": "layers", "NeuralNetworkModel.__init__": "model"})

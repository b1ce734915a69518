"""Points, thresholds and hand-graded items of the PA3 rubric."""

SECTION_POINTS = {"1.1": 74, "1.2": 30, "2": 44}
AUTOGRADED_SECTIONS = {"numpy": ("1.1", "1.2"), "notebook": ("2",)}

# Section 2, one item per property of the notebook: key -> (number, points, name); grader/notebook/judge.py
# has one function per item. Names may hold {threshold} and {epochs}.
NOTEBOOK_ITEMS = {
    "runs": ("2.1", 6, "PA3.ipynb: runs to the end without errors"),
    "mlp": ("2.2", 6, "PA3.ipynb: MLP only (weights only in nn.Linear, no convolution), read from the exported model"),
    "logits": ("2.3", 3, "PA3.ipynb: no softmax before nn.CrossEntropyLoss"),
    "accuracy": ("2.4", 12, "PA3.ipynb: validation accuracy >= {threshold:.2f}"),
    "epochs": ("2.5", 3, "PA3.ipynb: at least {epochs} epochs recorded in all four history lists"),
    "loss_plot": ("2.6", 7, "PA3.ipynb: plot of training and validation loss per epoch"),
    "accuracy_plot": ("2.7", 7, "PA3.ipynb: plot of training and validation accuracy per epoch"),
}

HAND_GRADED = (
    "Section 1: derivations of the backward passes (PA3_qa.pdf)",
    "Section 1: code organisation and readability",
    "Section 1.2: write-up of the Iris experiments",
    "Section 2: discussion of architecture, hyperparameters and curves",
)

IRIS_MIN_ACCURACY = 0.85
FASHION_MIN_ACCURACY = 0.82
MIN_EPOCHS = 8

HIDDEN = "after_due_date"  # Gradescope shows these after the deadline, never before

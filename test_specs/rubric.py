"""Points, thresholds and hand-graded items of the PA3 rubric."""

SECTION_POINTS = {"1.1": 74, "1.2": 30, "2": 44}
AUTOGRADED_SECTIONS = {"numpy": ("1.1", "1.2"), "notebook": ("2",)}

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

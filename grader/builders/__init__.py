"""Staff-only builders: the student template from the reference (template), the student bundle
(student_bundle) and the Gradescope autograder zip (gradescope_zip). None of it ships to students."""

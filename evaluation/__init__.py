"""`redactor eval`: measures the pipeline on folders with ground truth (annotations.json)."""

"""ID-document redaction: black out every BSN / personal number and every portrait.

The pipeline reads top to bottom in `redactor.pipeline.redact_document`:
load -> normalise -> find (text, MRZ, faces, layout) -> decide -> redact -> record.
"""

__version__ = "0.1.0"

"""ID-document redaction: black out every BSN / personal number and every portrait.

The pipeline reads top to bottom in `redactor.pipeline.redact_document`:
load -> normalise -> find (text, MRZ, faces, layout) -> decide -> redact -> record.
"""

import os as _os

__version__ = "0.1.0"

# onnxruntime (the OCR and face models) otherwise writes a telemetry device id and database under
# ~/.cache when it is imported; nothing may be written outside the configured directories. It
# reads this at import, so it is set here, before any engine loads, in every process.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

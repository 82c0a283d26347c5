"""The bundled judges and judge families, as lazy "module:attr" targets (one line each).

evalsuite.registry registers these at import; importing this module imports nothing else. Third
parties use the entry-point groups evalsuite.judges / evalsuite.families instead.
"""

from __future__ import annotations

JUDGES: dict[str, str] = {
    "ocr": "judges.ocr:OCRJudge",
    "flatbg": "judges.flatbg:FlatBackgroundJudge",
    "fidelity": "judges.fidelity:FidelityJudge",
    "diversity": "judges.diversity:DiversityJudge",
    "vlm-t2i": "judges.vlm.t2i:VLMT2IJudge",
    "vlm-edit": "judges.vlm.edit:VLMEditJudge",
    "vlm-pairwise": "judges.vlm.pairwise:VLMPairwiseJudge",
    "vlm-yesno": "judges.vlm.yesno:VLMYesNoJudge",
    "colorfulness": "judges.colorfulness:ColorfulnessJudge",
    "parity-text": "judges.parity.judge:ParityTextJudge",
}

# judge families: plugins contributing CLI options, a summary section, calibration and console
# lines for their judges (evalsuite.family.JudgeFamily)
FAMILIES: dict[str, str] = {
    "vlm": "judges.vlm.family:VLMFamily",
    "typography": "judges.ocr_family:TypographyFamily",
}

# known-truth suites of `evalsuite validate` (judges/validity/), by judge name
VALIDITY: dict[str, str] = {
    "ocr": "judges.validity.ocr:suite",
    "flatbg": "judges.validity.flatbg:suite",
    "fidelity": "judges.validity.fidelity:suite",
    "diversity": "judges.validity.diversity:suite",
    "colorfulness": "judges.validity.colorfulness:suite",
    "vlm-t2i": "judges.validity.vlm:suite",
    "vlm-edit": "judges.validity.vlm:suite",
    "vlm-pairwise": "judges.validity.vlm:suite",
    "vlm-yesno": "judges.validity.vlm:suite",
}

"""Findings written as an examination's result or a measurement rather than as a vocabulary phrase.

Intake's concept phrases come from the vocabulary (``findings.concept_phrases``); these patterns read
what a physician writes around a concept instead: a grade ('strength 4/5', 'reflexes 1+', 'rated 2 of 4'),
a normal or abnormal result ('sensation intact', 'pulses palpable', 'decreased light touch sensation'),
or a limitation stated in free words ('difficulty getting dressed'). Each table names the concept the
statement documents; ``intake.findings`` attributes region, side, date and negation.
"""

from __future__ import annotations

import re

_GRADE_OF_5 = r"([0-5][+-]?)\s*(?:/|out of|of|over|-)\s*5\b"
_GRADE_OF_5_STRICT = r"([0-5][+-]?)\s*(?:/|out of|over)\s*5\b"
_MOVEMENT = (r"(?:(?:dorsi|plantar ?)?flexion|extension|abduction|adduction|eversion|inversion|pronation|"
             r"supination|(?:internal|external) rotation|grip|EHL|extensor hallucis(?: longus)?|deltoid|biceps|"
             r"triceps|quadriceps|hamstrings?|interossei|"
             r"(?:ankle|great toe|toe|wrist|finger) (?:dorsi)?(?:flexors?|extensors?))")
STRENGTH = re.compile(r"\b(?:strength|motor (?:exam\w*|testing|power)|power)\b[^.;]{0,40}?\b" + _GRADE_OF_5 + "|"
                      r"\b" + _GRADE_OF_5 + r"\s+(?:[\w-]+\s+){0,2}?(?:motor\s+)?strength\b|"
                      r"\b" + _MOVEMENT + r"\b[^.;:,]{0,30}?\b" + _GRADE_OF_5_STRICT, re.I)
"""Motor strength graded on the 0-5 scale: 'strength 4/5', '5/5 EHL strength', 'wrist flexion 4+ out of 5'."""
CUFF = re.compile(r"\b(?:rotator )?cuff\b", re.I)
"""Strength of the rotator cuff tests the tendon, not a nerve."""

_NORMAL_SENSATION = (r"\b(?:sensation|sensory (?:exam\w*|testing))\s+(?:\w+\s+){0,2}?"
                     r"(?:intact|normal|grossly intact|good)|\b(?:intact|normal) sensation|\bno (?:focal )?sensory\b")
_NORMAL_CUFF = (r"\b(?:satisfactory|normal|full) (?:rotator )?cuff strength"
                r"|\b(?:rotator )?cuff strength (?:\w+\s+){0,2}?(?:normal|intact|full|satisfactory)\b")
_NORMAL_STRENGTH = r"\b(?:normal|full) (?:motor )?strength|\bstrength (?:\w+\s+){0,2}?(?:normal|intact|full)\b"
_NORMAL_REFLEXES = (r"\breflexes (?:\w+\s+){0,2}?(?:normal|symmetric\w*|equal|intact|2\+)"
                    r"|\b(?:normal|symmetric\w*|equal) (?:deep tendon )?reflexes")
_NORMAL_PULSES = (r"\bpulses?\b (?:[\w+]+\s+){0,4}?(?:palpable|intact|normal|good|present|symmetric|2\+)"
                  r"|\b(?:palpable|intact|normal|good|symmetric|2\+) (?:\w+\s+){0,2}?pulses?\b"
                  r"|\bneurovascular(?:ly)? intact")
_NORMAL_EDX = (r"\b(?:normal|negative|unremarkable) (?:\w+\s+){0,2}?(?:electrodiagnostic|EMG|electromyograph\w*)"
               r"|\b(?:electrodiagnostic (?:study|studies|testing)|EMG(?:/NC[SV])?|electromyograph\w*) "
               r"(?:\w+\s+){0,6}?(?:was|were) (?:\w+\s+)?(?:normal|negative|unremarkable)\b")
NORMAL_EXAM: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_NORMAL_SENSATION, re.I), "sensory_loss"),
    (re.compile(_NORMAL_CUFF, re.I), "rotator_cuff_test"),
    (re.compile(_NORMAL_STRENGTH, re.I), "motor_weakness"),
    (re.compile(_NORMAL_REFLEXES, re.I), "reflex_change"),
    (re.compile(_NORMAL_PULSES, re.I), "neurovascular_compromise"),
    (re.compile(_NORMAL_EDX, re.I), "electrodiagnostic_radiculopathy"),
]
"""Statements of a normal result and the concept each documents as absent (intact sensation: no sensory loss)."""

_ABNORMAL = r"(?:decreased|diminished|reduced|absent|altered|abnormal\w*|impaired|discrepanc\w*|asymmetr\w*)"
_WEAK_STRENGTH = r"\bstrength (?:was |is |were |are )?(?:decreased|diminished|reduced)\b"
_REFLEX_CHANGE = (r"\breflex(?:es)? (?:was |is |were |are )?(?:decreased|diminished|absent|reduced|asymmetric)\b"
                  r"|\b" + _ABNORMAL + r" (?:\w+\s+){0,3}?reflex(?:es)?\b")
_SENSORY_LOSS = (r"\b" + _ABNORMAL + r" (?:\w+\s+){0,2}?(?:sensation|sensory)\b"
                 r"|\b(?:sensation|sensory) (?:\w+\s+){0,2}?(?:was |is |were |are )"
                 r"(?:decreased|diminished|reduced|absent|altered|impaired)\b")
_JOINT_LINE = r"\btender\w*\s+(?:\w+\s+){0,6}?joint line|\bjoint line\s+(?:\w+\s+){0,2}?tender"
_ROOT_COMPRESSION = (r"\b(?:compress\w*|impinge\w*|mass effect|abut\w*|contact\w*|displac\w*|effac\w*)\b[^.;]{0,60}?"
                     r"\bnerve roots?\b|\bnerve roots? (?:\w+\s+){0,3}?(?:compress|impinge|displace|contact)\w*")
_PAIN_DOWN_A_LIMB = (r"\b(?:going|goes|travel\w*|shoot\w*|extend\w*|spread\w*|runs?|running)\s+(?:\w+\s+){0,3}?"
                     r"(?:down|into)\s+(?:the|his|her|both)\s+(?:(?:right|left|bilateral)\s+)?"
                     r"(?:arms?|legs?|upper extremit\w+|lower extremit\w+|hands?|feet|foot|calf|calves|fingers|toes)\b")
_DAILY_ACTIVITY = (r"\b(?:difficult\w*|unable|inability|trouble|problems?|pain with|limited in)\b"
                   r"(?:\s+[\w'-]+){0,7}?\s+"
                   r"(?:ADL'?s?|activities of daily living|self-care|dressing|dress|bathing|bathe|shower\w*|grooming|"
                   r"hygiene|(?:putting on |getting in and out of )?(?:shirts?|clothes|clothing|socks|shoes))\b")
ABNORMAL_EXAM: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_WEAK_STRENGTH, re.I), "motor_weakness"),
    (re.compile(_REFLEX_CHANGE, re.I), "reflex_change"),
    (re.compile(_SENSORY_LOSS, re.I), "sensory_loss"),
    (re.compile(_JOINT_LINE, re.I), "joint_line_tenderness"),
    (re.compile(_ROOT_COMPRESSION, re.I), "imaging_nerve_root_compression"),
    (re.compile(_PAIN_DOWN_A_LIMB, re.I), "radicular_symptoms"),
    (re.compile(_DAILY_ACTIVITY, re.I), "adl_limitation"),
]
"""Statements of an abnormal result or a limitation written around the concept ('grip strength was decreased',
'pain going down the right leg', 'difficulty getting dressed'); a negation before it in its clause
('unable to detect any decreased sensation') makes it absent."""
PATTERN_SOURCE = {"electrodiagnostic_radiculopathy": "electrodiagnostic",
                  "imaging_nerve_root_compression": "imaging", "adl_limitation": "history",
                  "radicular_symptoms": "history"}
"""The source of a finding stated as a result, where it is not the physical examination."""

NEGATION_BEFORE = re.compile(r"\b(?:no|not|without|denie[sd]|negative for|unable to (?:detect|elicit|find)|"
                             r"cannot (?:detect|elicit|find)|absence of)\b[^,;]*$", re.I)
"""A negation earlier in the same clause (searched up to the statement's start)."""

_REFLEX_GRADE_OF_4 = r"(?<![\w/])([0-4](?:\+{1,2}|-)?)(?:\s*(?:/|of|out of)\s*4\b|(?<=\+))"
_REFLEX = r"(?:deep tendon |tendon )?reflex(?:es)?\b"
REFLEX_GRADE = re.compile(r"\b(?:DTRs?\b\s*)?" + _REFLEX + r"[^.;,]{0,30}?" + _REFLEX_GRADE_OF_4 +
                          "|" + _REFLEX_GRADE_OF_4 + r"\s+(?:[\w-]+\s+){0,3}?" + _REFLEX, re.I)
"""A reflex written with its grade on the 0-4 scale ('1+ Achilles reflex', 'reflexes rated 2 of 4');
a bare number is not a grade unless it carries a '+' or 'of 4'."""
SYMMETRIC = re.compile(r"\b(?:equal|symmetric\w*|bilateral(?:ly)?|both)\b", re.I)
"""Words that say a grade is the same on both sides (a symmetric 1+ is a grade only, not a reflex change)."""

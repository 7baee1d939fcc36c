"""Read an IMR determination letter: its sections, header fields and decided items with their citations.

The structured parts of a letter (header, item titles, decisions, guideline lines) follow the MAXIMUS
template closely, so they are read with regular expressions. Clinical facts come from
:mod:`imr_rules.intake.extract_facts`, from the CLINICAL CASE SUMMARY only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imr_rules.common.diagnostics import InputError
from imr_rules.common.inputs import read_limited
from imr_rules.intake.terms import BodyRegion, Service

SUMMARY_HEADING = "CLINICAL CASE SUMMARY"
ISSUES_HEADING = "IMR ISSUES, DECISIONS AND RATIONALES"
_SUMMARY_BOILERPLATE = re.compile(r"The expert reviewer developed the following clinical case summary.*?records:\s*",
                                  re.S | re.I)
_DATE = r"(\d{1,2}[/-]\d{1,2}[/-]\d{2,4})"


class LetterError(Exception):
    """The file cannot be read as a letter at all (no text, not a letter)."""

    def __init__(self, what: str, hint: str) -> None:
        self.what = what
        self.hint = hint
        super().__init__(what)


@dataclass(frozen=True)
class Span:
    """Where an extracted value comes from: a field path and a character span of the letter text."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Problem:
    """Something in the letter that could not be read soundly (the rest is still extracted)."""

    what: str
    hint: str
    severity: str = "warning"


@dataclass(frozen=True)
class GuidelineRef:
    """One guideline document cited on a guideline line."""

    guideline: str
    section: str | None = None
    pages: str | None = None


@dataclass(frozen=True)
class Citation:
    """A parsed guideline line (claims administrator's or reviewer's)."""

    text: str
    mtus: tuple[GuidelineRef, ...] = ()
    non_mtus: tuple[str, ...] = ()

    @property
    def primary(self) -> GuidelineRef:
        """The guideline the decision is filed under: the first MTUS document, else ODG, else ``other``."""
        if self.mtus:
            return self.mtus[0]
        if any("Official Disability Guidelines" in cite or "ODG" in cite for cite in self.non_mtus):
            return GuidelineRef("odg")
        return GuidelineRef("other")


@dataclass
class LetterItem:
    """One decided item of the IMR ISSUES section."""

    title: str
    decision: str
    span: Span
    service: Service
    body_region: BodyRegion
    claims_administrator: Citation | None = None
    reviewer: Citation | None = None
    visits: int | None = None
    frequency_per_week: int | None = None
    duration_weeks: int | None = None
    quantity: int | None = None
    drug: str | None = None
    service_mapped: bool = True
    region_stated: bool = True


@dataclass
class Header:
    """Header fields of the letter."""

    case_number: str | None = None
    injury_date: dt.date | None = None
    assigned_date: dt.date | None = None
    decision_date: dt.date | None = None
    ur_denial_date: dt.date | None = None
    application_received: dt.date | None = None
    priority: str | None = None
    reviewer_specialty: str | None = None


@dataclass
class Letter:
    """A letter split into its parts."""

    path: str
    text: str
    header: Header
    summary_start: int
    summary_end: int
    items: list[LetterItem]
    spans: list[Span] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The CLINICAL CASE SUMMARY text (offsets into :attr:`text` start at :attr:`summary_start`)."""
        return self.text[self.summary_start:self.summary_end]


MAX_LETTER_BYTES = 20_000_000
"""Largest letter file read (a letter is tens of kilobytes; a PDF with images a few megabytes)."""
MAX_LETTER_CHARS = 500_000
"""Longest letter text accepted (an IMR letter is 10,000-40,000 characters; the text model stops at 1,000,000)."""


class _Collect(logging.Handler):
    """Keeps pypdf's log records (warnings about a damaged file) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _pypdf_messages(notes: list[str]) -> Iterator[None]:
    """While reading a PDF, pypdf's warnings (log records and ``warnings``) go to ``notes``, not to stderr."""
    logger = logging.getLogger("pypdf")
    collect = _Collect()
    logger.addHandler(collect)
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
        notes.extend(collect.messages)
        notes.extend(str(w.message) for w in caught)


def _pdf_text(path: Path, raw: bytes, notes: list[str]) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    with _pypdf_messages(notes):
        try:
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise FileNotDecryptedError("encrypted")
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
        except FileNotDecryptedError:
            raise LetterError("the PDF is encrypted (password protected)",
                              "give an unencrypted copy of the letter, or its text") from None
        except Exception as exc:  # pypdf raises many kinds of error on a damaged file; each is this letter's problem
            raise LetterError(f"cannot read the PDF: {type(exc).__name__}: {exc}",
                              "check that the file is a complete PDF") from None
    if not text.strip():
        raise LetterError("the PDF has no text layer (empty or scanned)",
                          "run OCR on it first, or supply the letter as text") from None
    return text


def read_text(path: Path, notes: list[str] | None = None) -> str:
    """The text of a letter file: PDF through pypdf, anything else as UTF-8 text.

    Bounded: the file must be a regular file of at most ``MAX_LETTER_BYTES``, its text at most
    ``MAX_LETTER_CHARS``. pypdf's warnings about a damaged PDF are added to ``notes`` (never printed).
    """
    try:
        raw = read_limited(path, MAX_LETTER_BYTES, "letter")
    except InputError as exc:
        problem = exc.diagnostics[0]
        raise LetterError(problem.message, problem.hint) from None
    if path.suffix.lower() == ".pdf":
        text = _pdf_text(path, raw, notes if notes is not None else [])
    else:
        try:
            text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            raise LetterError("not UTF-8 text", "give a PDF or a UTF-8 text file") from None
        if not text.strip():
            raise LetterError("the file is empty", "give the letter's PDF or its text")
    if len(text) > MAX_LETTER_CHARS:
        raise LetterError(f"the letter's text is {len(text):,} characters; the limit is {MAX_LETTER_CHARS:,}",
                          "an IMR letter is a few pages; is this the right file?")
    return text


def parse_date(value: str) -> dt.date | None:
    """A date written mm/dd/yyyy, mm-dd-yy and the like; None when it is not a valid date."""
    parts = re.split(r"[/-]", value.strip())
    if len(parts) != 3:
        return None
    month, day, year = (int(p) for p in parts)
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


_HEADER_FIELDS: dict[str, str] = {
    "case_number": r"Case Number:\s*(CM\d{2}-\d{5,8})",
    "injury_date": r"Date of Injury:\s*" + _DATE,
    "assigned_date": r"Date Assigned:\s*" + _DATE,
    "decision_date": r"Decision Date:\s*" + _DATE,
    "ur_denial_date": r"UR Denial Date:\s*" + _DATE,
    "application_received": r"Application\s*Received:\s*" + _DATE,
    "priority": r"Priority:\s*([A-Za-z]+)",
    "reviewer_specialty": r"(?:Certification\(s\)/Specialty:[ \t]*([^\n]+)"
                          r"|Board Certified in ([A-Z][\w ]+?)(?: and|,|\.))",
}


def parse_header(text: str, head_end: int, spans: list[Span]) -> Header:
    """Header fields found before the CLINICAL CASE SUMMARY."""
    header = Header()
    head = text[:head_end]
    for name, pattern in _HEADER_FIELDS.items():
        match = re.search(pattern, head)
        if not match:
            continue
        group = 1 if match.group(1) is not None else 2
        raw = match.group(group).strip()
        value: object = raw
        if name.endswith("_date") or name == "application_received":
            value = parse_date(raw)
            if value is None:
                continue
        setattr(header, name, value)
        spans.append(Span(f"header.{name}", match.start(group), match.start(group) + len(raw), raw))
    return header


_DOCUMENTS: list[tuple[str, str]] = [
    (r"Chronic Pain(?: Medical)? Treatment(?: Guidelines)?", "cpmtg"),
    (r"Opioids? Treatment(?: Guidelines)?", "opioids_2016"),
    (r"Acupuncture(?: Medical)? Treatment(?: Guidelines)?", "acupuncture_2007"),
    (r"Postsurgical Treatment(?: Guidelines)?", "postsurgical_2009"),
    (r"General Approaches", "acoem_2004_general"),
    (r"(?:ACOEM )?(?:Chapter 8 )?Neck and Upper Back Complaints", "acoem_2004_ch8"),
    (r"Shoulder Complaints", "acoem_2004_ch9"),
    (r"Elbow (?:Complaints|Disorders)", "acoem_2007_elbow"),
    (r"Forearm, Wrist,? and Hand Complaints", "acoem_2004_ch11"),
    (r"Low Back Complaints", "acoem_2004_ch12"),
    (r"Knee Complaints", "acoem_2004_ch13"),
    (r"Ankle and Foot Complaints", "acoem_2004_ch14"),
    (r"Stress Related Conditions", "acoem_2004_ch15"),
]
_DOCUMENT_RE = re.compile("|".join(f"(?P<g{i}>{pattern})" for i, (pattern, _) in enumerate(_DOCUMENTS)))


def parse_citation(raw: str) -> Citation:
    """Parse a guideline line: MTUS documents with section(s)/page(s), and non-MTUS citations."""
    text = " ".join(raw.split())
    non_mtus = tuple(m.group(1).strip(" .") for m in re.finditer(r"Non-MTUS Citation\s*(.*?)(?=Decision based on|$)",
                                                                 text))
    mtus_part = ""
    match = re.search(r"Decision based on MTUS(.*?)(?=Decision based on Non-MTUS|$)", text)
    if match:
        mtus_part = match.group(1)
    found = list(_DOCUMENT_RE.finditer(mtus_part))
    refs: list[GuidelineRef] = []
    for index, doc in enumerate(found):
        segment = mtus_part[doc.end(): found[index + 1].start() if index + 1 < len(found) else len(mtus_part)]
        key = _DOCUMENTS[int(next(name for name, value in doc.groupdict().items() if value)[1:])][1]
        year = re.match(r"\s*((?:19|20)\d\d)", segment)
        pages_match = re.search(r"Page\(s\):\s*([\d][\d\-, ]*)", segment)
        pages = pages_match.group(1).strip(" ,") if pages_match else None
        if key == "cpmtg":
            key = "cpmtg_2016" if (year and year.group(1) == "2016") else "cpmtg_2009"
        section_match = re.search(r"Section\(s\):\s*(.*)", segment)
        section = None
        if section_match:
            section = re.sub(r"(,\s*and\s*|,\s*|\.\s*)$", "", section_match.group(1).strip()).strip() or None
            if section and re.fullmatch(r"[\d\-, ]+", section) and pages is None:
                pages, section = section, None
        refs.append(GuidelineRef(key, section, pages))
    return Citation(text=text, mtus=tuple(refs), non_mtus=non_mtus)


# Drug names (generic and brand) by medication class, in the order item titles are matched: a title
# naming a muscle relaxant and an NSAID is filed under the first. Also the lexicon of medications
# read from a case summary (extract_facts).
DRUG_NAMES: dict[Service, tuple[str, ...]] = {
    Service.ppi: ("omeprazole", "pantoprazole", "lansoprazole", "esomeprazole", "prilosec", "protonix", "nexium",
                  "dexilant", "prevacid", "famotidine", "pepcid"),
    Service.muscle_relaxant: ("cyclobenzaprine", "flexeril", "norflex", "orphenadrine", "tizanidine", "zanaflex",
                              "methocarbamol", "robaxin", "baclofen", "carisoprodol", "soma", "metaxalone",
                              "skelaxin", "chlorzoxazone", "lorzone", "fexmid", "amrix"),
    Service.opioid: ("tramadol", "ultram", "ultracet", "hydrocodone", "norco", "vicodin", "oxycodone", "percocet",
                     "oxycontin", "morphine", "ms contin", "codeine", "tylenol #3", "tapentadol", "nucynta",
                     "hydromorphone", "dilaudid", "fentanyl", "methadone", "buprenorphine", "butrans", "trezix",
                     "oxymorphone", "opana", "hysingla", "zohydro"),
    Service.nsaid: ("ibuprofen", "naproxen", "anaprox", "naprosyn", "motrin", "advil", "aleve", "diclofenac",
                    "voltaren", "meloxicam", "mobic", "celecoxib", "celebrex", "etodolac", "lodine", "nabumetone",
                    "relafen", "ketorolac", "toradol", "indomethacin", "ketoprofen", "fenoprofen", "nalfon"),
    Service.anticonvulsant: ("gabapentin", "neurontin", "gralise", "pregabalin", "lyrica", "topiramate", "topamax",
                             "carbamazepine", "tegretol"),
    Service.antidepressant: ("amitriptyline", "elavil", "nortriptyline", "pamelor", "duloxetine", "cymbalta",
                             "venlafaxine", "effexor", "trazodone", "sertraline", "zoloft", "fluoxetine", "prozac",
                             "desipramine", "bupropion", "wellbutrin"),
    Service.sleep_aid: ("zolpidem", "ambien", "eszopiclone", "lunesta", "zaleplon", "sonata"),
    Service.benzodiazepine: ("alprazolam", "xanax", "lorazepam", "ativan", "diazepam", "valium", "clonazepam",
                             "klonopin", "temazepam", "restoril"),
}
# Class words that file an item title under the class (not used to find medications in a summary).
_CLASS_WORDS: dict[Service, tuple[str, ...]] = {
    Service.ppi: ("ppi",), Service.opioid: ("opioids?",), Service.nsaid: ("nsaids?",),
    Service.antidepressant: ("antidepress\\w*",), Service.sleep_aid: ("sleep aid",),
}


# Service keywords, checked in order; the first that matches the item title wins.
_SERVICES: list[tuple[str, Service]] = [
    (r"assistant surgeon|surgical assist|\bassistant\b|\bpa assist|^assist\b", Service.surgical_assistant),
    (r"\d%|cream|ointment|\bgel\b|topical|compound|flector|terocin|lidoderm|lidopro|salonpas|transdermal"
     r"|lidocaine patch|capsaicin", Service.topical_analgesic),
    *[("|".join([rf"\b{re.escape(name)}" for name in names] + [rf"\b{w}\b" for w in _CLASS_WORDS.get(service, ())]),
       service) for service, names in DRUG_NAMES.items()],
    (r"fioricet|butalbital|ondansetron|zofran", Service.other_medication),
    (r"\blabs?\b|blood|\bcbc\b|\bbmp\b|\bcmp\b|pt/ptt|\bekg\b|\becg\b|urine|\bua\b|urinalysis|drug screen"
     r"|\budt\b|chest x-?ray", Service.lab_test),
    (r"\bmri\b|magnetic resonance", Service.imaging_mri),
    (r"\bct\b|computed tomography|cat scan", Service.imaging_ct),
    (r"x-?rays?\b|radiograph", Service.imaging_xray),
    (r"\bemg\b|\bncv\b|\bncs\b|nerve conduction|electromyogra|electrodiagnos|\bssep\b", Service.electrodiagnostic),
    (r"\btens\b|transcutaneous|h-wave|interferential|muscle stim|\bems\b|electrical stim|e-stim", Service.tens),
    (r"acupuncture", Service.acupuncture),
    (r"chiro|manipulation|manual therapy", Service.chiropractic),
    (r"aqua|pool therapy", Service.aquatic_therapy),
    (r"massage", Service.massage),
    (r"ultrasound", Service.therapeutic_ultrasound),
    (r"infrared|thermograph", Service.infrared_therapy),
    (r"traction", Service.traction),
    (r"shock ?wave|eswt", Service.shockwave_therapy),
    (r"biofeedback", Service.biofeedback),
    (r"sling|brace|splint|pillow|\bcane\b|crutch|walker|wheelchair|\bunit\b|orthotic|support|cushion|mattress"
     r"|\bdme\b|equipment|\bwraps?\b|garment|\bbelt\b|stocking|\bpad\b|commode|chair|scooter", Service.dme),
    (r"\bhot\b|\bcold\b|\bheat\b|\bice\b|cryo", Service.heat_cold_therapy),
    (r"occupational therapy", Service.occupational_therapy),
    (r"physical therapy|\bpt\b|therapy sessions|therapeutic exercise|post-?op(?:erative)? therapy",
     Service.physical_therapy),
    (r"epidural|\besi\b", Service.injection_epidural),
    (r"facet|medial branch", Service.injection_facet),
    (r"trigger point", Service.injection_trigger_point),
    (r"inject|\bprp\b|platelet", Service.injection_other),
    (r"home health|\brn\b|nurs|home aide", Service.home_health),
    (r"partial hospitali", Service.partial_hospitalization),
    (r"functional capacity|\bfce\b", Service.functional_capacity_evaluation),
    (r"functional restoration|\bfrp\b", Service.functional_restoration),
    (r"work (?:conditioning|hardening)", Service.work_conditioning),
    (r"psych.*(?:eval|consult)", Service.psych_evaluation),
    (r"psychotherap|cognitive behavio|\bcbt\b", Service.psychotherapy),
    (r"surgery|arthroscop|repair|fusion|discectomy|laminectomy|release|reconstruction|tenodesis|arthroplasty"
     r"|decompression|excision|meniscectomy", Service.surgery),
    (r"referral|consult|\btoc\b|transfer of care", Service.referral),
    (r"office visit|follow[- ]?up|\bexam\b|evaluation|re-?eval|clearance", Service.office_visit),
    (r"\d+\s*mg\b|tablets?|capsules?|#\s*\d+", Service.other_medication),
]
_MEDICATIONS = {Service.opioid, Service.nsaid, Service.ppi, Service.muscle_relaxant, Service.anticonvulsant,
                Service.antidepressant, Service.sleep_aid, Service.benzodiazepine, Service.other_medication,
                Service.lab_test}

_REGIONS: list[tuple[str, BodyRegion]] = [
    (r"cervical|\bneck\b|c-spine|\bc[2-7]\b", BodyRegion.cervical),
    (r"thoracic|t-spine|mid back|upper back", BodyRegion.thoracic),
    (r"lumbar|low(?:er)? back|l-spine|lumbosacral|\bback\b|sacroiliac|\bl[1-5]\b|\bs1\b",
     BodyRegion.lumbar),
    (r"shoulder|rotator|clavic|scapul|labr|biceps", BodyRegion.shoulder),
    (r"elbow|forearm|epicondyl|radial head", BodyRegion.elbow),
    (r"wrist|hand|finger|thumb|carpal", BodyRegion.wrist_hand),
    (r"\bhip\b|pelvis|groin", BodyRegion.hip),
    (r"knee|patell|menisc", BodyRegion.knee),
    (r"ankle|foot|feet|heel|toe", BodyRegion.ankle_foot),
    (r"\bhead\b|brain|skull", BodyRegion.head),
    (r"chest", BodyRegion.chest),
    (r"upper extremit|\barms?\b", BodyRegion.upper_extremity),
    (r"lower extremit|\blegs?\b", BodyRegion.lower_extremity),
]
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "sixteen": 16, "eighteen": 18,
                 "twenty-four": 24, "twenty": 20, "once": 1, "twice": 2}
_NUM = r"(\d+|" + "|".join(word for word in _NUMBER_WORDS if word not in ("once", "twice")) + r")\b"


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def map_service(title: str) -> Service | None:
    """The vocabulary service an item title names, or None."""
    lowered = re.sub(r"^(?:associated surgical service|retrospective)[:\s]+", "", title.lower())
    for pattern, service in _SERVICES:
        if re.search(pattern, lowered):
            return service
    return None


def map_regions(text: str) -> list[BodyRegion]:
    """Every body region named in a text, in vocabulary order."""
    lowered = text.lower()
    return [region for pattern, region in _REGIONS if re.search(pattern, lowered)]


def parse_quantities(title: str) -> dict[str, int]:
    """Frequency per week, duration in weeks, visits and units stated in an item title."""
    lowered = title.lower()
    found: dict[str, int] = {}
    freq = re.search(_NUM + r"(?:\s*-\s*\d+)?\s*(?:x|times|visits?)\s*(?:a|per|/)?\s*(?:a\s+)?week", lowered) or \
        re.search(r"\b(once|twice)\s+(?:a|per)\s+week", lowered)
    if freq:
        found["frequency_per_week"] = _number(freq.group(1))
    weeks = re.search(r"(?:for|x|times)\s*" + _NUM + r"\s*weeks?", lowered)
    if weeks:
        found["duration_weeks"] = _number(weeks.group(1))
    short = re.search(r"\b(\d{1,2})\s*(?:x|times)\s*(\d{1,2})\b(?!\s*(?:mg|weeks?|gm|%))", lowered)
    if short and "frequency_per_week" not in found and "duration_weeks" not in found:
        found["frequency_per_week"], found["duration_weeks"] = int(short.group(1)), int(short.group(2))
    total = re.search(r"(?:visits|sessions|treatments)\s*\((\d+)\)", lowered)
    counts = [_number(m.group(1)) for m in re.finditer(
        r"\b" + _NUM + r"(?!\s*-\s*\d)\s*(?:\(\d+\)\s*)?(?:[\w\-]+\s+){0,3}?(?:visits|sessions|treatments)\b"
        r"(?!\s*(?:a|per|/)\s*week)", lowered)]
    if total or counts:  # 'two sessions for the wrist and eight sessions for the hand' asks for ten
        found["visits"] = int(total.group(1)) if total else sum(counts)
    quantity = re.search(r"#\s*(\d+)|\bqty:?\s*(\d+)|quantity:?\s*(\d+)", lowered)
    if quantity:
        found["quantity"] = int(next(g for g in quantity.groups() if g))
    limits = {"frequency_per_week": 14, "duration_weeks": 104, "visits": 200, "quantity": 100000}
    return {key: value for key, value in found.items() if 1 <= value <= limits[key]}


_DECISION_RE = re.compile(r":\s*(Upheld|Overturned)[ \t]*(?:\r?\n|$)")
_CITATION_RE = re.compile(r"Claims Administrator guideline:(?P<ca>.*?)MAXIMUS guideline:(?P<mx>.*?)"
                          r"(?:Decision rationale:|$)", re.S)


def _title_start(text: str, lower: int, decision_at: int) -> int:
    """Where the item title before a decision begins: after the last blank line (or a partial-cert lead-in)."""
    chunk = text[lower:decision_at]
    start = lower
    for blank in re.finditer(r"\n[ \t]*\n", chunk):
        if chunk[blank.end():].strip():
            start = lower + blank.end()
    partials = list(re.finditer(r"original request,\s*", text[start:decision_at]))
    if partials:
        start += partials[-1].end()
    while start < decision_at and text[start].isspace():
        start += 1
    return start


def parse_items(text: str, issues_start: int, diagnoses_regions: list[BodyRegion],
                problems: list[Problem]) -> list[LetterItem]:
    """Every decided item of the IMR ISSUES section, with its citations and vocabulary mapping."""
    body_start = issues_start
    lead = re.search(r"set forth below:\s*", text[issues_start:])
    if lead:
        body_start = issues_start + lead.end()
    matches = list(_DECISION_RE.finditer(text, body_start))
    items: list[LetterItem] = []
    previous_end = body_start
    for index, match in enumerate(matches):
        start = _title_start(text, previous_end, match.start())
        raw_title = text[start:match.start()]
        title = " ".join(raw_title.split())
        title = re.sub(r"\s+is$", "", title)
        block_end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        block = text[match.end():block_end]
        citation = _CITATION_RE.search(block)
        number = index + 1
        if citation is None:
            problems.append(Problem(f"item {number} ({title}): no guideline lines after the decision",
                                    "the letter may be truncated; the decision is kept, the citation left out"))
        service = map_service(title)
        regions = map_regions(title)
        item = LetterItem(
            title=title, decision=match.group(1), span=Span(f"requested_items[{index}]", start, match.end(),
                                                            text[start:match.end()].strip()),
            service=service or Service.other, body_region=BodyRegion.multiple,
            claims_administrator=parse_citation(citation.group("ca")) if citation else None,
            reviewer=parse_citation(citation.group("mx")) if citation else None,
            service_mapped=service is not None)
        if service is None:
            problems.append(Problem(f"item {number} ({title}): the service is not in the vocabulary",
                                    "filed as service 'other'; add a keyword to letters._SERVICES if it recurs"))
        if len(regions) == 1:
            item.body_region = regions[0]
        elif len(regions) > 1:
            item.body_region = BodyRegion.multiple
        elif service in _MEDICATIONS:
            item.body_region = BodyRegion.systemic
        else:
            item.region_stated = False
            distinct = sorted(set(diagnoses_regions))
            item.body_region = distinct[0] if len(distinct) == 1 else BodyRegion.multiple
        for key, value in parse_quantities(title).items():
            setattr(item, key, value)
        if service in _MEDICATIONS and service != Service.lab_test:
            drug = re.match(r"[A-Za-z][\w\- ]*?(?:\s+[\d.]+\s*(?:mg|mcg|%)\S*)?(?=\s*#|\s*$|,|\s+\d)", title)
            item.drug = (drug.group(0) if drug else title)[:80]
        items.append(item)
        previous_end = block_end if citation is None else match.end() + citation.end()
    return items


def split_letter(path: str, text: str) -> tuple[int, int, int]:
    """Offsets of the summary start, summary end and issues start; raises LetterError when not a letter."""
    summary_at = text.find(SUMMARY_HEADING)
    issues_at = text.find(ISSUES_HEADING)
    if summary_at < 0 and issues_at < 0:
        raise LetterError("not an IMR determination letter (no CLINICAL CASE SUMMARY, no IMR ISSUES section)",
                          "give a DWC IMR final determination letter")
    if issues_at < 0:
        raise LetterError("truncated letter: no IMR ISSUES, DECISIONS AND RATIONALES section",
                          "the decisions cannot be read; supply the complete letter")
    if summary_at < 0 or summary_at > issues_at:
        return issues_at, issues_at, issues_at
    start = summary_at + len(SUMMARY_HEADING)
    boiler = _SUMMARY_BOILERPLATE.match(text, start) or re.compile(r"\s*").match(text, start)
    if boiler is not None:
        start = max(start, boiler.end())
    return start, issues_at, issues_at + len(ISSUES_HEADING)


def parse_letter(path: str, text: str, diagnoses_regions: list[BodyRegion] | None = None) -> Letter:
    """Split a letter's text and read its header and items; raise LetterError when nothing can be read."""
    summary_start, summary_end, issues_start = split_letter(path, text)
    spans: list[Span] = []
    problems: list[Problem] = []
    if summary_start == summary_end:
        problems.append(Problem("no CLINICAL CASE SUMMARY section", "no clinical facts are extracted"))
    header = parse_header(text, summary_start, spans)
    items = parse_items(text, issues_start, diagnoses_regions or [], problems)
    if not items:
        raise LetterError("no decided item (no 'title: Upheld|Overturned' line) in the IMR ISSUES section",
                          "the letter may be truncated; supply the complete letter")
    return Letter(path=path, text=text, header=header, summary_start=summary_start, summary_end=summary_end,
                  items=items, spans=spans, problems=problems)

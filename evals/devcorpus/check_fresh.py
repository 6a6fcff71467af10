#!/usr/bin/env python
"""Check qa_fresh.jsonl against the corpus documents.

For every answerable case, each fact and the evidence string must occur in the
extracted text of the case's document (``doc``). Matching is done on the raw
extracted text and on a whitespace-normalised copy (line breaks and spaces
removed), because PDF extraction breaks lines mid-sentence. Anything that is
missing is printed (a fact found only in another corpus document is a warning,
so cross-document questions are allowed); evidence that only matches after normalisation (i.e. it
crosses a line break in the extracted text) is reported as a warning.

Also checks ids, schema keys, evidence length (8-30 chars), that unanswerable
cases carry no facts/evidence, and prints counts per category.

Run with:  /work/main/.venv/bin/python /work/main/evals/devcorpus/check_fresh.py
Exit status is 1 if any error was found.
"""

import collections
import html.parser
import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
CORPUS_DIRS = [HERE / "corpus", HERE.parent / "corpus"]  # second one may not exist
QA_FILE = HERE / "qa_fresh.jsonl"
SKIP = {"domain_terms.txt"}  # tokenizer dictionary, not a policy document
KEYS = ["id", "doc", "category", "question", "answerable", "facts", "evidence"]


class _HTMLText(html.parser.HTMLParser):
    """Visible text of an HTML page: drops <script>/<style>, keeps text nodes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def extract(path: pathlib.Path) -> str:
    suf = path.suffix.lower()
    if suf in (".txt", ".md"):
        return path.read_text(encoding="utf-8")
    if suf in (".html", ".htm"):
        p = _HTMLText()
        p.feed(path.read_text(encoding="utf-8"))
        return "".join(p.parts)
    if suf == ".pdf":
        import pypdf

        return "\n".join(pg.extract_text() or "" for pg in pypdf.PdfReader(str(path)).pages)
    if suf == ".docx":
        import docx

        d = docx.Document(str(path))
        out = [para.text for para in d.paragraphs]
        for t in d.tables:
            for row in t.rows:
                out.append(" | ".join(c.text for c in row.cells))
                out.extend(c.text for c in row.cells)
        return "\n".join(out)
    raise ValueError(f"unsupported format: {path}")


def norm(s: str) -> str:
    return re.sub(r"[\s\u00a0\u3000]+", "", s)


def main() -> int:
    docs = {}
    for d in CORPUS_DIRS:
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if p.is_file() and p.name not in SKIP:
                    docs[p.name] = extract(p)
    ndocs = {k: norm(v) for k, v in docs.items()}

    errors, warnings = [], []
    cases = []
    for ln, line in enumerate(QA_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            cases.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"line {ln}: bad JSON: {e}")

    ids = [c.get("id") for c in cases]
    expected = [f"fresh-{i:03d}" for i in range(1, 61)]
    if ids != expected:
        errors.append(f"ids are not fresh-001..fresh-060 in order (got {len(ids)} cases)")
    for dup, n in collections.Counter(ids).items():
        if n > 1:
            errors.append(f"duplicate id {dup}")

    for c in cases:
        cid = c.get("id")
        if list(c.keys()) != KEYS:
            errors.append(f"{cid}: keys {list(c.keys())} != {KEYS}")
        if not isinstance(c.get("answerable"), bool):
            errors.append(f"{cid}: answerable must be a bool")
        if not isinstance(c.get("facts"), list) or not isinstance(c.get("evidence"), str):
            errors.append(f"{cid}: facts must be a list and evidence a string")
            continue
        if not c.get("question", "").strip():
            errors.append(f"{cid}: empty question")

        if not c["answerable"]:
            if c["facts"] or c["evidence"]:
                errors.append(f"{cid}: unanswerable case must have empty facts/evidence")
            if c["doc"] and c["doc"] not in docs:
                errors.append(f"{cid}: doc {c['doc']!r} not in corpus")
            continue

        doc = c.get("doc")
        if doc not in docs:
            errors.append(f"{cid}: doc {doc!r} not in corpus")
            continue
        raw, nt = docs[doc], ndocs[doc]
        ev = c["evidence"]
        if not 8 <= len(ev) <= 30:
            errors.append(f"{cid}: evidence length {len(ev)} not in 8..30: {ev!r}")
        if not c["facts"]:
            errors.append(f"{cid}: answerable case without facts")
        for kind, s in [("evidence", ev)] + [("fact", f) for f in c["facts"]]:
            if s in raw:
                continue
            if norm(s) and norm(s) in nt:
                if kind == "evidence":
                    warnings.append(
                        f"{cid}: evidence matches only after removing line breaks/spaces: {s!r}"
                    )
                continue
            others = [k for k, t in ndocs.items() if norm(s) in t]
            if kind == "fact" and others:
                # allowed: a cross-document question may draw a fact from a second document
                warnings.append(f"{cid}: fact {s!r} not in {doc} but in {', '.join(others)}")
                continue
            where = f" (found in: {', '.join(others)})" if others else " (in no document)"
            errors.append(f"{cid}: {kind} not in {doc}: {s!r}{where}")

    cats = collections.Counter(c.get("category") for c in cases)
    ans = collections.Counter(bool(c.get("answerable")) for c in cases)
    print(f"{len(cases)} cases: {ans[True]} answerable, {ans[False]} unanswerable")
    for k, n in sorted(cats.items(), key=lambda kv: -kv[1]):
        print(f"  {k}: {n}")
    for w in warnings:
        print("WARN ", w)
    for e in errors:
        print("ERROR", e)
    if len(cases) != 60 or ans[True] != 40 or ans[False] != 20:
        print("ERROR expected 60 cases = 40 answerable + 20 unanswerable")
        errors.append("counts")
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Verify the crosscity corpus and qa_crosscity.jsonl.

Usage: /work/main/.venv/bin/python check.py
Checks:
  * every corpus file opens and yields text; body length 1,500-3,500 non-space chars
  * every jsonl line is valid JSON with keys in the exact required order
  * ids unique and sequential-looking (cc-NNN), categories valid
  * answerable items: 1-3 facts, each found verbatim (whitespace ignored) in the
    named document's extracted text; evidence 10-40 chars, found likewise
  * unanswerable items: answerable false, facts [], evidence ""
  * no question copies more than 10 consecutive characters of any document
Exit code 1 on any failure.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QA = HERE / "qa_crosscity.jsonl"
KEYS = ["id", "doc", "category", "question", "answerable", "facts", "evidence"]
CATS = {"amount", "rate", "deadline", "condition", "materials", "list", "table",
        "faq", "metadata", "target", "definition", "multipart", "unanswerable"}
MAX_COPY = 10


def extract(path: Path) -> str:
    ext = path.suffix.lower()
    if ext == ".docx":
        import docx
        d = docx.Document(str(path))
        parts = [p.text for p in d.paragraphs]
        for t in d.tables:
            for row in t.rows:
                parts.extend(c.text for c in row.cells)
        return "\n".join(parts)
    if ext == ".pdf":
        import pypdf
        return "\n".join(pg.extract_text() or "" for pg in pypdf.PdfReader(str(path)).pages)
    if ext in (".html", ".htm"):
        from bs4 import BeautifulSoup
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for t in soup(["script", "style"]):
            t.decompose()
        return soup.get_text("\n")
    return path.read_text(encoding="utf-8")


def body_text(path: Path, full: str) -> str:
    """Text used for the length check (article body only for HTML)."""
    if path.suffix.lower() in (".html", ".htm"):
        from bs4 import BeautifulSoup
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        art = soup.select_one(".art-content")
        return art.get_text("\n") if art else full
    return full


def norm(s: str) -> str:
    return re.sub(r"\s+", "", s)


def longest_common(a: str, b: str) -> int:
    """Length of longest common substring of a (short) in b."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def main() -> int:
    errors = []
    texts = {}
    for p in sorted(CORPUS.iterdir()):
        try:
            t = extract(p)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{p.name}: cannot open/extract: {e}")
            continue
        texts[p.name] = norm(t)
        n = len(norm(body_text(p, t)))
        status = "ok" if 1500 <= n <= 3500 else "OUT OF RANGE"
        print(f"{p.name:28s} {p.stat().st_size:7d} bytes  body {n:5d} chars  {status}")
        if status != "ok":
            errors.append(f"{p.name}: body length {n} not in 1500-3500")
    if len(texts) != 5:
        errors.append(f"expected 5 corpus files, found {len(texts)}")

    ids = set()
    cats = Counter()
    lines = QA.read_text(encoding="utf-8").splitlines()
    for ln, line in enumerate(lines, 1):
        where = f"line {ln}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: invalid JSON: {e}")
            continue
        if list(obj.keys()) != KEYS:
            errors.append(f"{where}: key order {list(obj.keys())}")
            continue
        qid = obj["id"]
        where = f"{qid}"
        if not re.fullmatch(r"cc-\d{3}", qid):
            errors.append(f"{where}: bad id format")
        if qid in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(qid)
        cat = obj["category"]
        cats[cat] += 1
        if cat not in CATS:
            errors.append(f"{where}: bad category {cat}")
        if obj["doc"] not in texts:
            errors.append(f"{where}: doc {obj['doc']} not in corpus")
        q = obj["question"]
        if not isinstance(q, str) or not q.strip():
            errors.append(f"{where}: empty question")
        qn = norm(q)
        for name, t in texts.items():
            lc = longest_common(qn, t)
            if lc > MAX_COPY:
                errors.append(f"{where}: question copies {lc} consecutive chars of {name}")
        if cat == "unanswerable" or obj["answerable"] is False:
            if cat != "unanswerable" or obj["answerable"] is not False:
                errors.append(f"{where}: category/answerable mismatch")
            if obj["facts"] != [] or obj["evidence"] != "":
                errors.append(f"{where}: unanswerable must have facts [] and evidence ''")
            continue
        if obj["answerable"] is not True:
            errors.append(f"{where}: answerable must be true/false")
        text = texts.get(obj["doc"], "")
        facts = obj["facts"]
        if not (isinstance(facts, list) and 1 <= len(facts) <= 3):
            errors.append(f"{where}: facts must be a list of 1-3 strings")
            facts = facts if isinstance(facts, list) else []
        for f in facts:
            if norm(f) not in text:
                errors.append(f"{where}: fact not found in {obj['doc']}: {f!r}")
        ev = obj["evidence"]
        if not (10 <= len(norm(ev)) <= 40):
            errors.append(f"{where}: evidence length {len(norm(ev))} not in 10-40")
        if norm(ev) not in text:
            errors.append(f"{where}: evidence not found in {obj['doc']}: {ev!r}")

    print(f"\n{len(lines)} questions; categories: " +
          ", ".join(f"{c} {n}" for c, n in sorted(cats.items())))
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  -", e)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

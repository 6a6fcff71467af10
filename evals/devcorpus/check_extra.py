"""Check qa_extra.jsonl against the dev corpus (same text rules as devcorpus/.build/verify.py).

Run: DEVCORPUS=<the original devcorpus folder> .venv/bin/python evals/devcorpus/check_extra.py

An authoring tool for the eval set, not part of the product or of `make test`: it uses the
devcorpus's own extraction scripts (``$DEVCORPUS/.build``) so that the evidence is checked against
the documents independently of the product's loaders.
"""

import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

if not os.environ.get("DEVCORPUS"):
    sys.exit("set DEVCORPUS to the original devcorpus folder (with its .build/ scripts)")
CORPUS = Path(os.environ["DEVCORPUS"])
sys.path.insert(0, str(CORPUS / ".build"))
from extract import pdf_pages, text_for  # noqa: E402

HERE = Path(__file__).resolve().parent
QA = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "qa_extra.jsonl"
CATS = set(
    "amount condition deadline materials procedure definition metadata supersession year "
    "list table faq followup unanswerable".split()
)
REQUIRED = {"id", "doc", "category", "question", "answerable", "facts", "evidence"}
problems = []


def fail(msg):
    problems.append(msg)
    print("FAIL:", msg)


texts = {}
pdf_page_texts = {}
for p in sorted(CORPUS.iterdir()):
    if p.name in ("dev_qa.jsonl", "README.md") or p.name.startswith("."):
        continue
    texts[p.name], _ = text_for(p)
    if p.suffix.lower() == ".pdf":
        pdf_page_texts[p.name] = [t.replace("\r", "").replace("\n", "") for t in pdf_pages(p)]

dev_questions = {
    json.loads(line)["question"]
    for line in (CORPUS / "dev_qa.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
}

records = []
for n, line in enumerate(QA.read_text(encoding="utf-8").splitlines(), 1):
    if not line.strip():
        continue
    try:
        records.append(json.loads(line))
    except json.JSONDecodeError as e:
        fail(f"line {n}: bad JSON: {e}")

ids = [r.get("id") for r in records]
for i, c in Counter(ids).items():
    if c > 1:
        fail(f"duplicate id {i}")
for q, c in Counter(r.get("question") for r in records).items():
    if c > 1:
        fail(f"duplicate question {q!r}")

for r in records:
    rid = r.get("id")
    keys = set(r)
    if not REQUIRED <= keys or keys - REQUIRED - {"history"}:
        fail(f"{rid}: keys {sorted(keys)}")
        continue
    if not re.fullmatch(r"extra-\d{3}", rid or ""):
        fail(f"{rid}: bad id")
    if r["category"] not in CATS:
        fail(f"{rid}: category {r['category']!r}")
    if r["question"] in dev_questions:
        fail(f"{rid}: question duplicates dev_qa.jsonl")
    if not isinstance(r["question"], str) or not r["question"].strip():
        fail(f"{rid}: empty question")
    if r["doc"] not in texts:
        fail(f"{rid}: unknown doc {r['doc']!r}")
        continue
    text = texts[r["doc"]]
    if not isinstance(r["answerable"], bool) or not isinstance(r["facts"], list):
        fail(f"{rid}: answerable must be bool, facts a list")
        continue
    # answerable <=> facts non-empty <=> category != unanswerable
    if r["answerable"] != bool(r["facts"]):
        fail(f"{rid}: answerable={r['answerable']} but facts={r['facts']}")
    if r["answerable"] == (r["category"] == "unanswerable"):
        fail(f"{rid}: answerable={r['answerable']} inconsistent with category {r['category']}")
    # history present iff followup
    if ("history" in r) != (r["category"] == "followup"):
        fail(f"{rid}: history present iff followup")
    if "history" in r and not (
        isinstance(r["history"], list)
        and r["history"]
        and all(
            isinstance(t, dict)
            and set(t) == {"role", "content"}
            and t["role"] in ("user", "assistant")
            and isinstance(t["content"], str)
            and t["content"]
            for t in r["history"]
        )
    ):
        fail(f"{rid}: malformed history")
    if r["answerable"]:
        ev = r["evidence"]
        if not ev:
            fail(f"{rid}: answerable needs evidence")
        elif ev not in text:
            fail(f"{rid}: evidence not in {r['doc']}: {ev!r}")
        if r["doc"].endswith((".html", ".txt", ".md")) and "\n" in ev:
            fail(f"{rid}: evidence spans lines")
        if (
            r["doc"] in pdf_page_texts
            and ev
            and not any(ev in pg for pg in pdf_page_texts[r["doc"]])
        ):
            fail(f"{rid}: PDF evidence not within a single page")
        for fact in r["facts"]:
            if not isinstance(fact, str) or not fact:
                fail(f"{rid}: bad fact {fact!r}")
                continue
            alts = fact.split("|")
            if not any(alt and alt in text for alt in alts):
                fail(f"{rid}: fact {fact!r} not in {r['doc']}")
            missing = [alt for alt in alts if alt not in text]
            if missing and len(alts) > 1:
                print(f"note: {rid}: alternative(s) {missing} of {fact!r} not in document text")
    else:
        if r["evidence"] != "":
            fail(f"{rid}: unanswerable must have empty evidence")

cats = Counter(r.get("category") for r in records)
ans = sum(bool(r.get("answerable")) for r in records)
print("records:", len(records), "answerable:", ans, "unanswerable:", len(records) - ans)
print("by category:", dict(sorted(cats.items())))
print("by doc:", dict(Counter(r.get("doc") for r in records)))
missing_docs = set(texts) - {r.get("doc") for r in records}
if missing_docs:
    fail(f"documents with no question: {sorted(missing_docs)}")
if len(records) < 48:
    fail(f"only {len(records)} records (need >= 48)")
print("OK" if not problems else f"{len(problems)} PROBLEM(S)")
sys.exit(1 if problems else 0)

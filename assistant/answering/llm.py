"""Generative answers through any OpenAI-compatible chat API, verified before anyone sees them.

The model writes from the retrieved passages only (see ``prompts``). Every answer is then checked:
each [n] names a passage that was given, at least one is cited, and every number or amount it
states (148, 25亿元, 11%, 百分之十一, 五百家) appears in a passage cited for it. An answer that
fails, or a model that errors, times out or says nothing, yields the extractive answer with a
note saying why — never an unverified number. Without evidence the model is not called at all.

    Generator (Protocol)   condense · answer · stream
    └── LLMGenerator       langchain-openai ``ChatOpenAI`` (DeepSeek, Qwen, Ollama, vLLM …)
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from ..config import MAX_QUESTION_CHARS, Settings
from ..models import Answer, Citation, StreamEvent
from ..retrieve import Scored
from ..text import chinese_number, sentences
from .extractive import abstention
from .prompts import ABSTAIN_PHRASE, answer_messages, condense_messages
from .query import analyse, content_text
from .query import condense as rule_condense

log = logging.getLogger(__name__)

FALLBACK = "已改用原文摘录"


class Generator(Protocol):
    """What the service needs from a generative answerer."""

    def condense(self, question: str, history: list[dict] | None) -> str: ...

    def answer(self, query_text: str, hits: list[Scored], extractive: Answer) -> Answer: ...

    def stream(
        self, query_text: str, hits: list[Scored], extractive: Answer
    ) -> Iterator[StreamEvent]: ...


def get_generator(settings: Settings) -> Generator | None:
    """The configured generator, or ``None`` for extractive-only operation."""
    return LLMGenerator(settings) if settings.llm_enabled else None


# -- numbers ------------------------------------------------------------------------------------

_CN_CHARS = "零〇一二两三四五六七八九十百千万亿"
_MAGNITUDE = {"万": Decimal(10) ** 4, "亿": Decimal(10) ** 8, "万亿": Decimal(10) ** 12}
# Units after which a Chinese numeral is a quantity (一流, 十四五 and 统一 are words, not numbers).
_UNIT = (
    r"(?:%|‰|元|人次|家|个|项|件|名|人|场|次|所|台|套|篇|平方米|亩|年|倍|条|种|类|批|支|位|"
    r"天|周|月|日|公里|米|吨|户|座|期|款|门|部|岗)"
)
_NUMBER = re.compile(
    r"(?P<pct>百分之)?"
    r"(?:(?P<ar>\d+(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)\s*(?P<mag>万亿|亿|万)?"
    rf"|(?P<cn>[{_CN_CHARS}]*[一二两三四五六七八九十百千][{_CN_CHARS}]*))"
    rf"(?P<unit>\s*{_UNIT})?"
)
_LIST_PREFIX = re.compile(r"(?m)^\s*(?:\d{1,2}[.、)）]|[（(]\d{1,2}[)）]|[-*•·])\s*")


@dataclass(frozen=True)
class Number:
    surface: str  # as written: "25亿元", "百分之十一"
    value: Decimal  # scaled by 万/亿: 25亿 → 2500000000
    percent: bool
    raw: Decimal  # before scaling: 25亿 → 25
    bare: bool  # no unit or magnitude at all ("148")


def numbers(text: str, strict: bool = True) -> list[Number]:
    """Numbers and amounts in ``text``. ``strict`` (for answers) skips Chinese numerals that are
    ordinary words: those with neither unit nor 万/亿 (十四五, 一流), and small counts such as
    一个, 两项 (values below 10 unless money or a percentage)."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for m in _NUMBER.finditer(text):
        unit = (m.group("unit") or "").strip()
        percent = bool(m.group("pct")) or unit in ("%", "‰")
        if m.group("ar") is not None:
            try:
                raw = Decimal(m.group("ar").replace(",", ""))
            except InvalidOperation:
                continue
            mag = m.group("mag")
            value = raw * _MAGNITUDE[mag] if mag else raw
            bare = not unit and not mag and not m.group("pct")
        else:
            cn = m.group("cn")
            parsed = chinese_number(cn)
            if parsed is None:
                continue
            # 五十万 is an amount even without 元; 千万 is also an adverb ("by all means")
            magnitude = cn[-1] in "万亿" and cn not in ("千万", "万万")
            if strict and not (unit or m.group("pct") or magnitude):
                continue
            money = "元" in unit or magnitude
            if strict and parsed < 10 and not (money or percent):
                continue
            raw = value = Decimal(parsed)
            bare = False
        out.append(Number(m.group(0).strip(), value, percent, raw, bare))
    return out


class NumberSet:
    """The numbers a set of passages states, for membership tests of answer numbers."""

    def __init__(self, texts: Sequence[str]):
        self.values: set[tuple[Decimal, bool]] = set()
        self.raw: set[Decimal] = set()
        for text in texts:
            for n in numbers(text, strict=False):
                self.values.add((n.value, n.percent))
                self.raw.add(n.raw)

    def __contains__(self, n: Number) -> bool:
        # "148" alone may quote the figure of "148个"; "25" alone may quote "25亿元".
        return (n.value, n.percent) in self.values or (n.bare and n.raw in self.raw)


# -- citations and verification -----------------------------------------------------------------

_MARKER = re.compile(r"[\[【]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】]")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)


@dataclass
class Claim:
    text: str  # the answer text a group of markers stands behind
    ids: set[int] = field(default_factory=set)


def parse_claims(text: str) -> tuple[list[Claim], str]:
    """Split an answer at its [n] markers: (claims with the ids cited for them, uncited tail)."""
    text = unicodedata.normalize("NFKC", text)
    claims: list[Claim] = []
    pos = 0
    for m in _MARKER.finditer(text):
        ids = {int(x) for x in re.split(r"[,，、]", m.group(1))}
        before = text[pos : m.start()]
        if claims and not re.search(r"\w", before):  # "[1][2]" or "[1]，[2]": one group
            claims[-1].ids |= ids
        else:
            claims.append(Claim(before, ids))
        pos = m.end()
    return claims, text[pos:]


class VerificationError(Exception):
    """Why a generated answer cannot be shown (Chinese, goes into ``Answer.note``)."""


def _source_texts(scored: Scored) -> str:
    chunk = scored.chunk
    return f"{chunk.title}\n{chunk.section}\n{chunk.text}"


def _checked_numbers(text: str, allowed: NumberSet) -> None:
    for n in numbers(_LIST_PREFIX.sub("", text)):
        if n not in allowed:
            raise VerificationError(f"数字 {n.surface} 不在引用来源中")


def verify(text: str, hits: Sequence[Scored]) -> list[Claim]:
    """Raise ``VerificationError`` unless every marker names a given source, at least one is
    cited, and each number in the answer appears in a source cited for it."""
    claims, tail = parse_claims(text)
    if not claims:
        raise VerificationError("回答没有标注引用来源")
    for claim in claims:
        for n in sorted(claim.ids):
            if not 1 <= n <= len(hits):
                raise VerificationError(f"引用编号 [{n}] 不存在，只提供了 {len(hits)} 条来源")
    for claim in claims:
        _checked_numbers(claim.text, NumberSet([_source_texts(hits[i - 1]) for i in claim.ids]))
    cited = sorted(set().union(*(c.ids for c in claims)))
    _checked_numbers(tail, NumberSet([_source_texts(hits[i - 1]) for i in cited]))
    return claims


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"[\W_]+", "", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _quote(scored: Scored, claims: list[str]) -> tuple[int, int]:
    """Span (in chunk offsets) of the sentence(s) a set of claims rests on; the whole chunk when
    no sentence clearly matches."""
    chunk_text = scored.chunk.text
    spans = sentences(chunk_text)
    chosen = []
    for claim in claims:
        claim_numbers = {(n.value, n.percent) for n in numbers(claim)}
        claim_bigrams = _bigrams(claim)
        best, best_score = None, 0.0
        for s, e in spans:
            sent = chunk_text[s:e]
            shared = len(claim_numbers & {(n.value, n.percent) for n in numbers(sent, False)})
            overlap = len(claim_bigrams & _bigrams(sent)) / max(len(claim_bigrams), 1)
            score = shared + overlap
            if (shared or overlap >= 0.25) and score > best_score:
                best, best_score = (s, e), score
        if best:
            chosen.append(best)
    if not chosen:
        return 0, len(chunk_text)
    return min(s for s, _ in chosen), max(e for _, e in chosen)


def citations_for(claims: list[Claim], hits: Sequence[Scored]) -> list[Citation]:
    """One citation per cited source, numbered as in the answer's markers, quoting exactly."""
    out = []
    for n in sorted(set().union(*(c.ids for c in claims))):
        scored = hits[n - 1]
        chunk = scored.chunk
        s, e = _quote(scored, [c.text for c in claims if n in c.ids])
        out.append(Citation.from_span(n, chunk, s, e, scored.hit.score))
    return out


def is_abstention(text: str) -> bool:
    return (ABSTAIN_PHRASE in text or "没有找到" in text) and not _MARKER.search(text)


# -- the generator ------------------------------------------------------------------------------


class _Failed(Exception):
    """The model call failed; ``note`` says why, in Chinese."""

    def __init__(self, note: str):
        super().__init__(note)
        self.note = note


class LLMGenerator:
    """Answers through ``ChatOpenAI`` against any OpenAI-compatible base URL."""

    def __init__(self, settings: Settings):
        from langchain_openai import ChatOpenAI  # heavy import, only when an LLM is configured

        self.settings = settings
        # No retries: a slow or failing model falls back to the extractive answer at once.
        # ``streaming`` is left unset on purpose: set to False, langchain makes ``.stream()``
        # fall back to one blocking call; unset, ``invoke`` is blocking and ``stream`` streams.
        # (Never call get_num_tokens: tiktoken would download encodings at run time.)
        self.llm = ChatOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",  # Ollama / vLLM accept any key
            model=settings.llm_model,
            timeout=settings.llm_timeout,
            max_retries=0,
            temperature=0.1,
        )

    # -- follow-ups ------------------------------------------------------------------------

    def condense(self, question: str, history: list[dict] | None) -> str:
        """Rewrite a follow-up as a standalone question; the rules of ``query.condense`` are the
        fallback when the model fails or answers with something that is not a question."""
        turns = [(t.get("role", ""), content_text(t.get("content"))) for t in history or []]
        turns = [(r, c) for r, c in turns if r in ("user", "assistant") and c.strip()]
        if not any(role == "user" for role, _ in turns):
            return question
        try:
            reply = self.llm.invoke(condense_messages(question, turns)).text
        except Exception as err:  # noqa: BLE001 - any failure: the rules still work
            log.warning("LLM condense failed, using rules: %s", _describe(err, self.settings))
            return rule_condense(question, history)
        rewritten = _clean_question(reply)
        if not rewritten or len(rewritten) > MAX_QUESTION_CHARS:
            return rule_condense(question, history)
        return rewritten

    # -- answers ---------------------------------------------------------------------------

    def answer(self, query_text: str, hits: list[Scored], extractive: Answer) -> Answer:
        if extractive.abstained or not hits:
            return extractive  # no evidence: no cost, no invention
        t0 = time.perf_counter()
        try:
            text = self._complete(query_text, hits)
        except _Failed as failed:
            return self._fallback(extractive, failed.note, t0)
        return self._finish(text, query_text, hits, extractive, t0)

    def stream(
        self, query_text: str, hits: list[Scored], extractive: Answer
    ) -> Iterator[StreamEvent]:
        """``delta`` events as tokens arrive; after the last one the text is verified. A failed
        check (or a failure mid-stream) sends ``replace`` with the extractive answer, whose
        ``note`` says why; the final ``answer`` event always carries what stands."""

        if extractive.abstained or not hits:
            yield StreamEvent("delta", text=extractive.answer)
            yield StreamEvent("answer", answer=extractive)
            return
        t0 = time.perf_counter()
        parts: list[str] = []
        visible = _ThinkFilter()
        try:
            for chunk in self.llm.stream(answer_messages(query_text, hits)):
                piece = visible.feed(chunk.text)
                if piece:
                    parts.append(piece)
                    yield StreamEvent("delta", text=piece)
            tail = visible.flush()
            if tail:
                parts.append(tail)
                yield StreamEvent("delta", text=tail)
            if not "".join(parts).strip():
                raise _Failed(f"大模型没有返回内容，{FALLBACK}")
        except Exception as err:  # noqa: BLE001 - whatever breaks, the extractive answer stands
            note = err.note if isinstance(err, _Failed) else _failure_note(err, self.settings)
            final = self._fallback(extractive, note, t0)
        else:
            final = self._finish("".join(parts), query_text, hits, extractive, t0)
        shown = "".join(parts).strip()
        if not shown:  # failed before the first token: nothing to take back
            yield StreamEvent("delta", text=final.answer)
        elif final.mode == "llm" and final.answer.startswith(shown):
            if final.answer[len(shown) :]:  # e.g. the 相关内容 list after an abstention
                yield StreamEvent("delta", text=final.answer[len(shown) :])
        else:
            yield StreamEvent("replace", text=final.answer, answer=final)
        yield StreamEvent("answer", answer=final)

    # -- internals -------------------------------------------------------------------------

    def _complete(self, query_text: str, hits: list[Scored]) -> str:
        try:
            reply = self.llm.invoke(answer_messages(query_text, hits)).text
        except Exception as err:
            raise _Failed(_failure_note(err, self.settings)) from err
        text = _THINK.sub("", reply).strip()
        if not text:
            raise _Failed(f"大模型没有返回内容，{FALLBACK}")
        return text

    def _finish(
        self, text: str, query_text: str, hits: list[Scored], extractive: Answer, t0: float
    ) -> Answer:
        text = _THINK.sub("", text).strip()
        timings = {**extractive.timings_ms, "llm": _elapsed(t0)}
        if is_abstention(text):
            # The model finds no answer in the sources. It may still not state numbers of its own.
            try:
                _checked_numbers(text, NumberSet([_source_texts(s) for s in hits]))
            except VerificationError as err:
                return self._fallback(
                    extractive, f"大模型回答未通过引用核验（{err}），{FALLBACK}", t0
                )
            related = abstention(analyse(query_text), hits).related
            listing = "".join(
                f"\n· 《{c.title}》{c.section}：{c.text if len(c.text) <= 60 else c.text[:60] + '…'}"
                for c in related
            )
            body = f"{text}\n相关内容（仅供参考）：{listing}" if related else text
            return Answer(
                question=extractive.question,
                answer=body,
                abstained=True,
                mode="llm",
                related=related,
                timings_ms=timings,
            )
        try:
            claims = verify(text, hits)
        except VerificationError as err:
            return self._fallback(extractive, f"大模型回答未通过引用核验（{err}），{FALLBACK}", t0)
        return Answer(
            question=extractive.question,
            answer=text,
            abstained=False,
            mode="llm",
            citations=citations_for(claims, hits),
            timings_ms=timings,
        )

    def _fallback(self, extractive: Answer, note: str, t0: float) -> Answer:
        log.warning("LLM answer replaced by the extractive one: %s", note)
        timings = {**extractive.timings_ms, "llm": _elapsed(t0)}
        return extractive.model_copy(
            update={"mode": "extractive", "note": note, "timings_ms": timings}
        )


class _ThinkFilter:
    """Drops a leading ``<think>…</think>`` block (reasoning models served through Ollama) from
    a token stream, so that only the answer is streamed and verified."""

    def __init__(self) -> None:
        self.buffer = ""
        self.state = "start"  # start → (think →) answer

    def feed(self, piece: str) -> str:
        if self.state == "answer":
            return piece
        self.buffer += piece
        if self.state == "start":
            head = self.buffer.lstrip()
            if not head or ("<think>".startswith(head) and len(head) < len("<think>")):
                return ""  # undecided yet
            if not head.startswith("<think>"):
                self.state, out, self.buffer = "answer", self.buffer, ""
                return out
            self.state = "think"
        if "</think>" in self.buffer:
            self.state = "answer"
            out = self.buffer.split("</think>", 1)[1].lstrip()
            self.buffer = ""
            return out
        return ""

    def flush(self) -> str:
        out = self.buffer if self.state == "start" else ""
        self.buffer = ""
        return out


def _failure_note(err: Exception, settings: Settings) -> str:
    return f"大模型服务暂时不可用（{_describe(err, settings)}），{FALLBACK}"


def _describe(err: Exception, settings: Settings) -> str:
    """A short Chinese reason for a failed model call (no secrets, no stack traces)."""
    import openai

    if isinstance(err, openai.APITimeoutError):
        return f"响应超时，超过 {settings.llm_timeout:g} 秒"
    if isinstance(err, openai.APIStatusError):
        return f"HTTP {err.status_code}"
    if isinstance(err, openai.APIConnectionError):
        return f"无法连接 {settings.llm_base_url}"
    return f"调用出错：{type(err).__name__}"


def _elapsed(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def _clean_question(reply: str) -> str:
    text = _THINK.sub("", reply).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(改写后的问题|独立问题|问题)\s*[:：]\s*", "", line.strip("“”\"'「」 "))
    return line.strip("“”\"'「」 ")

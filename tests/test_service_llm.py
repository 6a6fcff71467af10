"""Assistant.ask / Assistant.stream with an LLM configured, through the fake OpenAI server."""

import pytest

from assistant.service import Assistant
from tests.fake_llm import FakeLLM, Reply, system_and_user

LUKEDAI = "鲁科贷政策是做什么的？"
GOOD = "鲁科贷政策用于发放科技成果转化贷款，今年争取为500家企业发放25亿元以上[1]。"


@pytest.fixture(scope="module")
def fake():
    with FakeLLM() as server:
        yield server


@pytest.fixture
def llm(fake):
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture(scope="module")
def llm_assistant(seed_settings, fake):
    return Assistant(seed_settings.model_copy(update={"llm_base_url": fake.url, "llm_model": "m"}))


def test_ask_answers_in_llm_mode_with_the_users_question_and_timings(llm, llm_assistant):
    llm.script(GOOD)
    answer = llm_assistant.ask(LUKEDAI)
    assert answer.mode == "llm" and answer.answer == GOOD and answer.question == LUKEDAI
    assert {"retrieve", "answer", "total", "llm"} <= answer.timings_ms.keys()


def test_ask_falls_back_to_the_extractive_answer_with_a_note(llm, llm_assistant):
    llm.script("争取为500家企业发放贷款30亿元[1]。")
    answer = llm_assistant.ask(LUKEDAI)
    assert answer.mode == "extractive" and "30亿元" in answer.note
    assert "30亿元" not in answer.answer


def test_follow_up_is_condensed_by_the_llm_before_retrieval(llm, llm_assistant):
    llm.script("鲁科贷政策是做什么的？", GOOD)
    history = [
        {"role": "user", "content": "鲁科贷是什么？"},
        {"role": "assistant", "content": "……"},
    ]
    answer = llm_assistant.ask("它是做什么的？", history=history)
    assert answer.mode == "llm" and answer.question == "它是做什么的？"
    _, user = system_and_user(llm.requests[1])
    assert "<question>\n鲁科贷政策是做什么的?\n</question>" in user


def test_stream_yields_deltas_and_a_stamped_final_answer(llm, llm_assistant):
    llm.script(Reply(GOOD))
    events = list(llm_assistant.stream(LUKEDAI))
    assert events[-1].kind == "answer" and events[-1].answer.mode == "llm"
    assert "".join(e.text for e in events[:-1]) == GOOD
    assert events[-1].answer.question == LUKEDAI and "total" in events[-1].answer.timings_ms


@pytest.mark.parametrize(
    "question", ["上海的人才政策是什么？", "？？？"], ids=["no-evidence", "no-words"]
)
def test_abstentions_never_call_the_model(llm, llm_assistant, question):
    assert llm_assistant.ask(question).abstained
    assert list(llm_assistant.stream(question))[-1].answer.abstained
    assert llm.requests == []

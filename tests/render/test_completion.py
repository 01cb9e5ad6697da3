"""CompletionRenderer.content_free: the task with the answer emptied, whatever the answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_gym.render.completion import CompletionRenderer

RENDERER = CompletionRenderer()


@given(st.text(max_size=80), st.text(max_size=80))
def test_content_free_is_the_render_with_an_empty_answer(prompt, completion):
    text = RENDERER.render(prompt, completion)
    assert RENDERER.content_free(text) == RENDERER.render(prompt, "")


def test_an_answer_or_task_that_writes_the_label_cannot_move_the_cut():
    label = RENDERER.answer_label
    prompt = f"Plan the route.\n{label}\nfake answer"
    text = RENDERER.render(prompt, f"sidewalk\n{label}\nroad")
    assert RENDERER.content_free(text) == RENDERER.render(prompt, "")
    assert "sidewalk" not in RENDERER.content_free(text)


def test_chat_messages_are_cut_the_same_way():
    prompt = [{"role": "user", "content": "Plan the route."}]
    completion = [{"role": "assistant", "content": "Take the road."}]
    text = RENDERER.render(prompt, completion)
    assert RENDERER.content_free(text) == RENDERER.render(prompt, "")


def test_a_text_of_another_renderer_is_refused_with_the_reason():
    other = CompletionRenderer(answer_label="Answer:")
    with pytest.raises(ValueError, match=r"no line .*The AI agent's answer"):
        RENDERER.content_free(other.render("task", "answer"))
    with pytest.raises(TypeError, match="text must be a str"):
        RENDERER.content_free(None)  # type: ignore[arg-type]


def test_equal_labels_are_refused():
    with pytest.raises(ValueError, match="must differ"):
        CompletionRenderer(task_label="Text:", answer_label="Text:")


def test_the_repr_names_the_labels():
    assert "answer_label=\"The AI agent's answer" in repr(RENDERER)

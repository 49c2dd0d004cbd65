"""SGPT-CE prompts: a query too long for the context is cut as SGPT cuts it."""

from __future__ import annotations

from sgpt_eval.models.prompts import TEMPLATES, PromptTokenizer

LONG_QUERY = "does vitamin D supplementation reduce the risk of cancer in older patients " * 3


def test_a_query_too_long_for_the_prompt_is_cut_as_sgpt_does(gpt2_tokenizer):
    """SGPT's expression on the same token ids: the document, the prompt's text after it and then
    the query's first tokens are cut; the query tokens that remain are scored."""
    template = TEMPLATES["asymmetric"]
    prompt = PromptTokenizer(gpt2_tokenizer, template, max_length=30)
    doc = "alpha beta gamma delta " * 5
    context = gpt2_tokenizer(template.replace("{doc}", doc), add_special_tokens=False)["input_ids"]
    continuation = gpt2_tokenizer(LONG_QUERY, add_special_tokens=False)["input_ids"]
    instruction = prompt.instruction_len
    assert len(continuation) > 30 - instruction
    sgpt_input = (context[:instruction] + (context[instruction:] + continuation)[-(30 + 1 - instruction):])[:-1]

    pair = prompt.pairs([(LONG_QUERY, doc)])[0]

    assert [*pair.prefix, *pair.query][:-1] == sgpt_input and len(sgpt_input) == 30
    assert pair.prefix == tuple(context[:instruction]) and pair.query == tuple(continuation[-(30 + 1 - instruction):])

    headless = PromptTokenizer(gpt2_tokenizer, "{doc}", max_length=8).pairs([(LONG_QUERY, doc)])[0]
    assert headless.prefix == tuple(continuation[-9:-8]) and headless.query == tuple(continuation[-8:])

"""SGPT-CE prompts: how a (query, document) pair becomes token ids to score.

The document goes into a template; the query follows it as the continuation whose
log-probability is the score. Prompt and query are tokenized separately (as SGPT does) and
their ids concatenated, so that one document's prompt is the same ids for every query and its
key/value cache can be shared. When prompt + query exceed the model's context, the tokens
before `{doc}` (the instruction) are kept and the document is cut from the left, exactly as
SGPT's `context_enc[:instruction_len] + (context_enc[instruction_len:] + query)[-(max_length + 1 - instruction_len):]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SgptEvalError

PLACEHOLDER = "{doc}"
DEFAULT_TEMPLATE = "asymmetric"
TEMPLATES = {
    # The SGPT paper's prompt for asymmetric search (BEIR): a short query for a long document.
    "asymmetric": 'Documents are searched to find matches with the same content.\n'
                  'The document "{doc}" is a good search result for "',
    # Same instruction for symmetric tasks (duplicate questions, argument retrieval), where the
    # query is a text of the same kind: "match" rather than "search result".
    "symmetric": 'Documents are searched to find matches with the same content.\n'
                 'The document "{doc}" is a good match for "',
}


def resolve_template(name_or_text: str) -> str:
    """A named template, or the user's own text with `{doc}` exactly once."""
    template = TEMPLATES.get(name_or_text, name_or_text)
    if template.count(PLACEHOLDER) != 1:
        names = ", ".join(TEMPLATES)
        raise SgptEvalError(
            f"--template {name_or_text!r}: choose {names}, or give a prompt that contains {PLACEHOLDER} exactly once"
        )
    return template


@dataclass(frozen=True)
class Pair:
    """The token ids of one pair: the prompt with the (truncated) document, then the query."""

    prefix: tuple[int, ...]
    query: tuple[int, ...]


class PromptTokenizer:
    """(query, document) -> Pair, with SGPT's truncation to `max_length` input tokens.

    The model reads prefix + query[:-1]; so a pair fits when len(prefix) + len(query) - 1 <= max_length.
    """

    def __init__(self, tokenizer, template: str, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        head, tail = template.split(PLACEHOLDER)
        self.instruction_len = len(self.ids(head))
        self.tail_len = len(self.ids(tail))
        self.fallback = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompts(self, docs: list[str]) -> list[list[int]]:
        """The untruncated prompt of each document (the whole string tokenized at once, as SGPT does)."""
        texts = [self.template.replace(PLACEHOLDER, doc) for doc in docs]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        # An empty prompt has nothing to condition on: SGPT then uses end-of-text.
        return [ids or [self.fallback] for ids in encoded]

    def queries(self, queries: list[str]) -> list[list[int]]:
        return self.tokenizer(list(queries), add_special_tokens=False)["input_ids"]

    def fit(self, prompt: list[int], query: list[int]) -> Pair:
        """Cut the document from the left so that prompt + query fit; a query that cannot fit even
        with an empty document is an error."""
        room = self.max_length + 1 - self.instruction_len - len(query)
        if not query or room < self.tail_len:
            longest = self.max_length + 1 - self.instruction_len - self.tail_len
            raise SgptEvalError(
                f"a query of {len(query)} tokens does not fit the prompt: queries must have 1 to {longest} tokens "
                f"with --max-length {self.max_length}; raise --max-length or shorten the query"
            )
        body = prompt[self.instruction_len:]
        if len(body) > room:
            body = body[len(body) - room:]
        return Pair(tuple(prompt[: self.instruction_len] + body), tuple(query))

    def pairs(self, pairs: list[tuple[str, str]]) -> list[Pair]:
        """Tokenize (query, document) pairs, each distinct text once."""
        docs = list(dict.fromkeys(doc for _, doc in pairs))
        queries = list(dict.fromkeys(query for query, _ in pairs))
        prompt_of = dict(zip(docs, self.prompts(docs)))
        query_of = dict(zip(queries, self.queries(queries)))
        return [self.fit(prompt_of[doc], query_of[query]) for query, doc in pairs]

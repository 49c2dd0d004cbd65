"""SGPT-CE prompts: how a (query, document) pair becomes token ids to score.

The document goes into a template; the query follows it as the continuation whose
log-probability is the score. Prompt and query are tokenized separately (as SGPT does) and
their ids concatenated, so that one document's prompt is the same ids for every query and its
key/value cache can be shared. When prompt + query exceed the model's context, the tokens
before `{doc}` (the instruction) are kept and the rest is cut from the left, exactly as SGPT's
`context_enc[:instruction_len] + (context_enc[instruction_len:] + query)[-(max_length + 1 - instruction_len):]`:
the document first, then, for a query too long for even an empty document, the text after the
document and the query's own first tokens; such a pair is scored on what remains of its query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import SgptEvalError

log = logging.getLogger(__name__)

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
    # UPR (Sachan et al. 2022, "Improving Passage Retrieval with Zero-Shot Question Generation"):
    # log P(question | passage prompt). In its code (github.com/DevSinghSachan/unsupervised-passage-
    # reranking) the question is the decoder's target (upr.py, T5) or, for GPT models (upr_gpt.py),
    # its token ids follow the prompt's, each text tokenized alone, as here. Both build the prompt as
    # "{} {} {}. {}".format("Passage: ", title, text, "Please write a question based on this
    # passage."); with BEIR's document text, `title + " " + text`, that is this string, two spaces
    # included. UPR sums the question's token log-probabilities (its `avg_nll` is a torch.sum), as
    # the default --aggregate does; it also scores an end-of-text token after the question, which
    # SGPT-CE, and so this harness, does not.
    "upr": "Passage:  {doc}. Please write a question based on this passage.",
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
        if self.instruction_len > max_length:
            raise SgptEvalError(
                f"the prompt's instruction (its text before {PLACEHOLDER}) has {self.instruction_len} tokens, more than "
                f"the {max_length} the model reads (--max-length or its context); raise --max-length or shorten --template"
            )
        # The longest query that fits with the whole template around an empty document.
        self.longest_query = max_length + 1 - self.instruction_len - len(self.ids(tail))
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
        """SGPT's truncation: keep the instruction, cut (the rest of the prompt + the query) from the
        left to fit; the query tokens that remain are the ones scored."""
        if not query:
            raise SgptEvalError("a query of 0 tokens has nothing to score; give every query some text")
        kept = (prompt[self.instruction_len:] + query)[-(self.max_length + 1 - self.instruction_len):]
        start = max(len(kept) - len(query), 0)  # where the query's kept tokens begin
        prefix, query = prompt[: self.instruction_len] + kept[:start], kept[start:]
        if not prefix:  # no instruction and the query cut: its first kept token is context, as SGPT's input starts
            prefix, query = query[:1], query[1:]
        return Pair(tuple(prefix), tuple(query))

    def pairs(self, pairs: list[tuple[str, str]]) -> list[Pair]:
        """Tokenize (query, document) pairs, each distinct text once; one warning counts the pairs
        whose query was too long for the prompt."""
        docs = list(dict.fromkeys(doc for _, doc in pairs))
        queries = list(dict.fromkeys(query for query, _ in pairs))
        prompt_of = dict(zip(docs, self.prompts(docs)))
        query_of = dict(zip(queries, self.queries(queries)))
        too_long = sum(len(query_of[query]) > self.longest_query for query, _ in pairs)
        if too_long:
            log.warning(
                "%d of %d pairs have a query of more than %d tokens, too long for the prompt within %d tokens: "
                "cut as SGPT does (the whole document, then the prompt's text after it, then the query's first "
                "tokens) and scored on what remains of the query", too_long, len(pairs), max(self.longest_query, 0),
                self.max_length)
        return [self.fit(prompt_of[doc], query_of[query]) for query, doc in pairs]

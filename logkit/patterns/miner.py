"""Streaming log template miner with a final regrouping pass.

Two stages (docs/patterns.md has the figures behind each choice):

1. Online (``TemplateMiner.add``): mask the variable parts, split on whitespace, and look
   the masked token sequence up in a dict. The common path runs no regex at all: the
   message's digits are normalized (``masking.normalize``) and that text is looked up in a
   bounded cache of sequences; on a miss the tokens are masked one by one from a token
   cache (``masking.TokenMasker``, exactly ``mask(message).split()``). An unseen sequence
   joins the most similar online cluster of the same token count (similarity fixed at
   ``SIMILARITY``) or starts a new one. The id an online cluster returns never changes
   during a run.

2. Final (``TemplateMiner.templates`` / ``final_id``): the distinct masked sequences are
   regrouped from scratch, per token count, by token frequency. For each sequence the
   frequency shared by most of its tokens marks its constant part (the tokens printed by
   the same logging call occur exactly as often as each other); sequences with the same
   constant part form a group, and inside a group a column that takes at most
   ``SPLIT_MAX_VALUES`` distinct words splits the group (an enumerated constant such as a
   state name), and so does a column of up to ``ENUM_MAX_VALUES`` words that behaves like an
   enumeration (``_enum_like``), while a column with more values, with masked values, or
   whose values differ only in ``true``/``false``, becomes ``<*>``.

Template ids are the first 12 hex digits of the BLAKE2b hash of the template text, so the
same template has the same id in any process, except where a known template (``load``)
decides otherwise; see ``TemplateMiner.load`` for the rule.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Iterable, Iterator

from . import masking as _masking
from .masking import WILDCARD, TokenMasker, collapse, has_ascii_digit, mask, normalize_bytes

W = WILDCARD
#: One configuration for every log source: these numbers (and ENUM_MAX_VALUES below) were
#: fixed once on the 8 shared Loghub systems and are never tuned per source; 8 other
#: Loghub systems are held out to measure them (see docs/patterns.md).
SIMILARITY = 0.7
SPLIT_MAX_VALUES = 3

OVERFLOW_TEMPLATE = W


def template_id(template: str) -> str:
    """Stable id of a template text: the same in every process and on every machine."""
    return hashlib.blake2b(template.encode("utf-8"), digest_size=6).hexdigest()


@dataclass(frozen=True)
class Match:
    """What ``TemplateMiner.add`` says about one message, as it arrives."""

    template_id: str
    template: str
    is_new: bool


@dataclass(frozen=True)
class Template:
    """One final template: ``is_new`` is true when its id was not among the loaded ones."""

    id: str
    template: str
    count: int
    example: str
    is_new: bool = True


class _Cluster:
    __slots__ = ("id", "tokens", "example", "known", "overflow", "match", "final", "pairs", "nwild")

    def __init__(self, cid: str, tokens: list[str], example: str, known: bool = False):
        self.id = cid
        self.tokens = tokens
        # (position, word) of every constant position, and the number of <*>: the online
        # similarity is then one set intersection in C instead of a Python loop per token
        # (a new sequence is compared with up to 64 clusters). Kept in step by _generalize.
        self.pairs = set(enumerate(tokens)) - _wild(len(tokens))
        self.nwild = len(tokens) - len(self.pairs)
        self.example = example
        self.known = known
        # Messages counted here whose sequence was not stored (the sequence cap was full).
        self.overflow = 0
        # The Match that `add` returns for an already seen message (reset when the
        # template widens), and the final (id, template) after `_finalize`.
        self.match: Match | None = None
        self.final: tuple[str, str] | None = None


_WILD: dict[int, frozenset] = {}


def _wild(n: int) -> frozenset:
    """{(0, <*>), ..., (n - 1, <*>)}: subtracted from a token set in C, it leaves the constants."""
    w = _WILD.get(n)
    if w is None:
        w = _WILD[n] = frozenset((i, W) for i in range(n))
    return w


class _Seq:
    __slots__ = ("tokens", "count", "cluster", "example", "cacheable", "final")

    def __init__(self, tokens: tuple[str, ...], cluster: _Cluster, example: str):
        self.tokens = tokens
        self.count = 0
        self.cluster = cluster
        self.example = example
        # No digit left in the masked tokens: every message with the same normalized text
        # has this sequence, so the normalized text may be cached (masking.normalize).
        self.cacheable = not has_ascii_digit(" ".join(tokens))
        self.final: tuple[str, str] | None = None


def tokenize(message: str, max_tokens: int) -> tuple[str, ...]:
    return _truncate(tuple(mask(message).split()), max_tokens)


def _truncate(tokens: tuple[str, ...], max_tokens: int) -> tuple[str, ...]:
    if len(tokens) > max_tokens:
        # A very long message keeps its head; the tail is one variable so that its length
        # cannot blow up the memory or the number of token-count buckets.
        return tokens[: max_tokens - 1] + (W,)
    return tokens


_FINAL = attrgetter("final")
_N_ALL, _N_KEEP0 = _masking._N_ALL, _masking._N_KEEP0


def _matches(template: tuple[str, ...] | list[str], tokens: tuple[str, ...]) -> bool:
    return len(template) == len(tokens) and all(a == W or a == b for a, b in zip(template, tokens))


class TemplateMiner:
    """Group log messages into templates with ``<*>`` placeholders.

    Memory is bounded: at most ``max_templates`` online clusters and final templates, at
    most ``max_sequences`` distinct masked token sequences (the input of the final pass),
    each at most ``max_tokens`` tokens. Past the sequence cap a message still counts in
    its online cluster, which the final pass then sees as one more sequence. Past the
    template cap a message joins the most similar cluster of its token count whatever the
    similarity, or the catch-all template ``<*>``. With the defaults the worst case is
    about 50k sequences x 64 tokens, some tens of MB; typical logs use a small fraction.
    """

    def __init__(
        self,
        *,
        max_templates: int = 5000,
        max_sequences: int = 50_000,
        max_tokens: int = 64,
        similarity: float = SIMILARITY,
        split_max_values: int = SPLIT_MAX_VALUES,
    ):
        if max_templates < 1 or max_sequences < 1 or max_tokens < 2:
            raise ValueError("max_templates, max_sequences >= 1 and max_tokens >= 2")
        self.max_templates = max_templates
        self.max_sequences = max_sequences
        self.max_tokens = max_tokens
        self.similarity = similarity
        self.split_max_values = split_max_values
        self._seqs: dict[tuple[str, ...], _Seq] = {}
        self._clusters: dict[str, _Cluster] = {}
        # (token count, first token or <*>) -> clusters: the online candidates.
        self._index: dict[tuple[int, str], list[_Cluster]] = defaultdict(list)
        self._by_len: dict[int, list[_Cluster]] = defaultdict(list)
        self._known: dict[str, tuple[str, ...]] = {}  # id -> template tokens, load order
        self._final: dict[tuple[str, ...], tuple[str, str]] | None = None
        self._final_templates: list[Template] | None = None
        self._finals: list = []
        self._overflow_cluster: _Cluster | None = None
        self.messages = 0
        # Speed only, bounded, never changing a result: the token masker's caches, the
        # normalized message -> sequence cache, and per-token masked tuple -> sequence for
        # tuples that are not the sequence itself (a run collapsed, or truncated).
        self._cache_max = max(1024, min(max_sequences, 20_000))
        self._masker = TokenMasker(self._cache_max)
        self._by_text: dict[bytes, _Seq] = {}
        self._alias: dict[tuple, _Seq] = {}
        # The whole-message cache for messages whose masked tokens keep a digit (`ssh2`,
        # `md5`): normalized text -> (start, end) of the tokens that keep it
        # (TokenMasker.kept), and (normalized text, those raw tokens) -> sequence.
        self._kept: dict[bytes, tuple[tuple[int, int], ...]] = {}
        self._by_kept: dict[tuple, _Seq] = {}

    # -- online ---------------------------------------------------------------------------

    def add(self, message: str) -> Match:
        """Mine one message; returns the online template it joined."""
        self.messages += 1
        self._final = None
        norm = normalize_bytes(message)
        seq = self._by_text.get(norm)
        if seq is None:
            cluster, _, is_new = self._add(message, norm)
            if is_new:
                return Match(cluster.id, " ".join(cluster.tokens), True)
        else:  # the usual case: a message whose masked text is already known
            seq.count += 1
            cluster = seq.cluster
        match = cluster.match
        if match is None:
            match = cluster.match = Match(cluster.id, " ".join(cluster.tokens), False)
        return match

    def mine(self, messages: Iterable[str]) -> list[tuple[str, str]]:
        """Mine all ``messages``, then return each one's final ``(id, template)``."""
        self._final = None
        by_text_get = self._by_text.get
        add = self._add
        units: list = []
        append = units.append
        n_all, keep0 = _N_ALL, _N_KEEP0
        for message in messages:
            # normalize_bytes(message), inlined: this loop is the hot path.
            norm = message.encode("utf-8", "surrogatepass").translate(
                keep0 if "0x" in message or "0X" in message else n_all
            )
            seq = by_text_get(norm)
            if seq is None:
                append(add(message, norm)[1])
            else:
                seq.count += 1
                append(seq)
        self.messages += len(units)
        self._finalize()  # sets .final on every stored sequence and overflow cluster
        return list(map(_FINAL, units))

    def mine_counts(self, items: Iterable[tuple[str, int]]) -> list[tuple[str, str]]:
        """Like ``mine``, where each ``(message, n)`` stands for ``n`` copies of ``message``:
        the final ids are those ``mine`` gives for the messages repeated, since the final pass
        reads only the distinct sequences and their counts. For a caller that has already
        counted its messages (the report groups failures in SQL first)."""
        self._final = None
        units: list = []
        append = units.append
        add = self._add
        for message, n in items:
            n = int(n)
            if n < 1:
                raise ValueError(f"count of {message!r} must be >= 1, got {n}")
            _, unit, _ = add(message)
            if n > 1:
                if type(unit) is _Seq:
                    unit.count += n - 1
                else:  # a message past the sequence cap counts in its online cluster
                    unit.overflow += n - 1
                self.messages += n - 1
            append(unit)
        self._finalize()
        return list(map(_FINAL, units))

    def masks_like_normal_form(self, message: str) -> bool:
        """``masking.masks_like_normal_form(message)``, from this miner's token caches (much
        cheaper than the whole-message regex, and it warms the caches for mining)."""
        return not has_ascii_digit(" ".join(self._masker.tokens(message)))

    def _add(self, message: str, norm: bytes | None = None) -> tuple[_Cluster, _Seq | _Cluster, bool]:
        if norm is None:
            self.messages += 1
            self._final = None
            norm = normalize_bytes(message)
            seq = self._by_text.get(norm)
            if seq is not None:
                seq.count += 1
                return seq.cluster, seq, False
        spans = self._kept.get(norm)
        if spans is not None:
            kept = (norm, *[message[a:b] for a, b in spans])
            seq = self._by_kept.get(kept)
            if seq is not None:
                seq.count += 1
                return seq.cluster, seq, False
        text = norm.decode("utf-8", "surrogatepass")
        # The per-token masked tuple, from the token cache: when every token is known and
        # none takes part in a token-spanning match, it is the masked message, before the
        # run-collapse and the length cap.
        masker = self._masker
        ntoks = text.split()
        key = tuple(map(masker.tok.get, ntoks))
        seq = self._seqs.get(key) or self._alias.get(key)
        if seq is None:
            if None in key:
                # Sensitive tokens are not in `tok`: put their markers in, and if every
                # token is then known, mask only the windows (TokenMasker.windowed).
                skey = tuple(map(masker.sens.get, ntoks, key))
                if None in skey and masker.learn(ntoks, message):
                    # New tokens: classify just those, then take the same cached route.
                    key = tuple(map(masker.tok.get, ntoks))
                    skey = tuple(map(masker.sens.get, ntoks, key)) if None in key else None
                if skey is None:  # every token known and none sensitive
                    tokens = collapse(key)
                else:
                    tokens = masker.windowed(skey, ntoks, text) if None not in skey else None
                    if tokens is None:
                        tokens = masker.tokens(message, text)
                tokens = _truncate(tokens, self.max_tokens)
            else:
                tokens = _truncate(collapse(key), self.max_tokens)
            seq = self._seqs.get(tokens)
            if seq is None:
                cluster, is_new = self._place(tokens, message)
                if len(self._seqs) >= self.max_sequences:
                    cluster.overflow += 1
                    return cluster, cluster, is_new
                seq = self._seqs[tokens] = _Seq(tokens, cluster, message)
            else:
                is_new = False
            if None not in key and key != tokens:
                self._remember(self._alias, key, seq)
        else:
            is_new = False
        if seq.cacheable:
            self._remember(self._by_text, norm, seq)
        elif spans is None and None in key:
            spans = self._masker.kept
            if spans:
                self._remember(self._kept, norm, tuple(spans))
                self._remember(self._by_kept, (norm, *[message[a:b] for a, b in spans]), seq)
        elif spans is not None:
            self._remember(self._by_kept, (norm, *[message[a:b] for a, b in spans]), seq)
        seq.count += 1
        return seq.cluster, seq, is_new

    def _remember(self, cache: dict, key, seq: _Seq) -> None:
        if len(cache) >= self._cache_max:
            cache.clear()
        cache[key] = seq

    def _candidates(self, tokens: tuple[str, ...]) -> Iterator[_Cluster]:
        n = len(tokens)
        first = tokens[0] if tokens else ""
        yield from self._index.get((n, first), ())
        if first != W:
            yield from self._index.get((n, W), ())

    def _place(self, tokens: tuple[str, ...], message: str) -> tuple[_Cluster, bool]:
        n = len(tokens)
        best, best_sim = None, -1.0
        # The share of positions where the cluster has <*> or the same word (1.0 when empty).
        pairs = set(enumerate(tokens))
        for c in self._candidates(tokens):
            if c.known and _matches(c.tokens, tokens):
                return c, False
            sim = (c.nwild + len(c.pairs & pairs)) / n if n else 1.0
            if sim > best_sim:
                best, best_sim = c, sim
        full = len(self._clusters) >= self.max_templates
        if best is None or best_sim < self.similarity:
            # The first token may itself be variable (a user or host name): look at a
            # bounded number of the oldest clusters of the same length before giving up.
            for c in self._by_len.get(n, ())[:64]:
                sim = (c.nwild + len(c.pairs & pairs)) / n if n else 1.0
                if sim > best_sim:
                    best, best_sim = c, sim
        if best is not None and (best_sim >= self.similarity or full):
            self._generalize(best, tokens)
            return best, False
        if full:
            if self._overflow_cluster is None:
                self._overflow_cluster = _Cluster(template_id(OVERFLOW_TEMPLATE), [W], message)
            return self._overflow_cluster, False
        cid = template_id(" ".join(tokens))
        if cid in self._clusters:  # a known template with this exact text but other length
            return self._clusters[cid], False
        cluster = _Cluster(cid, list(tokens), message)
        self._register(cluster)
        return cluster, True

    def _register(self, cluster: _Cluster) -> None:
        self._clusters[cluster.id] = cluster
        n = len(cluster.tokens)
        first = cluster.tokens[0] if cluster.tokens else ""
        self._index[(n, first)].append(cluster)
        self._by_len[n].append(cluster)

    def _generalize(self, cluster: _Cluster, tokens: tuple[str, ...]) -> None:
        cluster.match = None
        old_first = cluster.tokens[0] if cluster.tokens else ""
        for i, (a, b) in enumerate(zip(cluster.tokens, tokens)):
            if a != b and a != W:
                cluster.tokens[i] = W
                cluster.pairs.discard((i, a))
                cluster.nwild += 1
        if cluster.tokens and old_first != cluster.tokens[0]:
            n = len(cluster.tokens)
            self._index[(n, old_first)].remove(cluster)
            self._index[(n, W)].append(cluster)

    # -- known templates --------------------------------------------------------------------

    def load(self, known: Iterable[tuple[str, str]]) -> None:
        """Seed the miner with known ``(id, template)`` pairs, e.g. yesterday's ``dump()``.

        Id rule: a message that fits a known template gets that template's id, online and in
        the final pass. When the final pass finds a template that is a generalization of
        one or more known templates (it has ``<*>`` where they had words), it keeps the id
        of the one among them that matched the most messages in this run, ties going to the
        one loaded first; so a pattern keeps its id from one day to the next even when its
        text widens. A final template that a known template covers (the known one is the
        wider) is reported as that known template, with its id and text.
        """
        for tid, template in known:
            tokens = tuple(str(template).split())
            tid = str(tid)
            if tid in self._known or len(self._known) >= self.max_templates:
                continue
            self._known[tid] = tokens
            if tid not in self._clusters and len(self._clusters) < self.max_templates:
                self._register(_Cluster(tid, list(tokens), "", known=True))
        self._final = None

    def dump(self) -> list[tuple[str, str]]:
        """``(id, template)`` of every final template, then of the loaded ones not seen in
        this run (so an absent pattern keeps its id for the next day)."""
        out = [(t.id, t.template) for t in self.templates()]
        seen = {tid for tid, _ in out}
        out += [(tid, " ".join(toks)) for tid, toks in self._known.items() if tid not in seen]
        return out

    # -- final pass ---------------------------------------------------------------------------

    def final_id(self, message_or_tokens: str | tuple[str, ...]) -> str:
        """Final template id of a message already given to ``add``."""
        return self._final_of(message_or_tokens)[0]

    def final_template(self, message_or_tokens: str | tuple[str, ...]) -> str:
        return self._final_of(message_or_tokens)[1]

    def _final_of(self, message_or_tokens: str | tuple[str, ...]) -> tuple[str, str]:
        tokens = (
            message_or_tokens
            if isinstance(message_or_tokens, tuple)
            else tokenize(message_or_tokens, self.max_tokens)
        )
        final = self._finalize()
        hit = final.get(tokens)
        if hit is not None:
            return hit
        seq = None
        for c in self._candidates(tokens):  # sequence not stored: use its online cluster
            if _matches(c.tokens, tokens):
                seq = tuple(c.tokens)
                break
        if seq is not None and seq in final:
            return final[seq]
        return final.get((W,), (template_id(OVERFLOW_TEMPLATE), OVERFLOW_TEMPLATE))

    def templates(self) -> list[Template]:
        """Final templates, most frequent first (ties by id, so the order is deterministic)."""
        self._finalize()
        if self._final_templates is None:
            self._final_templates = [Template(*f[:5]) for f in self._finals]
        return list(self._final_templates)

    def _finalize(self) -> dict[tuple[str, ...], tuple[str, str]]:
        if self._final is not None:
            return self._final
        counts: dict[tuple[str, ...], int] = {}
        examples: dict[tuple[str, ...], str] = {}
        for tokens, seq in self._seqs.items():
            counts[tokens] = seq.count
            examples[tokens] = seq.example
        overflowing = [
            c
            for c in list(self._clusters.values()) + [self._overflow_cluster]
            if c is not None and c.overflow
        ]
        for c in overflowing:
            if c.overflow:
                key = tuple(c.tokens)
                counts[key] = counts.get(key, 0) + c.overflow
                examples.setdefault(key, c.example)
        grouped = regroup(counts, self.split_max_values)

        # Final template text -> member sequences, in first-seen order.
        members: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for seq, tmpl in grouped.items():
            members.setdefault(tmpl, []).append(seq)
        known_items = list(self._known.items())
        known_rank = {tid: i for i, (tid, _) in enumerate(known_items)}
        by_text: dict[tuple[str, ...], tuple[str, list[tuple[str, ...]], bool]] = {}
        for tmpl, seqs in members.items():
            text, tid, is_new = self._name(tmpl, seqs, counts, known_items, known_rank)
            key = tuple(text.split()) if known_items else tmpl
            if key in by_text:
                by_text[key][1].extend(seqs)
            else:
                by_text[key] = (tid, list(seqs), is_new)

        finals = []
        for key, (tid, seqs, is_new) in by_text.items():
            total = sum(counts[s] for s in seqs)
            finals.append([tid, " ".join(key), total, examples[seqs[0]], is_new, seqs])
        finals.sort(key=lambda f: (-f[2], f[0]))
        if len(finals) > self.max_templates:
            # Keep the cap on the output too: the rarest templates become the catch-all.
            keep, rest = finals[: self.max_templates - 1], finals[self.max_templates - 1 :]
            spill = [
                template_id(OVERFLOW_TEMPLATE),
                OVERFLOW_TEMPLATE,
                sum(f[2] for f in rest),
                rest[0][3],
                True,
                [s for f in rest for s in f[5]],
            ]
            finals = keep + [spill]
        self._final = {}
        for tid, text, total, example, is_new, seqs in finals:
            pair = (tid, text)
            for s in seqs:
                self._final[s] = pair
        self._finals = finals  # the Template objects are made only if templates() asks
        self._final_templates = None
        for tokens, seq in self._seqs.items():
            seq.final = self._final[tokens]
        for c in overflowing:
            c.final = self._final[tuple(c.tokens)]
        return self._final

    def _name(self, tmpl, seqs, counts, known_items, known_rank) -> tuple[str, str, bool]:
        text = " ".join(tmpl)
        if not known_items:
            return text, template_id(text), True
        wider = [tid for tid, k in known_items if _matches(k, tmpl)]
        if wider:
            tid = wider[0]
            return " ".join(self._known[tid]), tid, False
        narrower = []
        for tid, k in known_items:
            if _matches(tmpl, k):
                hits = sum(counts[s] for s in seqs if _matches(k, s))
                narrower.append((-hits, known_rank[tid], tid))
        if narrower:
            return text, min(narrower)[2], False
        return text, template_id(text), True


def _looks_variable(value: str) -> bool:
    # Masked values, and dotted or hyphenated names (host names, domains, dotted keys):
    # such a column is a variable even with few values, e.g. the three sites a spider
    # crawled today. State names, verbs and the like are plain words.
    return W in value or _NAME_RE.search(value) is not None


_NAME_RE = re.compile(r"[A-Za-z0-9][.-][A-Za-z]")
#: A column with more than `split_max_values` (up to this many) distinct words still splits
#: when it behaves like an enumeration (`_enum_like`).
ENUM_MAX_VALUES = 8
_ENUM_WORD_RE = re.compile(r"[A-Za-z][A-Za-z_]*")
_BOOL_RE = re.compile(r"(?<![A-Za-z])(?:true|false|True|False|TRUE|FALSE)(?![A-Za-z])")


def _boolean_only(values) -> bool:
    # `overlap:true` / `overlap:false`: a flag's value, not another event, however few
    # values it takes.
    if not any(_BOOL_RE.search(v) for v in values):
        return False
    return len({_BOOL_RE.sub("", v) for v in values}) == 1


def _enum_like(group, pos, values, seqs) -> bool:
    """A column of 4 to ENUM_MAX_VALUES words is a closed set (lifecycle states, commands)
    rather than a variable (user names) when every value is a bare alphabetic word and every
    value recurs: a variable with a handful of values in a sample has one-off values."""
    for v in values:
        if _ENUM_WORD_RE.fullmatch(v) is None:
            return False
    per_value: dict[str, int] = {}
    for s in group:
        per_value[s[pos]] = per_value.get(s[pos], 0) + seqs[s]
    counts = per_value.values()
    return min(counts) >= 2 and max(counts) * 2 <= sum(counts)


def regroup(counts: dict[tuple[str, ...], int], split_max_values: int = SPLIT_MAX_VALUES):
    """Final grouping of distinct masked sequences (with their message counts).

    Returns sequence -> template tokens. Deterministic: depends only on the input dict
    (its order decides nothing but tie-free iteration order).
    """
    by_len: dict[int, dict[tuple[str, ...], int]] = defaultdict(dict)
    for seq, n in counts.items():
        by_len[len(seq)][seq] = n
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for n in sorted(by_len):
        out.update(_regroup_length(by_len[n], split_max_values))
    return out


def _regroup_length(seqs: dict[tuple[str, ...], int], split_max_values: int):
    if len(seqs) == 1:
        return {seq: seq for seq in seqs}
    # Per position, how many messages have each word there.
    keys = list(seqs)
    counts = list(seqs.values())
    freqs: list[dict[str, int]] = []
    for col in zip(*keys):
        f: dict[str, int] = {}
        get = f.get
        for tok, n in zip(col, counts):
            f[tok] = get(tok, 0) + n
        freqs.append(f)
    groups: dict[tuple, list[tuple[str, ...]]] = {}
    for seq in keys:
        fl = [f[tok] for f, tok in zip(freqs, seq)]
        fs = [x for x, tok in zip(fl, seq) if tok != W] if W in seq else fl
        if not fs:
            groups.setdefault((), []).append(seq)
            continue
        # The constant words of one logging call occur exactly as often as each other:
        # the frequency most of this sequence's words share marks them (ties: the higher).
        distinct = set(fs)
        if len(distinct) == 1:
            root = fs[0]
        else:
            root = max(distinct, key=lambda x: (fs.count(x), x))
        # The constant part: the word at each position where it has that frequency
        # (None elsewhere, and at every `<*>`).
        key = tuple([tok if x == root and tok != W else None for x, tok in zip(fl, seq)])
        group = groups.get(key)
        if group is None:
            groups[key] = [seq]
        else:
            group.append(seq)
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    variable: dict[str, bool] = {}
    for key, members in groups.items():
        if len(members) == 1:
            out[members[0]] = members[0]
            continue
        stack = [(members, frozenset(pos for pos, tok in enumerate(key) if tok is not None))]
        while stack:
            group, fixed = stack.pop()
            if len(group) == 1:
                out[group[0]] = group[0]
                continue
            columns = list(zip(*group))
            column = None
            candidates = []
            nvals = []
            for pos, col in enumerate(columns):
                values = set(col)
                nvals.append(len(values))
                if len(values) > 1 and pos not in fixed:
                    candidates.append((len(values), pos, values))
            candidates.sort(key=_FIRST_TWO)
            for nvalues, pos, values in candidates:
                if nvalues > ENUM_MAX_VALUES:
                    break  # sorted by the number of values: no later one qualifies
                # Few distinct plain words: an enumerated constant (a state, a verb), so
                # the column splits the group; masked values or many words: a variable.
                for v in values:
                    isvar = variable.get(v)
                    if isvar is None:
                        isvar = variable[v] = _looks_variable(v)
                    if isvar:
                        break
                else:
                    if _boolean_only(values):
                        continue
                    if nvalues > split_max_values and not _enum_like(group, pos, values, seqs):
                        continue
                    column = pos
                    break
            if column is not None:
                parts: dict[str, list[tuple[str, ...]]] = {}
                for s in group:
                    parts.setdefault(s[column], []).append(s)
                for part in parts.values():
                    stack.append((part, fixed | {column}))
                continue
            first = group[0]
            tmpl = tuple(first[pos] if nv == 1 else W for pos, nv in enumerate(nvals))
            for s in group:
                out[s] = tmpl
    return out


_FIRST_TWO = itemgetter(0, 1)

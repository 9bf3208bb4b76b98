"""The miniature's training loop: GRPO steps on the bandit, recorded as a training table.

:func:`run_minirft` builds the candidate pool of the training prompts, then for each step
takes the next batch of prompts (the training set is reshuffled every epoch), samples a
group of n candidates per prompt, scores them with the real reward (each candidate once,
:class:`~svgkit.minirft.scoring.RewardCache`), computes group-relative advantages and updates
the policy (:mod:`svgkit.minirft.policy`). Every step becomes a
:class:`~svgkit.training_log.TrainingStep`, the same row type a live job's metrics are
converted to. A run is deterministic for its seed.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from .._aio import run_sync
from ..config import MINIRFT
from ..dataset import Prompt, load_bundled_prompts, load_examples, to_eval_rows
from ..judge import requirement_kind
from ..scoring import ScoredAnswer
from ..training_log import TrainingLog, TrainingStep
from .candidates import Candidate, CandidatePool, build_pool
from .policy import SoftmaxPolicy, group_advantages
from .scoring import JUDGES, CandidateScore, JudgeName, RewardCache

__all__ = ["BANNER", "MiniRftConfig", "MiniRftRun", "PolicyAnswer", "PromptOutcome", "compare_runs_table",
           "run_minirft"]

#: What every result of the miniature says about itself.
BANNER = ("RFT in miniature: a softmax bandit choosing among fixed candidate answers (bundled examples "
          "and edits of them), trained GRPO-style on the real reward. It is not a language model.")


@dataclass(frozen=True)
class MiniRftConfig:
    """One run of the miniature (defaults: :data:`svgkit.config.MINIRFT`).

    Attributes:
        steps: Training steps.
        seed: Seed of the sampling (a run is deterministic for it).
        prompt_ids: Bundled prompts to train on.
        prompts_per_step: Prompts in each step's batch.
        group_size: Samples per prompt per step (GRPO's n).
        learning_rate: Step size on the logits.
        kl_coef: Weight of the KL penalty towards the starting policy.
        advantage_eps: Epsilon of the advantage normalisation.
        judge: ``"rule"`` (the offline rule judge) or ``"gullible"`` (the demonstration judge
            that takes written-out requirements as drawn: :class:`~svgkit.minirft.GullibleJudge`).
        guards: ``True`` (always, except to demonstrate reward hacking): the reward as the
            evaluator gives it. ``False`` trains on the judge's own count, the written-text
            guard switched off.
        concurrency: Candidates scored at once.
    """

    steps: int = MINIRFT.steps
    seed: int = MINIRFT.seed
    prompt_ids: tuple[str, ...] = MINIRFT.prompt_ids
    prompts_per_step: int = MINIRFT.prompts_per_step
    group_size: int = MINIRFT.group_size
    learning_rate: float = MINIRFT.learning_rate
    kl_coef: float = MINIRFT.kl_coef
    advantage_eps: float = MINIRFT.advantage_eps
    judge: JudgeName = "rule"
    guards: bool = True
    concurrency: int = MINIRFT.concurrency

    def __post_init__(self) -> None:
        problems = []
        if self.steps < 1:
            problems.append(f"steps must be at least 1, not {self.steps}")
        if self.group_size < 2:
            problems.append(f"group_size must be at least 2 (GRPO compares samples of a group), not {self.group_size}")
        if not self.prompt_ids:
            problems.append("prompt_ids is empty: give at least one bundled prompt id")
        if len(set(self.prompt_ids)) != len(self.prompt_ids):
            problems.append("prompt_ids has repeats")
        if not 1 <= self.prompts_per_step:
            problems.append(f"prompts_per_step must be at least 1, not {self.prompts_per_step}")
        if self.learning_rate <= 0 or self.kl_coef < 0 or self.advantage_eps < 0:
            problems.append("learning_rate must be positive, kl_coef and advantage_eps at least 0")
        if self.judge not in JUDGES:
            problems.append(f"judge must be one of {', '.join(JUDGES)}, not {self.judge!r}")
        if self.concurrency < 1:
            problems.append(f"concurrency must be at least 1, not {self.concurrency}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def label(self) -> str:
        """A short label of the run (judge, guards, seed)."""
        guards = "guards on" if self.guards else "GUARDS OFF (demonstration)"
        return f"miniature: {self.judge} judge, {guards}, seed {self.seed}"


@dataclass(frozen=True)
class PolicyAnswer:
    """A candidate with the probability a policy gives it, and its reward.

    Attributes:
        prompt_id: The prompt.
        candidate: The candidate.
        probability: Its probability under the policy.
        reward: Its reward (as the run was trained: guards on or off), ``None`` when never scored.
    """

    prompt_id: str
    candidate: Candidate
    probability: float
    reward: float | None


@dataclass(frozen=True)
class PromptOutcome:
    """What training did on one prompt.

    Attributes:
        prompt_id: The prompt.
        candidates: Candidates in its pool.
        distinct_rewards: Distinct rewards among its candidates.
        moved: Whether its policy changed at all (``False``: every group it got had zero spread).
        start_best: The starting policy's most likely candidate (ties: pool order).
        final_best: The final policy's most likely candidate.
    """

    prompt_id: str
    candidates: int
    distinct_rewards: int
    moved: bool
    start_best: PolicyAnswer
    final_best: PolicyAnswer


@dataclass(frozen=True)
class MiniRftRun:
    """The result of :func:`run_minirft`.

    Attributes:
        config: The run's settings.
        log: The per-step training table.
        pool: The candidates.
        start_probs: Per prompt, the starting policy (uniform).
        final_probs: Per prompt, the policy after the last step.
        scores: Rewards of every candidate, by candidate id.
        outcomes: Per prompt, what training did there.
        seconds: Wall time of the run.
        newly_scored: Candidates this run scored (the rest came from the cache), the few the
            policy never sampled included: they are scored at the end for the expected rewards.
        start_reward: Expected reward of the starting policy (mean over prompts of
            ``sum_i pi_start(i) r_i`` over every candidate).
        final_reward: Expected reward of the final policy.
        start_samples: Per prompt, the index of the first candidate the starting policy
            sampled for it (its first group's first sample; 0 for a prompt never visited).
    """

    # The bulky fields stay out of the repr: a notebook's plain-text fallback would hold them all.
    config: MiniRftConfig
    log: TrainingLog = field(repr=False)
    pool: CandidatePool = field(repr=False)
    start_probs: tuple[tuple[float, ...], ...] = field(repr=False)
    final_probs: tuple[tuple[float, ...], ...] = field(repr=False)
    scores: dict[str, CandidateScore] = field(repr=False)
    outcomes: tuple[PromptOutcome, ...] = field(default=(), repr=False)
    seconds: float = 0.0
    newly_scored: int = 0
    start_reward: float = 0.0
    final_reward: float = 0.0
    start_samples: tuple[int, ...] = field(default=(), repr=False)

    banner = BANNER

    def _reward(self, c: Candidate) -> float | None:
        s = self.scores.get(c.id)
        return None if s is None else s.value(guards=self.config.guards)

    def answers(self, which: Literal["start", "final"] = "final", *, top: int = 1) -> list[PolicyAnswer]:
        """Each prompt's ``top`` most likely candidates under the starting or the final policy.

        Ties (the uniform start) go by pool order: the first bundled example's original first.
        """
        probs = self.start_probs if which == "start" else self.final_probs
        out = []
        for p, cands, ps in zip(self.pool.prompts, self.pool.candidates, probs, strict=True):
            order = sorted(range(len(cands)), key=lambda i: (-ps[i], i))[:top]
            out += [PolicyAnswer(p.id, cands[i], ps[i], self._reward(cands[i])) for i in order]
        return out

    def scored_answers(self, which: Literal["start", "final"] = "final") -> list[ScoredAnswer]:
        """Each training prompt's answer before (``"start"``) or after (``"final"``) training, as scored records.

        The records are :class:`svgkit.scoring.ScoredAnswer`, the type notebook 02 scores
        answers into, so the miniature's answers before and after training go through the
        same tables and galleries. One per prompt, in pool order.

        - ``"final"``: the final policy's most likely candidate (ties: pool order);
        - ``"start"``: the first candidate the starting policy sampled for the prompt. The
          starting policy is uniform, so every candidate is equally likely; its first draw is
          a fair picture of "before", where a tie broken by pool order would always show the
          first bundled example (usually the best one);
        - ``row_id`` is the prompt's dataset row (``row_<index>``, as
          :func:`svgkit.dataset.to_eval_rows` names it), the same in both lists;
        - ``example_id`` is the bundled example's id when the answer is that example unedited
          (``ui03-a``), else the candidate's id (``ui03-a:paste``);
        - ``labels`` are the example's hand labels for an unedited example, else ``None``;
        - ``source`` is ``"miniature"``; ``result`` is the evaluator's ``EvaluateResult``:
          always the reward with the guards on, also for a run trained with the guards off
          (a demonstration's pasted answers show the score the real reward gives them).

        Args:
            which: ``"start"`` or ``"final"``.

        Raises:
            ValueError: ``which`` is neither.
        """
        if which not in ("start", "final"):
            raise ValueError(f"which must be 'start' or 'final', not {which!r}")
        labels = {ex.example_id: ex.labels for ex in load_examples()}
        if which == "final":
            chosen = [a.candidate for a in self.answers("final")]
        else:
            chosen = [cands[i] for cands, i in zip(self.pool.candidates, self.start_samples, strict=True)]
        out = []
        for prompt, c in zip(self.pool.prompts, chosen, strict=True):
            score = self.scores[c.id]
            if score.result is None:  # pragma: no cover - every candidate is scored at the end of a run
                raise ValueError(f"candidate {c.id} has no evaluator result")
            original = c.edit == "original"
            (row,) = to_eval_rows([prompt])
            out.append(ScoredAnswer(row_id=row["input_metadata"]["row_id"], sample_index=0, prompt=prompt.prompt,
                                    requirements=tuple(prompt.requirements), response=c.response,
                                    source="miniature", result=score.result,
                                    example_id=c.example_id if original else c.id,
                                    labels=labels.get(c.example_id) if original else None))
        return out

    def expected_reward(self, which: Literal["start", "final"] = "final", *, guards: bool | None = None) -> float:
        """Expected reward of the starting or final policy, the mean over prompts of ``sum_i pi(i) r_i``.

        Args:
            which: ``"start"`` or ``"final"``.
            guards: Score with the guards on or off; ``None`` (the default): as the run trained.
                ``guards=True`` on a guards-off demonstration gives the real reward of what it learned.
        """
        probs = self.start_probs if which == "start" else self.final_probs
        on = self.config.guards if guards is None else guards
        return float(np.mean([sum(p * self.scores[c.id].value(guards=on) for c, p in zip(cands, ps, strict=True))
                              for cands, ps in zip(self.pool.candidates, probs, strict=True)]))

    def prompt_table(self) -> str:
        """A Markdown table, one row per prompt: its pool, whether it moved, its answer before and after.

        "Before" is the starting policy's first draw (:attr:`start_samples`), "after" the final
        policy's most likely candidate with its probability; rewards as the run trained.
        """
        lines = [f"*{self.banner}*", "",
                 "| prompt | candidates | distinct rewards | moved | before: first draw (reward) "
                 "| after: most likely (probability, reward) |",
                 "|---|---:|---:|---|---|---|"]
        finals = self.answers("final")
        for o, cands, i, last in zip(self.outcomes, self.pool.candidates, self.start_samples, finals, strict=True):
            first = cands[i]
            lines.append(f"| {o.prompt_id} | {o.candidates} | {o.distinct_rewards} | {'yes' if o.moved else '**no**'} "
                         f"| `{first.id}` ({self._reward(first) or 0.0:.2f}) "
                         f"| `{last.candidate.id}` ({last.probability:.0%}, {last.reward or 0.0:.2f}) |")
        return "\n".join(lines)

    def paste_share(self, which: Literal["start", "final"] = "final") -> float:
        """Mean probability, over prompts, of the candidates that paste the requirements as text."""
        probs = self.start_probs if which == "start" else self.final_probs
        shares = [sum(pr for c, pr in zip(cands, ps, strict=True) if c.pastes_requirements)
                  for cands, ps in zip(self.pool.candidates, probs, strict=True)]
        return float(np.mean(shares))

    @property
    def unmoved(self) -> tuple[str, ...]:
        """Prompts whose policy never moved (every group they got had zero spread)."""
        return tuple(o.prompt_id for o in self.outcomes if not o.moved)

    def summary(self) -> str:
        """A few lines: reward at the start and the end, zero-spread share, KL, time."""
        steps = self.log.steps
        k = max(1, len(steps) // 6)
        start = float(np.mean([s.reward_mean for s in steps[:k]]))
        end = float(np.mean([s.reward_mean for s in steps[-k:]]))
        zero = float(np.mean([s.zero_spread_share or 0.0 for s in steps]))
        lines = [
            self.banner,
            f"{self.config.label}; {len(self.pool.prompts)} prompts, {len(self.pool)} candidates, "
            f"{self.config.steps} steps of {self.config.prompts_per_step} prompts x n={self.config.group_size}",
            f"reward: {start:.3f} (mean of the first {k} steps) -> {end:.3f} (last {k} steps); expected reward "
            f"of the policy {self.start_reward:.3f} -> {self.final_reward:.3f}",
            f"groups with zero spread (no learning signal): {zero:.0%} of all; prompts that never moved: "
            f"{len(self.unmoved)} of {len(self.pool.prompts)}" + (f" ({', '.join(self.unmoved)})" if self.unmoved
                                                                  else ""),
            f"KL to the start at the end: {steps[-1].kl_to_start or 0.0:.3f} nats; share of the policy on "
            f"requirement-pasting candidates: {self.paste_share('start'):.0%} -> {self.paste_share('final'):.0%}",
            f"{self.newly_scored} candidates scored through the reward (the rest cached), {self.seconds:.1f} s",
        ]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        body = self.summary().splitlines()
        return f"**{body[0]}**\n\n" + "\n".join(f"- {line}" for line in body[1:])


def compare_runs_table(runs: Mapping[str, MiniRftRun]) -> str:
    """A Markdown table comparing runs of the miniature (the reward-hacking demonstration: guards off vs on).

    Per run: the policy's share on requirement-pasting candidates, the expected reward it was
    trained on, and the expected *real* reward (guards on), each at the start and the end.

    Args:
        runs: Label -> run, in row order.
    """
    lines = [f"*{BANNER}*", "",
             "| run | judge | guards | share on pasting answers | reward trained on | real reward (guards on) |",
             "|---|---|---|---|---|---|"]
    for label, run in runs.items():
        guards = "on" if run.config.guards else "**OFF** (demonstration)"
        lines.append(f"| {label} | {run.config.judge} | {guards} "
                     f"| {run.paste_share('start'):.0%} → {run.paste_share('final'):.0%} "
                     f"| {run.expected_reward('start'):.3f} → {run.expected_reward('final'):.3f} "
                     f"| {run.expected_reward('start', guards=True):.3f} → "
                     f"{run.expected_reward('final', guards=True):.3f} |")
    return "\n".join(lines)


def _prompts(ids: Sequence[str]) -> list[Prompt]:
    by_id = {p.id: p for p in load_bundled_prompts()}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ValueError(f"unknown bundled prompt id(s) {', '.join(missing)}: choose from {', '.join(sorted(by_id))}")
    return [by_id[i] for i in ids]


def _pass_rates(groups: Sequence[tuple[Prompt, Sequence[CandidateScore]]], guards: bool) -> dict[str, float]:
    hit: dict[str, int] = {}
    total: dict[str, int] = {}
    for prompt, scores in groups:
        kinds = [requirement_kind(r) for r in prompt.requirements]
        for s in scores:
            if not s.valid:
                continue
            for kind, ok in zip(kinds, s.passes(guards=guards), strict=True):
                total[kind] = total.get(kind, 0) + 1
                hit[kind] = hit.get(kind, 0) + int(ok)
    return {k: hit[k] / total[k] for k in sorted(total)}


def run_minirft(config: MiniRftConfig | None = None, *, cache: RewardCache | None = None,
                progress: bool = False, on_step: Callable[[TrainingStep], None] | None = None) -> MiniRftRun:
    """Train the miniature: GRPO on a softmax bandit over candidate answers, with the real reward.

    Args:
        config: The run (default: :class:`MiniRftConfig` defaults).
        cache: Rewards already computed (share one between runs to score each candidate once).
        progress: Show a progress bar over the steps.
        on_step: Called with each step's row as soon as it is recorded (for live plots).

    Returns:
        The run: its training table, the start and final policies and what happened per prompt.

    Raises:
        ValueError: Unknown prompt ids, or a prompt without bundled example answers.
    """
    from tqdm.auto import tqdm

    config = config or MiniRftConfig()
    cache = RewardCache() if cache is None else cache  # an empty cache is falsy
    started, scored_before = time.perf_counter(), cache.scored
    prompts = _prompts(config.prompt_ids)
    pool = build_pool(prompts, load_examples())
    policy = SoftmaxPolicy([len(c) for c in pool.candidates])
    rng = np.random.default_rng(config.seed)
    n_prompts = len(prompts)
    batch = min(config.prompts_per_step, n_prompts)
    order: list[int] = []
    rows: list[TrainingStep] = []
    first_sample: dict[int, int] = {}
    for step in tqdm(range(config.steps), desc="miniature RFT", disable=not progress):
        if len(order) < batch:  # a new epoch: reshuffle the training set
            order += [int(i) for i in rng.permutation(n_prompts)]
        chosen, order = order[:batch], order[batch:]
        actions = {i: policy.sample(i, config.group_size, rng) for i in chosen}
        for i in chosen:  # a prompt's first visit: its policy is still the starting one
            first_sample.setdefault(i, int(actions[i][0]))
        items = [(pool.candidates[i][a], prompts[i]) for i in chosen for a in actions[i]]
        scores = run_sync(cache.ascore(items, judge=config.judge, concurrency=config.concurrency))
        groups, rewards_all, zero = [], [], 0
        for n, i in enumerate(chosen):
            group = scores[n * config.group_size:(n + 1) * config.group_size]
            valid = [(int(a), s.value(guards=config.guards)) for a, s in zip(actions[i], group, strict=True) if s.valid]
            rewards = [r for _, r in valid]
            adv = group_advantages(rewards, eps=config.advantage_eps)
            zero += int(not adv.any())
            policy.update(i, [a for a, _ in valid], adv, learning_rate=config.learning_rate, kl_coef=config.kl_coef)
            groups.append((prompts[i], group))
            rewards_all += rewards
        row = TrainingStep(
            run=config.label, source="miniature", step=step,
            reward_mean=float(np.mean(rewards_all)) if rewards_all else 0.0,
            epoch=(step + 1) * batch / n_prompts,
            reward_std=float(np.std(rewards_all)) if rewards_all else 0.0,
            zero_spread_share=zero / len(chosen),
            kl_to_start=float(np.mean([policy.kl_to_start(i) for i in range(n_prompts)])),
            entropy=float(np.mean([policy.entropy(i) for i in range(n_prompts)])),
            samples=len(items), pass_rates=_pass_rates(groups, config.guards),
            extra={"paste_share": float(np.mean([sum(p for c, p in zip(cands, policy.probs(i), strict=True)
                                                      if c.pastes_requirements)
                                                  for i, cands in enumerate(pool.candidates)]))})
        rows.append(row)
        if on_step is not None:
            on_step(row)
    start = tuple(tuple(float(x) for x in policy.start_probs(i)) for i in range(n_prompts))
    final = tuple(tuple(float(x) for x in policy.probs(i)) for i in range(n_prompts))
    everything = [(c, prompts[i]) for i, cands in enumerate(pool.candidates) for c in cands]
    all_scores = run_sync(cache.ascore(everything, judge=config.judge, concurrency=config.concurrency))
    rewards = {c.id: s for (c, _), s in zip(everything, all_scores, strict=True)}

    def expected(probs: tuple[tuple[float, ...], ...]) -> float:
        return float(np.mean([sum(p * rewards[c.id].value(guards=config.guards) for c, p in zip(cands, ps, strict=True))
                              for cands, ps in zip(pool.candidates, probs, strict=True)]))

    run = MiniRftRun(config, TrainingLog(tuple(rows)), pool, start, final, rewards,
                     seconds=time.perf_counter() - started, newly_scored=cache.scored - scored_before,
                     start_reward=expected(start), final_reward=expected(final),
                     start_samples=tuple(first_sample.get(i, 0) for i in range(n_prompts)))
    outcomes = []
    bests = zip(run.answers("start"), run.answers("final"), strict=True)
    for i, (p, cands, (first, last)) in enumerate(zip(pool.prompts, pool.candidates, bests, strict=True)):
        distinct = {round(rewards[c.id].value(guards=config.guards), 9) for c in cands}
        outcomes.append(PromptOutcome(p.id, len(cands), len(distinct), policy.moved(i), first, last))
    return replace(run, outcomes=tuple(outcomes))


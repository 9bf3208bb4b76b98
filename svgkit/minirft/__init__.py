"""RFT in miniature: GRPO on the real reward, offline, in under a minute. Not a language model.

What notebooks call (a stable API; notebook 05 relies on it)::

    from svgkit.minirft import MiniRftConfig, RewardCache, run_minirft

    cache = RewardCache()                       # share it: each candidate is scored once
    run = run_minirft(MiniRftConfig(seed=0), cache=cache, progress=True)   # -> MiniRftRun
    run.log                                     # svgkit.training_log.TrainingLog, one TrainingStep per step
    before = run.scored_answers("start")        # list[svgkit.scoring.ScoredAnswer], one per training
    after = run.scored_answers("final")         #   prompt, same order and row_id in both lists
    run.summary()                               # the figures in a few lines (says it is a miniature)
    run.start_reward, run.final_reward          # expected reward of the starting / final policy
    run.unmoved                                 # prompt ids whose policy never moved (zero spread)

    # the reward-hacking demonstration (never the default): a gullible judge, guards off vs on
    hack = run_minirft(MiniRftConfig(judge="gullible", guards=False), cache=cache)
    safe = run_minirft(MiniRftConfig(judge="gullible", guards=True), cache=cache)
    hack.paste_share("final"), safe.paste_share("final")   # policy share on requirement-pasting answers

``scored_answers`` gives the records notebook 02 scores answers into, so "before" (the
first answer the starting policy sampled for the prompt: it is uniform, so every candidate is
equally likely) and "after" (the final policy's most likely answer) go through the same
tables and galleries. Their ``result`` is always the evaluator's reward with the guards on.

No language model can be trained here, so the policy is a *bandit*: for each training prompt,
a softmax over a fixed pool of candidate answers (the bundled example answers and
deterministic edits of them, :mod:`~svgkit.minirft.candidates`). Training follows Fireworks
RFT's GRPO in spirit (:mod:`~svgkit.minirft.policy`, :mod:`~svgkit.minirft.train`): each
step samples n answers per prompt for a batch of prompts, scores them with the real reward
through the evaluator's own code path (:func:`svgkit.evaluation.ascore_row`; each candidate
rendered and judged once, :mod:`~svgkit.minirft.scoring`), computes group-relative advantages
``(r - mean) / (std + eps)`` and takes a policy-gradient step with a KL penalty towards the
starting policy. Each step is a :class:`svgkit.training_log.TrainingStep`, the row type a
live job's metrics are converted to, so notebooks 04 and 05 plot both the same way.

What it shows in a minute:

- the reward rising as the policy moves its weight to the better answers;
- prompts whose sampled candidates all score the same never move: their advantages are
  exactly zero (:attr:`MiniRftRun.unmoved`);
- reward hacking: trained against a judge that takes written-out requirements as drawn
  (:class:`GullibleJudge`, a labelled demonstration stand-in) with the reward's written-text
  guard switched off (``guards=False``, never the default), the policy learns to prefer
  the candidates that paste the requirements as text; with the guard on it does not. The
  rule judge itself does not pay for pasted text, guards or not (see the module docs of
  :mod:`~svgkit.minirft.scoring`).

A bandit cannot write a new answer, so it cannot generalise: it shows what GRPO does with a
reward, not what a trained model would draw.

Command line: ``python -m svgkit.minirft --steps N --seed S --out FILE`` (``--help`` for more).
"""

from .candidates import EDITS, PASTE_EDIT, Candidate, CandidatePool, build_pool, edit_svg
from .policy import SoftmaxPolicy, entropy, group_advantages, kl_divergence, softmax
from .scoring import GULLIBLE_REASON, JUDGES, CandidateScore, GullibleJudge, JudgeName, RewardCache, candidate_row
from .train import BANNER, MiniRftConfig, MiniRftRun, PolicyAnswer, PromptOutcome, compare_runs_table, run_minirft

__all__ = [
    "BANNER",
    "EDITS",
    "GULLIBLE_REASON",
    "JUDGES",
    "PASTE_EDIT",
    "Candidate",
    "CandidatePool",
    "CandidateScore",
    "GullibleJudge",
    "JudgeName",
    "MiniRftConfig",
    "MiniRftRun",
    "PolicyAnswer",
    "PromptOutcome",
    "RewardCache",
    "SoftmaxPolicy",
    "build_pool",
    "candidate_row",
    "compare_runs_table",
    "edit_svg",
    "entropy",
    "group_advantages",
    "kl_divergence",
    "run_minirft",
    "softmax",
]

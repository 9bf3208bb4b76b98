"""The SVG-drawing evaluator: one pointwise Eval Protocol ``@evaluation_test``.

Run it with ``pytest svgkit/evaluator.py`` (notebook 02 does, in a subprocess) or upload it
to Fireworks (notebook 03). It holds no logic of its own: :func:`svgkit.evaluation.evaluator_plan`
chooses the dataset, rollout processor and completion parameters from the mode, and
:func:`svgkit.evaluation.ascore_row` scores each row with svgkit's reward.

- live (``FIREWORKS_API_KEY``): the policy answers each training row (``SingleTurnRolloutProcessor``);
- offline: the bundled example responses, already in their rows, are scored (``NoOpRolloutProcessor``);
- remote (``SVGKIT_ROLLOUT_SERVER_URL``): a rollout server answers each row (``RemoteRolloutProcessor``,
  see :mod:`svgkit.rollout_server`), live or as an offline rehearsal against a local stand-in;
- the judge is the vision judge with ``OPENAI_API_KEY``; the offline rule judge scores the
  bundled examples, and scores live rollouts only when chosen with ``SVGKIT_JUDGE=rule``. Without
  that choice or a judge key, a live run stops here, at collection, with an error naming the
  missing key and how to provide it (:func:`svgkit.judge.choose_judge`). Every row's reason and
  ``judge`` metric say which judge scored it.
"""
# No `from __future__ import annotations` here: Eval Protocol validates this signature.

from eval_protocol.models import EvaluationRow
from eval_protocol.pytest import evaluation_test

from svgkit.config import EVALUATION
from svgkit.evaluation import ascore_row, evaluator_plan
from svgkit.judge import default_judge

PLAN = evaluator_plan()
JUDGE = default_judge(choice=PLAN.judge)  # raises JudgeNotChosenError before any rollout is paid for

__all__ = ["JUDGE", "PLAN", "test_svg_drawing"]


@evaluation_test(
    input_dataset=[str(PLAN.dataset)],
    completion_params=[PLAN.completion_params],
    rollout_processor=PLAN.rollout_processor(),
    mode="pointwise",
    num_runs=1,
    max_concurrent_rollouts=PLAN.max_concurrent_rollouts,
    max_concurrent_evaluations=EVALUATION.concurrency,
)
async def test_svg_drawing(row: EvaluationRow) -> EvaluationRow:
    """Score one answer: extract the SVG, render it safely, judge each requirement."""
    row.evaluation_result = await ascore_row(row, judge=JUDGE)
    return row

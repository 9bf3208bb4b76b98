"""svgkit.before_after: the holdout comparison is honest offline and runs live end to end, through the real
fireworks SDK (deployments on the Fireworks stand-in) and the real generate-and-score path (a chat stand-in
serving a poor base and a better tuned model), and a job's curve becomes a training table."""

from dataclasses import replace

import pytest

from svgkit import analysis, before_after, deploy
from svgkit import rehearsal as rehearsal_module
from svgkit.config import ANALYSIS, MODELS, REHEARSAL, get_settings, output_path, with_spending
from svgkit.dataset import to_eval_rows
from svgkit.fireworks_api import RftJobInfo
from svgkit.judge import RuleJudge
from svgkit.rehearsal import open_platform
from svgkit.rft.monitor import JobWatch, RewardSeries
from svgkit.standin.chat import Completion

FW_KEY = "fw_3ZfakeKEYforHOLDOUTtestsONLY9d8c7b6a5f4e3d2c1b0a"
BASE = MODELS.training_base
GOOD = ("```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='200' height='200'><rect width='200' height='200' "
        "fill='white'/><circle cx='100' cy='100' r='60' fill='red'/></svg>\n```")
BAD = "I would rather describe it: a red circle on white."


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(rehearsal_module, "REHEARSAL", replace(REHEARSAL, poll_s=0.01))


def _rows():
    from svgkit.dataset import Prompt

    prompts = [Prompt(f"h{i}", f"Draw a red circle, take {i}.", ("The background is white.", "There is a red circle."),
                      "icon", 50 + i) for i in range(4)]
    return to_eval_rows(prompts)


def test_offline_the_holdout_says_it_needs_a_live_model_and_sends_nothing(tmp_path):
    s = open_platform("deploy", state_dir=tmp_path / "standin", speed=600)
    try:
        tuned = deploy.serve_model(s, BASE, allow=True, progress=False)
        base = deploy.serve_base_model(s, allow=True, progress=False)
        plan = before_after.plan_holdout(_rows(), base=base, tuned=tuned)
        assert not plan.ready and plan.message == before_after.HOLDOUT_NEEDS_LIVE
        assert "needs a live model" in repr(plan) and "bandit" in repr(plan)
        assert plan.estimates[0].generation_calls == 4 * ANALYSIS.holdout_samples
        run = before_after.sample_holdout(plan, allow=True)
        assert not run.ran and run.before == () and "needs a live model" in repr(run)
        deploy.cleanup_deployments(s)
    finally:
        s.close()


def test_live_both_models_are_sampled_scored_and_compared_and_a_rerun_resumes(live_platform, chat_standin):
    asked = []

    def answer(request):
        model = request.json()["model"]
        asked.append(model)
        return Completion(GOOD if "#" in model and "tuned" in model.split("#")[1] else BAD)

    chat_standin.responder = answer
    with live_platform("deploy", api_key=FW_KEY, speed=600) as (_, s):
        settings = with_spending(True, get_settings())
        # the base model stands in for the LoRA (the stand-in holds no tuned model); served the same way
        tuned = deploy.serve_model(s, BASE, allow=True, purpose="tuned", progress=False)
        base = deploy.serve_base_model(s, allow=True, serverless=True)
        assert tuned.answers and base.answers
        here = {"base_url": chat_standin.base_url}  # the chat stand-in plays Fireworks' inference API
        plan = before_after.plan_holdout(_rows(), base=replace(base, **here), tuned=replace(tuned, **here),
                                         samples=2, settings=settings)
        assert plan.ready and "SAMPLE_HOLDOUT = True" in repr(plan)
        held = before_after.sample_holdout(plan, allow=False, settings=settings)
        assert not held.ran and not asked
        run = before_after.sample_holdout(plan, allow=True, settings=settings, judge=RuleJudge(), progress=False)
        assert run.ran and len(run.before) == len(run.after) == 8
        assert set(asked) == {BASE, tuned.inference_model}
        assert output_path(f"{ANALYSIS.holdout_dir}/tuned.jsonl").is_file()
        result = analysis.compare(run.before, run.after, source="holdout, live (test)")
        assert result.scores.mean_before == 0.0 and result.scores.mean_after > 0.4
        assert result.scores.interval.excludes_zero
        assert result.validity.before["no_svg"] == 8 and result.validity.after["no_svg"] == 0
        n = len(asked)
        again = before_after.sample_holdout(plan, allow=True, settings=settings, judge=RuleJudge(), progress=False)
        assert len(asked) == n and [a.score for a in again.after] == [a.score for a in run.after]  # resumed
        deploy.cleanup_deployments(s)


def _watch(points):
    job = RftJobInfo(id="job-1", name="accounts/a/reinforcementFineTuningJobs/job-1", state="COMPLETED",
                     percent=100, epoch=7, epochs=8, processed_requests=None, total_requests=None,
                     failed_requests=None, status_code="OK", status_message="", dataset="", evaluator="",
                     base_model=BASE, output_model="", output_metrics={}, accelerator_seconds={},
                     create_time=None, completed_time=None)
    series = RewardSeries(tuple(points), "train/reward", "wandb") if points is not None else None
    return JobWatch(job, (), 1.0, False, "https://example.invalid", series)


def test_a_job_s_reward_curve_becomes_a_training_table():
    log = before_after.job_training_log(_watch([(0, 0.1), (2, 0.3), (1, 0.2)]))
    assert [s.step for s in log] == [0, 1, 2] and log.column("reward_mean") == [0.1, 0.2, 0.3]
    assert log.source == "wandb" and log.run == "job-1" and not log.is_miniature
    assert before_after.job_training_log(_watch(None)) is None
    assert before_after.job_training_log(_watch([])) is None


def test_with_no_job_recorded_the_outcome_says_to_run_notebook_04(tmp_path):
    s = open_platform("deploy", state_dir=tmp_path / "standin", speed=600)
    try:
        outcome = before_after.job_outcome(s, progress=False)
        assert "run notebook 04 first" in outcome and not isinstance(outcome, JobWatch)
    finally:
        s.close()

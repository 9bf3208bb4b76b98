"""svgkit.rft against the local Fireworks stand-in, through the real SDK: spec checks, estimate, signal,
dataset upload, launch, reattach after a restart, cancel, failures, 403, monitoring."""

import json
import sys
import types
import typing
from dataclasses import replace

import pytest
from conftest import evaluator_folder

from svgkit import dataset, rft
from svgkit import rehearsal as rehearsal_module
from svgkit.config import FILES, PRICES, REHEARSAL, RFT, RFT_PRICING, Settings, get_settings, output_path
from svgkit.fireworks_api import AccessDeniedError, ServiceUnavailableError
from svgkit.judge import RuleJudge
from svgkit.rehearsal import open_platform
from svgkit.scoring import ScoredAnswer
from svgkit.standin import Completion, Request, Response
from svgkit.standin.fireworks import BuildPlan, JobPlan

FW_KEY = "fw_3ZfakeKEYforRFTtestsONLY9d8c7b6a5f4e3d2c1b0a"
JUDGE_KEY = "sk-proj-fakeJUDGEkeyFORrftTESTSonly-0123456789ab"


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(rehearsal_module, "REHEARSAL", replace(REHEARSAL, poll_s=0.01))


@pytest.fixture
def rows():
    """Notebook 01's offline training rows (bundled prompts), written where notebook 01 writes them."""
    split = dataset.split_prompts(dataset.load_bundled_prompts())
    path = dataset.write_rows(dataset.to_eval_rows(split.train, extra_metadata=True), output_path(FILES.train))
    return dataset.read_rows(path)


@pytest.fixture
def session(tmp_path):
    """A rehearsal whose clock moves only when a test advances it."""
    s = open_platform("rft", state_dir=tmp_path / "standin", speed=0)
    yield s
    s.close()


def _evaluator(session, tmp_path, plan=None, standin=None):
    standin = standin or session.standin
    standin.plan_build(plan or BuildPlan())
    folder = evaluator_folder(tmp_path, f"b{len(list(tmp_path.iterdir()))}", test="test_svg_drawing")
    session.api.create_evaluator(folder, RFT.evaluator_id, entry_point=RFT.evaluator_entry_point, replace=True)
    standin.advance(standin.timings.evaluator_build_s)


def _ready(session, tmp_path, rows, standin=None):
    """Evaluator ACTIVE, judge secret stored, dataset READY: the spec of a job that may launch."""
    standin = standin or session.standin
    _evaluator(session, tmp_path, standin=standin)
    session.api.put_secret("OPENAI_API_KEY", JUDGE_KEY)
    speed = standin.clock.speed
    standin.clock.speed = 600.0  # the dataset becomes READY within the upload's wait
    up = rft.upload_training_rows(session, allow=True, progress=False)
    standin.clock.speed = speed
    return rft.RftJobSpec(dataset=up.dataset_id)


def _creates(standin):
    return [c for c in standin.transcript() if c.method == "POST" and c.path.split("?")[0].endswith(
        "reinforcementFineTuningJobs")]


def _to_running(session, job_id):
    t = session.standin.timings
    session.standin.advance(t.job_creating_s + t.job_pending_s + t.job_validating_s + 1)
    assert session.api.get_rft_job(job_id).state == "RUNNING"


# --------------------------------------------------------------------------- the spec
def test_the_default_spec_is_the_upstream_recipe_and_passes_on_the_upstream_rows(shared_dir):
    spec = rft.RftJobSpec()
    assert (spec.base_model, spec.output_model, spec.epochs, spec.learning_rate, spec.lora_rank, spec.n,
            spec.max_output_tokens, spec.batch_size, spec.chunk_size, spec.max_context_length) == (
        "accounts/fireworks/models/qwen3-0p6b", "svgagent-rft-v1", 8, 3e-5, 16, 8, 32768, 128000, 10, 65536)
    upstream = dataset.read_rows(shared_dir / "data" / "quickstart" / "svgbench_dataset.jsonl")
    check = rft.check_spec(spec, rows=upstream)
    assert check.ok and not check.problems, check.table()


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"n": 1}, "n", "at least 2"),
    ({"max_output_tokens": 70000}, "max_output_tokens", "leaves no room"),
    ({"max_output_tokens": 65500}, "max_output_tokens", "lower max_output_tokens to at most"),
    ({"chunk_size": 40}, "chunk_size", "fewer than one chunk"),
    ({"temperature": 0.0}, "temperature", "zero spread"),
    ({"loss_method": "DPO"}, "loss_method", "GRPO"),
    ({"output_model": "SVG Agent v1"}, "output_model", "lower-case"),
    ({"epochs": 0}, "epochs", "at least 1"),
    ({"base_model": "qwen3-0p6b"}, "base_model", "accounts/fireworks/models"),
])
def test_local_checks_name_the_field_and_what_to_change(rows, change, field, says):
    check = rft.check_spec(rft.RftJobSpec().replace(**change), rows=rows)
    errors = [p for p in check.errors if p.field == field]
    assert errors and says in errors[0].message, check.table()
    with pytest.raises(rft.SpecError, match=field):
        check.raise_if_failed()


def test_settings_outside_the_documented_ranges_are_warnings_not_errors(rows):
    check = rft.check_spec(rft.RftJobSpec(chunk_size=5).replace(epochs=12, lora_rank=12, learning_rate=1e-3), rows=rows)
    assert check.ok
    assert {p.field for p in check.warnings} == {"epochs", "lora_rank", "learning_rate"}


def test_account_checks_evaluator_secret_dataset_and_output_model(session, tmp_path, rows):
    spec = rft.RftJobSpec(dataset="svgkit-train-0000000000000000")
    fields = {p.field: p.message for p in rft.check_spec(spec, rows=rows, session=session).errors}
    assert "run notebook 03" in fields["evaluator"]
    assert "notebook 03's secret cell" in fields["judge secret"]
    assert "rerun the upload cell" in fields["dataset"]
    _evaluator(session, tmp_path, BuildPlan("BUILD_FAILED"))
    fields = {p.field: p.message for p in rft.check_spec(spec, rows=rows, session=session).errors}
    assert "BUILD_FAILED, not ACTIVE" in fields["evaluator"]
    ready = _ready(session, tmp_path, rows)
    assert rft.check_spec(ready, rows=rows, session=session).ok
    rft.launch_job(session, ready, allow=True, rows=rows)
    session.standin.advance(3 * 3600)  # the job completes and writes svgagent-rft-v1
    fields = {p.field: p.message for p in rft.check_spec(ready, rows=rows, session=session, launching=True).errors}
    assert "svgagent-rft-v2" in fields["output_model"]
    shown = rft.check_spec(ready, rows=rows, session=session)  # before a rerun of the launch cell: only a warning
    assert shown.ok and "reattaches" in shown.warnings[0].message


def _hints(cls):
    return typing.get_type_hints(cls, include_extras=False)


def test_sdk_kwargs_use_only_field_names_of_the_fireworks_sdk():
    from fireworks.types.reinforcement_fine_tuning_job_create_params import (
        InferenceParameters,
        ReinforcementFineTuningJobCreateParams,
    )
    from fireworks.types.shared_params.reinforcement_learning_loss_config import ReinforcementLearningLossConfig
    from fireworks.types.shared_params.training_config import TrainingConfig
    from fireworks.types.shared_params.wandb_config import WandbConfig

    spec = rft.RftJobSpec(dataset="d1", temperature=0.9, top_p=0.95, kl_beta=0.01, display_name="x",
                          wandb=rft.WandbSettings(project="p", entity="e"))
    kw = spec.sdk_kwargs(account_id="acct", job_id="job-1", wandb_api_key="wb-test-not-real")
    assert set(kw) <= set(_hints(ReinforcementFineTuningJobCreateParams))
    for name, cls in (("training_config", TrainingConfig), ("inference_parameters", InferenceParameters),
                      ("loss_config", ReinforcementLearningLossConfig), ("wandb_config", WandbConfig)):
        assert set(kw[name]) <= set(_hints(cls)), name
    assert kw["dataset"] == "accounts/acct/datasets/d1"
    assert kw["evaluator"] == f"accounts/acct/evaluators/{RFT.evaluator_id}"
    assert kw["inference_parameters"]["response_candidates_count"] == 8
    assert kw["wandb_config"]["run_id"] == "job-1"  # so svgkit knows where to read the curve
    assert "api_key" not in json.dumps(spec.to_dict())


@pytest.mark.parametrize("spec", [
    rft.RftJobSpec(dataset="svgkit-train-0a15d2332ee5b445"),
    rft.RftJobSpec(dataset="d2", temperature=0.9, top_p=0.5, kl_beta=0.02, wandb=rft.WandbSettings("proj", "team")),
])
def test_the_cli_command_makes_the_same_sdk_call_through_eval_protocols_own_parser(monkeypatch, capsys, spec):
    """Parse the shown command with eval-protocol 0.3.33's parser and let its create-rft code build the call."""
    from eval_protocol.cli import parse_args
    from eval_protocol.cli_commands import create_rft

    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-test-key-not-real")  # the parser builds a Fireworks() client
    lines = spec.cli_command(job_id="job-7").splitlines()
    assert lines[0].startswith("# ") and "GRPO" in lines[1]
    command = " ".join(line.rstrip("\\") for line in lines if not line.startswith("#"))
    argv = command.replace('"$WANDB_API_KEY"', "wb-test-not-real").split()[1:]
    assert argv[:2] == ["create", "rft"]
    args, _ = parse_args(argv)
    capsys.readouterr()
    create_rft._create_rft_job("acct", "k", "http://127.0.0.1:9", spec.evaluator,
                               f"accounts/acct/evaluators/{spec.evaluator}", spec.dataset,
                               f"accounts/acct/datasets/{spec.dataset}", args, dry_run=True)
    printed = capsys.readouterr().out
    sent = json.loads(printed[printed.index("{"):printed.rindex("}") + 1])
    expected = spec.sdk_kwargs(account_id="acct", job_id="job-7", wandb_api_key="wb-test-not-real")
    expected.get("wandb_config", {}).pop("run_id", None)  # the CLI has no run-id flag (the docstring says so)
    assert expected.pop("loss_config") == {"method": "GRPO", **({"kl_beta": spec.kl_beta} if spec.kl_beta else {})}
    if spec.kl_beta:  # --rl-kl-beta works; only the method flag is broken
        expected["loss_config"] = {"kl_beta": spec.kl_beta}
    # The CLI's boolean flags always send their default False; it means the same as leaving them out.
    assert sent.pop("eval_auto_carveout") is False
    if spec.wandb is None:
        assert sent.pop("wandb_config") == {"enabled": False}
    assert sent == expected


# --------------------------------------------------------------------------- the estimate
def test_estimate_of_the_upstream_recipe_counts_rollouts_judge_calls_and_free_training():
    est = rft.estimate_job(rft.RftJobSpec(), 50)
    assert est.rollouts == 50 * 8 * 8 == est.judge_calls
    assert est.steps == 5 * 8
    p_in, p_out = PRICES["gpt-4.1"]
    assert est.judge_usd == pytest.approx(3200 * (1200 * p_in + 350 * p_out) / 1e6)
    assert est.training_usd == 0.0 and RFT_PRICING.source_url in est.training_note
    assert est.total_usd == est.judge_usd
    assert 0 < est.hours_low < est.hours_high
    assert est.answer_tokens_max == 3200 * 32768
    assert "$16.64" in est.table()


def test_estimate_scales_and_says_when_a_price_is_unknown():
    small = rft.estimate_job(rft.RftJobSpec(epochs=1, n=4), 20)
    assert small.rollouts == 80 and small.hours_high < rft.estimate_job(rft.RftJobSpec(), 20).hours_high
    unknown = rft.estimate_job(rft.RftJobSpec(base_model="accounts/fireworks/models/some-70b"), 10)
    assert unknown.training_usd is None and unknown.total_usd is None and "does not know" in unknown.training_note
    no_price = rft.estimate_job(rft.RftJobSpec(), 10, judge_model="some-judge")
    assert no_price.judge_usd is None and "no price" in no_price.table()


# --------------------------------------------------------------------------- the learning signal
def _scored(row_id, rewards, invalid=0):
    from eval_protocol.models import EvaluateResult

    out = [ScoredAnswer(row_id, i, "p", ("r",), "a", "live", EvaluateResult(score=r, reason="", is_score_valid=True))
           for i, r in enumerate(rewards)]
    failed = EvaluateResult(score=0.0, reason="render failed", is_score_valid=False)
    out += [ScoredAnswer(row_id, 99 + i, "p", ("r",), None, "live", failed) for i in range(invalid)]
    return out


def _row(rid):
    return {"messages": [{"role": "user", "content": "x"}],
            "input_metadata": {"row_id": rid, "dataset_info": {"original_prompt": f"prompt {rid}"}}}


def test_zero_spread_groups_have_no_signal_and_invalid_scores_do_not_count():
    rows = [_row(r) for r in ("a", "b", "c", "d")]
    scored = _scored("a", [0, 0, 0, 0]) + _scored("b", [0, 0.5, 0]) + _scored("c", [0.3], invalid=3)
    check = rft.signal_from_scores(scored, rows, source="live", model="m", judge="j", n=4)
    by = {p.row_id: p for p in check.prompts}
    assert [p.has_signal for p in check.prompts] == [False, True, False, False]
    assert by["c"].invalid == 3 and by["c"].rewards == (0.3,)
    assert by["d"].rewards == ()  # no answers at all: no signal
    assert check.share_without_signal == 0.75
    assert [r["input_metadata"]["row_id"] for r in check.keep_rows(rows)] == ["b"]
    assert "75%" in check.summary() and "try a higher temperature" in check.summary()


def test_offline_check_uses_the_bundled_answers_and_says_so(rows):
    check = rft.check_learning_signal(rows, settings=get_settings(), progress=False)
    assert check.source == "bundled-example" and "not samples of the base model" in check.label
    assert len(check.prompts) == len(rows)
    spreads = [max(p.rewards) - min(p.rewards) if len(p.rewards) > 1 else 0 for p in check.prompts]
    assert len(check.without_signal) == sum(s == 0 for s in spreads)
    path = check.write_rows_with_signal(rows)
    assert len(dataset.read_rows(path)) == len(check.with_signal)
    assert check.figure() is not None


def _svg_prompt_rows(k=3):
    reqs = ["A red circle in the centre.", "The background is white."]
    return [{"messages": [{"role": "user", "content": f"Draw a red circle {i}."}],
             "input_metadata": {"row_id": f"row_{i}", "dataset_info": {"original_prompt": f"circle {i}",
                                                                       "requirements": reqs}}} for i in range(k)]


def test_live_check_samples_n_answers_per_prompt_from_the_base_model(tmp_path, chat_standin):
    good = "```svg\n<svg width='200' height='100'><rect width='200' height='100' fill='white'/>" \
           "<circle cx='100' cy='50' r='40' fill='red'/></svg>\n```"
    count = {"n": 0}

    def alternate(request: Request) -> Completion:
        count["n"] += 1
        return Completion(good if count["n"] % 2 else "no drawing today")

    rows = _svg_prompt_rows()
    chat_standin.responder = alternate
    check = rft.check_learning_signal(rows, spec=rft.RftJobSpec(n=4), settings=Settings(), judge=RuleJudge(),
                                      base_url=chat_standin.base_url, api_key="sk-test-not-real",
                                      out_path=tmp_path / "g.jsonl", progress=False)
    sent = [r.json for r in chat_standin.chat_requests]
    assert check.source == "live" and check.status == "ok"
    assert len(sent) == 3 * 4 and {b["model"] for b in sent} == {RFT.base_model}
    assert {b["temperature"] for b in sent} == {RFT.service_temperature}
    assert {b["max_tokens"] for b in sent} == {RFT.max_output_tokens}
    assert sum(len(p.rewards) for p in check.prompts) == 12
    assert all(p.has_signal for p in check.prompts)  # 0 for "no drawing", 1 for the red circle


def test_no_serverless_access_to_the_base_model_says_how_to_proceed(tmp_path, chat_standin):
    chat_standin.default = Response.error(404, "Model not found, inaccessible, and/or not deployed")
    check = rft.check_learning_signal(_svg_prompt_rows(2), settings=Settings(), judge=RuleJudge(),
                                      base_url=chat_standin.base_url, api_key="sk-test-not-real",
                                      out_path=tmp_path / "g.jsonl", progress=False)
    assert check.status == "no-access" and not check.prompts
    assert "deployment" in check.message and "notebook 05" in check.message and "model=" in check.message


# --------------------------------------------------------------------------- prerequisites and the dataset
def test_a_rehearsal_fills_in_what_notebook_03_did_not_upload(tmp_path, rows):
    s = open_platform("rft", state_dir=tmp_path / "standin", speed=600)
    try:
        first = rft.check_prerequisites(s)
        assert first.ok and first.rows == len(rows)
        detail = {i.item: i.detail for i in first.items}
        assert "placeholder" in detail["evaluator"] and "placeholder" in detail["judge secret"]
        again = {i.item: i.detail for i in rft.check_prerequisites(s).items}
        assert "placeholder" not in again["evaluator"] and "placeholder" not in again["judge secret"]
    finally:
        s.close()


def test_live_prerequisites_only_look(tmp_path, live_platform, rows):
    with live_platform("rft", api_key=FW_KEY) as (remote, s):
        report = rft.check_prerequisites(s)
        assert not report.ok
        assert {i.item for i in report.items if not i.ok} == {"evaluator", "judge secret"}
        assert not [c for c in remote.transcript() if c.method != "GET"]


def test_dataset_upload_is_idempotent_by_content(tmp_path, rows):
    s = open_platform("rft", state_dir=tmp_path / "standin", speed=600)
    try:
        first = rft.upload_training_rows(s, allow=False, progress=False)
        assert first.action == "created" and first.dataset.ready and first.rows == len(rows)
        second = rft.upload_training_rows(s, allow=False, progress=False)
        assert second.action == "reused" and second.dataset_id == first.dataset_id and "nothing was uploaded" in \
            second.message
        uploads = [c for c in s.transcript() if c.path.endswith(":upload")]
        assert len(uploads) == 1
        dataset.write_rows(rows[:-1], output_path(FILES.train))
        third = rft.upload_training_rows(s, allow=False, progress=False)
        assert third.action == "new version" and third.dataset_id != first.dataset_id
        assert third.earlier == (first.dataset_id,) and "changed since the last upload" in third.message
    finally:
        s.close()


def test_a_live_upload_needs_the_opt_in(tmp_path, live_platform, rows):
    with live_platform("rft", api_key=FW_KEY, speed=600) as (remote, s):
        planned = rft.upload_training_rows(s, allow=False, progress=False)
        assert planned.action == "planned" and "UPLOAD_DATASET = True" in planned.message
        assert not [c for c in remote.transcript() if c.method == "POST"]
        done = rft.upload_training_rows(s, allow=True, progress=False)
        assert done.action == "created" and done.dataset.ready


# --------------------------------------------------------------------------- launch, reattach, cancel
def test_launch_records_the_job_and_a_rerun_reattaches(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    first = rft.launch_job(session, spec, allow=False, rows=rows)  # a rehearsal needs no opt-in
    assert first.action == "launched" and first.job.state == "CREATING"
    record = rft.load_job_record(session)
    assert record.job_id == first.job_id and record.status == "launched" and record.job_spec == spec
    assert first.dashboard_url.startswith("https://app.fireworks.ai/") and first.job_id in first.dashboard_url
    again = rft.launch_job(session, spec, allow=False, rows=rows)
    assert again.action == "reattached" and again.job_id == first.job_id
    assert len(_creates(session.standin)) == 1
    (post,) = [r for r in session.standin.requests if r.method == "POST" and "FineTuningJobs" in r.path]
    body = json.loads(post.body)
    assert body["trainingConfig"]["epochs"] == 8 and body["inferenceParameters"]["responseCandidatesCount"] == 8
    assert body["lossConfig"] == {"method": "GRPO"} and body["chunkSize"] == 10


def test_reattach_after_a_kernel_restart_finds_the_same_job(tmp_path, rows):
    first = open_platform("rft", state_dir=tmp_path / "standin", speed=0)
    spec = _ready(first, tmp_path, rows)
    launched = rft.launch_job(first, spec, allow=True, rows=rows)
    first.close()
    second = open_platform("rft", state_dir=tmp_path / "standin", speed=0)  # a new stand-in on the same state
    try:
        assert second.standin is not first.standin
        back = rft.launch_job(second, spec, allow=True, rows=rows)
        assert back.action == "reattached" and back.job_id == launched.job_id
        assert not _creates(second.standin)
    finally:
        second.close()


def test_a_new_launch_needs_a_deliberate_choice(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    job = rft.launch_job(session, spec, allow=True, rows=rows)
    with pytest.raises(rft.LaunchRefused, match="cancel it first"):
        rft.launch_job(session, spec, allow=True, rows=rows, new_job=True)
    session.standin.advance(3 * 3600)
    with pytest.raises(rft.SpecError, match="svgagent-rft-v2"):  # the first job wrote svgagent-rft-v1
        rft.launch_job(session, spec, allow=True, rows=rows, new_job=True)
    assert rft.load_job_record(session).job_id == job.job_id
    second = rft.launch_job(session, spec.replace(output_model="svgagent-rft-v2", job_id="second-job"), allow=True,
                            rows=rows, new_job=True)
    assert second.action == "launched" and second.job_id == "second-job"
    assert rft.load_job_record(session).job_id == "second-job" and len(_creates(session.standin)) == 2


def test_a_live_launch_needs_the_opt_in_and_then_launches(tmp_path, live_platform, rows):
    with live_platform("rft", api_key=FW_KEY) as (remote, s):
        spec = _ready(s, tmp_path, rows, standin=remote)
        planned = rft.launch_job(s, spec, allow=False, rows=rows)
        assert planned.action == "planned" and "LAUNCH = True" in planned.message
        assert not _creates(remote) and not rft.job_state_path(s).exists()
        done = rft.launch_job(s, spec, allow=True, rows=rows)
        assert done.action == "launched" and rft.job_state_path(s).name == "job-live.json"
        assert len(_creates(remote)) == 1


def test_403_on_create_explains_role_and_billing_and_leaves_no_record(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    session.standin.forbid("POST", r"reinforcementFineTuningJobs$", message="billing is not set up for this account")
    with pytest.raises(AccessDeniedError, match="billing") as err:
        rft.launch_job(session, spec, allow=True, rows=rows)
    assert "role" in str(err.value)
    assert not rft.job_state_path(session).exists()


def test_a_lost_answer_to_the_create_request_still_records_the_job(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    real = session.api.create_rft_job

    def lost(**kwargs):
        real(**kwargs)
        raise ServiceUnavailableError("the connection dropped before the answer arrived")

    session.api.create_rft_job = lost
    with pytest.raises(ServiceUnavailableError):
        rft.launch_job(session, spec, allow=True, rows=rows)
    del session.api.create_rft_job  # the class's method again
    record = rft.load_job_record(session)
    assert record.status == "launched"
    assert rft.launch_job(session, spec, allow=True, rows=rows).action == "reattached"
    assert len(_creates(session.standin)) == 1


def test_cancel_needs_the_opt_in_and_is_safe_to_rerun(session, tmp_path, rows):
    assert rft.cancel_job(session, allow=True).action == "nothing to cancel"
    spec = _ready(session, tmp_path, rows)
    job = rft.launch_job(session, spec, allow=True, rows=rows)
    _to_running(session, job.job_id)
    planned = rft.cancel_job(session, allow=False)
    assert planned.action == "planned" and "CANCEL = True" in planned.message
    assert session.api.get_rft_job(job.job_id).state == "RUNNING"
    session.standin.clock.speed = 600.0
    done = rft.cancel_job(session, allow=True)
    assert done.action == "cancelled" and done.job.state == "CANCELLED"
    assert rft.cancel_job(session, allow=True).action == "nothing to cancel"
    assert len([c for c in session.standin.transcript() if c.path.endswith(":cancel")]) == 1


# --------------------------------------------------------------------------- monitoring
def test_watch_follows_the_job_to_completion_and_finds_the_output_model(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    rft.launch_job(session, spec, allow=True, rows=rows)
    assert "rerun this cell when it has completed" in rft.find_output_model(session).message
    seen = []
    def poll(job):
        seen.append(job.percent)
        session.standin.advance(300)

    watch = rft.watch_job(session, progress=False, on_poll=poll)
    assert watch.job.state == "COMPLETED" and not watch.timed_out
    states = [t.state for t in watch.transitions]
    assert states[0] == "CREATING" and states[-1] == "COMPLETED" and "RUNNING" in states
    assert seen == sorted(seen) and seen[-1] == 100
    assert "no metrics" in watch.table() and watch.figure() is None
    found = rft.find_output_model(session)
    assert found.ready and found.model.name.endswith("/svgagent-rft-v1") and "LoRA (rank 16)" in found.message


def test_a_failed_job_shows_its_message_and_what_usually_causes_it(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    session.standin.plan_job(JobPlan("FAILED", "RUNNING", 50, "the evaluator raised MissingKeyError (OPENAI_API_KEY)",
                                     "FAILED_PRECONDITION"), job_id="fails")
    failing = rft.launch_job(session, spec.replace(job_id="fails"), allow=True, rows=rows)
    watch = rft.watch_job(session, progress=False, on_poll=lambda j: session.standin.advance(300))
    assert failing.job_id == watch.job.id and watch.job.state == "FAILED"
    table = watch.table()
    assert "MissingKeyError" in table and "judge key" in watch.explanation and "ended **FAILED**" in table
    assert "wrote no model" in rft.find_output_model(session).message


def test_a_watch_is_bounded_and_the_job_carries_on(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    rft.launch_job(session, spec, allow=True, rows=rows)
    watch = rft.watch_job(session, progress=False, timeout_s=0.05)
    assert watch.timed_out and watch.job.state == "CREATING"
    assert "still **CREATING**" in watch.table() and "rerun this cell" in watch.table()


class _Curve:
    """A metrics source whose curve grows by one point per fetch."""

    source = "fake"

    def __init__(self):
        self.calls = 0

    def fetch(self):
        self.calls += 1
        return rft.RewardSeries(tuple((float(i), 0.1 + 0.01 * i) for i in range(self.calls)), "train/reward", "fake")


def test_the_reward_curve_updates_while_the_job_runs(session, tmp_path, rows):
    spec = _ready(session, tmp_path, rows)
    rft.launch_job(session, spec, allow=True, rows=rows)
    curve = _Curve()
    watch = rft.watch_job(session, progress=False, metrics=curve, on_poll=lambda j: session.standin.advance(600))
    assert curve.calls >= 3 and len(watch.rewards.points) == curve.calls
    assert watch.figure() is not None and "train/reward" in watch.table()


def test_wandb_is_optional_and_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    source = rft.WandbHistory(project="p", run_id="job-1")
    with pytest.raises(rft.MetricsUnavailable, match="pip install wandb"):
        source.fetch()


def test_wandb_history_reads_the_reward_key_of_the_jobs_run(monkeypatch):
    asked = {}

    class Run:
        def history(self, samples, pandas):
            asked["pandas"] = pandas
            return [{"_step": 2, "train/reward": 0.3, "loss": 1.0}, {"_step": 1, "train/reward": 0.1}, {"_step": 3}]

    class Api:
        def __init__(self, api_key=None):
            asked["key"] = api_key

        def run(self, path):
            asked["path"] = path
            return Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(Api=Api))
    series = rft.metrics_source(rft.RftJobSpec(wandb=rft.WandbSettings("proj", "team")), "job-9").fetch()
    assert asked["path"] == "team/proj/job-9" and asked["pandas"] is False
    assert series.points == ((1.0, 0.1), (2.0, 0.3)) and series.key == "train/reward"


@pytest.mark.parametrize(("state", "message", "says"), [
    ("FAILED", "insufficient credits: RESOURCE_EXHAUSTED", "billing"),
    ("FAILED", "evaluator accounts/a/evaluators/e is not ACTIVE", "notebook 03"),
    ("FAILED", "dataset accounts/a/datasets/d is not READY", "upload cell"),
    ("FAILED", "prompt too long for max_context_length", "max_output_tokens"),
    ("EXPIRED", "", "capacity"),
    ("CANCELLED", "", "cancelled"),
])
def test_explain_failure(state, message, says):
    from svgkit.fireworks_api import RftJobInfo

    info = RftJobInfo("j", "n", state, None, None, None, None, None, None, "FAILED_PRECONDITION", message, "", "",
                      "", "", None, {}, None, None)
    assert says in rft.explain_failure(info)
    assert rft.explain_failure(replace(info, state="COMPLETED")) == ""


# --------------------------------------------------------------------------- rehearsal demonstrations
def test_rehearsal_demonstrations_fail_and_cancel_without_touching_the_real_record(tmp_path, rows):
    s = open_platform("rft", state_dir=tmp_path / "standin", speed=600)
    try:
        spec = _ready(s, tmp_path, rows)
        s.standin.clock.speed = 600.0
        real = rft.launch_job(s, spec, allow=True, rows=rows)
        failed = rft.rehearse_failure(s, spec, progress=False)
        assert failed.job.state == "FAILED" and rft.DEMO_FAILURE_MESSAGE in failed.table()
        cancelled = rft.rehearse_cancel(s, spec, progress=False)
        assert cancelled.action == "cancelled" and cancelled.job.state == "CANCELLED" and "Rerun" in cancelled.message
        assert rft.load_job_record(s).job_id == real.job_id
    finally:
        s.close()
    live = rehearsal_module.PlatformSession("live", s.api, None)
    with pytest.raises(ValueError, match="stand-in only"):
        rft.rehearse_failure(live, spec)

"""svgkit.fireworks_api against the local Fireworks stand-in, through the real SDK and eval-protocol."""

import json
import logging
import socket

import pytest
from conftest import evaluator_folder
from eval_protocol import platform_api

from svgkit import fireworks_api as fa
from svgkit.config import MissingKeyError, Secret, get_settings
from svgkit.standin.fireworks import STANDIN_ACCOUNT, BuildPlan, DeploymentPlan, FireworksStandin, JobPlan

KEY = "fw_3ZfakeKEYforTESTSonly9d8c7b6a5f4e3d2c1b0a"
JUDGE_KEY = "sk-proj-fakeJUDGEkeyFORtestsONLY-0123456789abcdefABCDEF"
BASE = "accounts/fireworks/models/qwen3-0p6b"
FAST = {"poll_s": 0.01, "timeout_s": 5.0}


@pytest.fixture
def api(fw):
    with fa.connect(base_url=fw.url, api_key=KEY, max_retries=0) as client:
        yield client


def _advancing(fw, seconds):
    """A progress callback that moves the stand-in's clock on every poll (a deterministic wait)."""
    seen = []

    def on_progress(p):
        seen.append(p)
        fw.advance(seconds)
    return seen, on_progress


def _rows(path, n, tag="p"):
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"{tag}{i}"}]}) + "\n"
                            for i in range(n)))
    return path


def _active(fw, api, tmp_path, evaluator_id="svg-eval"):
    api.create_evaluator(evaluator_folder(tmp_path, evaluator_id), evaluator_id, entry_point="test_svg.py::test_svg")
    fw.advance(fw.timings.evaluator_build_s)
    return evaluator_id


def _dataset(fw, api, tmp_path, n=10):
    _, tick = _advancing(fw, fw.timings.dataset_processing_s)
    return api.ensure_dataset(_rows(tmp_path / "train.jsonl", n), on_progress=tick, **FAST).dataset.id


def _launch(api, dataset, evaluator, job_id="job-1", **training):
    return api.create_rft_job(dataset=dataset, evaluator=evaluator, job_id=job_id,
                              training_config={"base_model": BASE, "output_model": f"{job_id}-out", "epochs": 2,
                                               **training},
                              inference_parameters={"response_candidates_count": 4}, loss_config={"method": "GRPO"},
                              chunk_size=10)


# --------------------------------------------------------------------------- connecting
def test_connect_checks_the_key_and_knows_it_is_a_rehearsal(fw, api):
    assert (api.account_id, api.rehearsal) == (STANDIN_ACCOUNT, True)
    assert KEY not in repr(api) and "stand-in" in repr(api)
    assert fa.lookup_account(KEY, base_url=fw.url) == fa.AccountLookup(STANDIN_ACCOUNT, True)
    assert fw.transcript()[0].path == "/verifyApiKey"


def test_connect_reads_key_and_base_url_from_settings(fw, monkeypatch):
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    monkeypatch.setenv("FIREWORKS_API_BASE", fw.url + "/")
    settings = get_settings(read_dotenv=False)
    assert settings.fireworks_api_base == fw.url
    assert fa.connect(settings).base_url == fw.url
    monkeypatch.delenv("FIREWORKS_API_BASE")
    monkeypatch.setenv("FIREWORKS_BASE_URL", fw.url)
    assert fa.connect().account_id == STANDIN_ACCOUNT


def test_no_key_or_a_rejected_key_says_what_to_do(fw):
    with pytest.raises(MissingKeyError, match="FIREWORKS_API_KEY is not set"):
        fa.connect(get_settings(read_dotenv=False), base_url=fw.url)
    fw.reject_key(KEY)
    with pytest.raises(fa.KeyRejectedError) as err:
        fa.connect(base_url=fw.url, api_key=Secret(KEY))
    msg = str(err.value)
    assert err.value.status == 401 and "FIREWORKS_API_KEY" in msg and "/settings/users/api-keys" in msg
    assert KEY not in msg and msg.count(". ") == 0  # one sentence


def test_an_unreachable_server_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(fa.ServiceUnavailableError, match=f"could not reach http://127.0.0.1:{port}"):
        fa.connect(base_url=f"http://127.0.0.1:{port}", api_key=KEY)


def test_dashboard_urls_follow_the_api_host():
    assert fa.dashboard_url("evaluator", "accounts/a/evaluators/ev-1") == (
        "https://app.fireworks.ai/dashboard/evaluators/ev-1")
    assert fa.dashboard_url("rft_job", "j", api_base="https://api.example.com") == (
        "https://app.example.com/dashboard/fine-tuning/reinforcement/j")
    assert fa.dashboard_url("dataset", "d", api_base="http://127.0.0.1:9") == "http://127.0.0.1:9/dashboard/datasets/d"


# --------------------------------------------------------------------------- secrets
def test_put_secret_creates_then_updates_and_interoperates_with_eval_protocol(fw, api):
    assert not api.secret_exists("OPENAI_API_KEY")
    made = api.put_secret("OPENAI_API_KEY", Secret(JUDGE_KEY))
    assert made == fa.SecretInfo("openai-api-key", f"accounts/{STANDIN_ACCOUNT}/secrets/openai-api-key",
                                 "OPENAI_API_KEY")
    api.put_secret("OPENAI_API_KEY", JUDGE_KEY + "-new")
    assert [c.method for c in fw.transcript() if "/secrets" in c.path] == ["GET", "GET", "POST", "GET", "PATCH"]
    seen = platform_api.get_fireworks_secret(STANDIN_ACCOUNT, "OPENAI_API_KEY", api_key=KEY, api_base=fw.url)
    assert seen.key_name == "OPENAI_API_KEY"
    assert [s.key_name for s in api.list_secrets()] == ["OPENAI_API_KEY"]
    assert api.delete_secret("OPENAI_API_KEY") and not api.delete_secret("OPENAI_API_KEY")
    assert not api.secret_exists("OPENAI_API_KEY")
    with pytest.raises(ValueError, match="empty"):
        api.put_secret("OPENAI_API_KEY", Secret(None))
    with pytest.raises(ValueError, match="environment-variable name"):
        api.put_secret("not a name", "v")
    dump = json.dumps([[r.path, r.headers, r.body.decode()] for r in fw.requests])
    assert JUDGE_KEY not in dump and KEY not in dump


def test_a_secret_value_stays_out_of_the_sdks_debug_log(api, caplog):
    with caplog.at_level(logging.DEBUG):
        api.put_secret("SVGKIT_JUDGE_API_KEY", JUDGE_KEY)
        api.sdk.secrets.update("svgkit-judge-api-key", key_name="SVGKIT_JUDGE_API_KEY", value="shown-on-purpose")
    assert "Request options" in caplog.text  # the SDK does log request bodies at debug level...
    assert "shown-on-purpose" in caplog.text  # ...values included, when not sent through put_secret
    assert JUDGE_KEY not in caplog.text and KEY not in caplog.text


# --------------------------------------------------------------------------- datasets
def test_ensure_dataset_reuses_unchanged_content_and_replaces_changed(fw, api, tmp_path):
    path = _rows(tmp_path / "train.jsonl", 5)
    seen, tick = _advancing(fw, fw.timings.dataset_processing_s)
    first = api.ensure_dataset(path, on_progress=tick, **FAST)
    assert (first.reused, first.rows, first.dataset.state, first.dataset.example_count) == (False, 5, "READY", 5)
    assert first.dataset.id == fa.dataset_id_for(path) == f"svgkit-train-{first.sha256[:16]}"
    assert [p.state for p in seen] == ["UPLOADING", "READY"]
    creates = len(fw.requests_to("POST", r".*/datasets"))
    again = api.ensure_dataset(path, **FAST)
    assert again.reused and again.dataset.id == first.dataset.id
    assert len(fw.requests_to("POST", r".*/datasets")) == creates and not fw.requests_to("POST", r".*:upload")[1:]
    _rows(path, 6)
    changed = api.ensure_dataset(path, on_progress=tick, **FAST)
    assert not changed.reused and changed.dataset.id != first.dataset.id and changed.others == (first.dataset.id,)
    assert fw.requests_to("POST", r".*/datasets")[0].json["dataset"] == {
        "displayName": first.dataset.id, "evalProtocol": {}, "format": "FORMAT_UNSPECIFIED", "exampleCount": "5"}
    assert api.delete_dataset(first.dataset.id) and not api.delete_dataset(first.dataset.id)
    with pytest.raises(ValueError, match="prefix"):
        fa.dataset_id_for(path, prefix="Bad_Prefix")


def test_a_dataset_left_empty_by_an_interrupted_run_is_uploaded_into(fw, api, tmp_path):
    path = _rows(tmp_path / "train.jsonl", 3)
    rid = fa.dataset_id_for(path)
    api.sdk.datasets.create(dataset_id=rid, dataset={"example_count": "3"})  # the run stopped here
    _, tick = _advancing(fw, fw.timings.dataset_processing_s)
    done = api.ensure_dataset(path, on_progress=tick, **FAST)
    assert (done.reused, done.dataset.state, done.dataset.example_count) == (False, "READY", 3)
    assert len(fw.requests_to("POST", r".*:upload")) == 1


def test_a_wait_keeps_polling_through_a_transient_error(fw, api, tmp_path):
    api.upload_dataset(_rows(tmp_path / "t.jsonl", 2), "ds-1")
    fw.push(fw.error(503, "briefly unavailable"), method="GET", path=r".*/datasets/ds-1")
    seen, tick = _advancing(fw, fw.timings.dataset_processing_s)
    assert api.wait_for_dataset("ds-1", on_progress=tick, **FAST).ready
    assert seen[0].state == "?" and "server error" in seen[0].detail and seen[-1].state == "READY"


def test_waiting_on_something_missing_is_a_404_not_a_timeout(api):
    assert api.get_dataset("nope") is None
    with pytest.raises(fa.ResourceNotFoundError, match=f"dataset nope does not exist in account {STANDIN_ACCOUNT}"):
        api.wait_for_dataset("nope", **FAST)


# --------------------------------------------------------------------------- evaluators
def test_create_evaluator_then_wait_until_active(fw, api, tmp_path):
    made = api.create_evaluator(evaluator_folder(tmp_path), "svg-eval", entry_point="test_svg.py::test_svg",
                                display_name="SVG judge")
    assert (made.state, made.display_name, made.entry_point) == ("BUILDING", "SVG judge", "test_svg.py::test_svg")
    assert set(api.evaluator_source("svg-eval")) == {"bundle.tar.gz"}
    seen, tick = _advancing(fw, 60)
    done = api.wait_for_evaluator("svg-eval", on_progress=tick, **FAST)
    assert done.active and done.build_log_tail is None
    assert [p.state for p in seen] == ["BUILDING", "BUILDING", "ACTIVE"]
    assert seen[0].dashboard_url == f"{fw.url}/dashboard/evaluators/svg-eval"
    assert [e.id for e in api.list_evaluators()] == ["svg-eval"]
    assert api.delete_evaluator("svg-eval") and not api.delete_evaluator("svg-eval")
    assert api.get_evaluator("svg-eval") is None


def test_build_failed_comes_back_with_the_tail_of_the_build_log(fw, api, tmp_path):
    fw.plan_build(BuildPlan("BUILD_FAILED", log="OSError: no library called \"cairo-2\" was found"))
    api.create_evaluator(evaluator_folder(tmp_path), "svg-eval", entry_point="test_svg.py::test_svg")
    _, tick = _advancing(fw, fw.timings.evaluator_build_s)
    done = api.wait_for_evaluator("svg-eval", on_progress=tick, **FAST)
    assert done.state == "BUILD_FAILED" and not done.active
    assert 'no library called "cairo-2"' in done.build_log_tail and done.build_log_tail.endswith("build failed")
    assert len(api.evaluator_build_log("svg-eval", tail_lines=2).splitlines()) == 2


def test_a_build_that_never_finishes_times_out_with_a_link(fw, api, tmp_path):
    fw.plan_build(BuildPlan("NEVER"))
    api.create_evaluator(evaluator_folder(tmp_path), "svg-eval")
    _, tick = _advancing(fw, 3600)
    with pytest.raises(fa.WaitTimeoutError) as err:
        api.wait_for_evaluator("svg-eval", on_progress=tick, poll_s=0.01, timeout_s=0.2)
    assert err.value.last_state == "BUILDING"
    assert "evaluator svg-eval was still BUILDING after 0.2 s" in str(err.value)
    assert f"{fw.url}/dashboard/evaluators/svg-eval" in str(err.value)


def test_a_swallowed_code_upload_failure_is_raised(fw, api, tmp_path):
    fw.push(fw.error(403, "SignatureDoesNotMatch"), method="PUT", path=r"/standin-storage/.*")
    folder = evaluator_folder(tmp_path)
    with pytest.raises(fa.EvaluatorUploadError, match="code upload failed .*replace=True"):
        api.create_evaluator(folder, "svg-eval")
    assert sorted(p.name for p in folder.iterdir()) == ["requirements.txt", "test_svg.py"]  # no tarball left
    assert api.get_evaluator("svg-eval").state == "BUILDING"


def test_an_existing_evaluator_is_a_409_unless_replaced(fw, api, tmp_path):
    _active(fw, api, tmp_path)
    with pytest.raises(fa.RequestRejectedError, match="409: .*already exists"):
        api.create_evaluator(tmp_path / "svg-eval", "svg-eval")
    again = api.create_evaluator(tmp_path / "svg-eval", "svg-eval", replace=True)
    assert again.state == "BUILDING"
    with pytest.raises(FileNotFoundError, match="requirements.txt"):
        api.create_evaluator(tmp_path, "other")
    with pytest.raises(ValueError, match="invalid evaluator id"):
        api.create_evaluator(tmp_path / "svg-eval", "Has_Underscores")


# --------------------------------------------------------------------------- RFT jobs
def test_launch_wait_and_find_the_output_model(fw, api, tmp_path):
    dataset, evaluator = _dataset(fw, api, tmp_path), _active(fw, api, tmp_path)
    job = _launch(api, dataset, evaluator)
    assert (job.state, job.total_requests, job.epochs) == ("CREATING", 10 * 4 * 2, 2)
    assert job.output_model == f"accounts/{STANDIN_ACCOUNT}/models/job-1-out"
    sent = fw.requests_to("POST", r".*/reinforcementFineTuningJobs")[0]
    assert sent.path.endswith("?reinforcementFineTuningJobId=job-1")
    assert sent.json["trainingConfig"]["baseModel"] == BASE and sent.json["lossConfig"] == {"method": "GRPO"}
    seen, tick = _advancing(fw, 150)
    done = api.wait_for_rft_job("job-1", on_progress=tick, **FAST)
    assert done.succeeded and done.terminal and done.percent == 100 and done.completed_time is not None
    states = [p.state for p in seen]
    assert states[0] == "CREATING" and "RUNNING" in states and states[-1] == "COMPLETED"
    running = [p for p in seen if p.state == "RUNNING"]
    assert running[-1].percent > running[0].percent and "requests" in running[-1].detail
    assert "no training happened" in done.output_metrics["note"]
    model = api.get_model(done.output_model)
    assert (model.kind, model.base_model, model.fine_tuning_job) == ("HF_PEFT_ADDON", BASE, done.name)
    assert [j.id for j in api.list_rft_jobs()] == ["job-1"]
    assert api.get_model(BASE).kind == "HF_BASE_MODEL"


def test_a_failed_job_is_returned_with_its_message(fw, api, tmp_path):
    fw.plan_job(JobPlan("FAILED", message="rollout server returned HTTP 500 for 80% of rows"))
    _launch(api, _dataset(fw, api, tmp_path), _active(fw, api, tmp_path))
    _, tick = _advancing(fw, 600)
    done = api.wait_for_rft_job("job-1", on_progress=tick, **FAST)
    assert (done.state, done.succeeded, done.status_message) == (
        "FAILED", False, "rollout server returned HTTP 500 for 80% of rows")
    assert api.get_model(done.output_model) is None


def test_cancel_is_safe_to_rerun(fw, api, tmp_path):
    _launch(api, _dataset(fw, api, tmp_path), _active(fw, api, tmp_path))
    assert api.cancel_rft_job("job-1").state == "CANCELLING"
    assert api.cancel_rft_job("job-1").state == "CANCELLING"  # no second :cancel
    assert len(fw.requests_to("POST", r".*:cancel")) == 1
    _, tick = _advancing(fw, fw.timings.job_cancelling_s)
    assert api.wait_for_rft_job("job-1", on_progress=tick, **FAST).state == "CANCELLED"
    assert api.cancel_rft_job("job-1").state == "CANCELLED"
    assert fw.requests_to("POST", r".*:cancel")[0].json == {}
    with pytest.raises(fa.ResourceNotFoundError):
        api.cancel_rft_job("nope")


def test_reattach_to_a_job_after_a_kernel_and_stand_in_restart(tmp_path):
    state = tmp_path / "state"
    with FireworksStandin(speed=0, state_dir=state) as fw:
        api = fa.connect(base_url=fw.url, api_key=KEY)
        _launch(api, _dataset(fw, api, tmp_path), _active(fw, api, tmp_path))
        fw.advance(200)
    with FireworksStandin(speed=0, state_dir=state) as fw:  # a new process: only the job id is known
        api = fa.connect(base_url=fw.url, api_key=KEY)
        job = api.get_rft_job("job-1")
        assert job is not None and (job.state, job.percent) == ("RUNNING", 15)  # 90 s into 600 s of running
        _, tick = _advancing(fw, 300)
        assert api.wait_for_rft_job("job-1", on_progress=tick, **FAST).state == "COMPLETED"


def test_403_on_launch_names_role_and_billing(fw, api, tmp_path):
    dataset, evaluator = _dataset(fw, api, tmp_path), _active(fw, api, tmp_path)
    fw.forbid("POST", "reinforcementFineTuningJobs", message="account has no payment method")
    with pytest.raises(fa.AccessDeniedError) as err:
        _launch(api, dataset, evaluator)
    msg = str(err.value)
    assert "403: account has no payment method" in msg and "role" in msg and "billing" in msg
    assert err.value.reason == "account has no payment method" and msg.count(". ") == 0


def test_launch_refusals_carry_the_servers_reason(fw, api, tmp_path):
    dataset, evaluator = _dataset(fw, api, tmp_path), _active(fw, api, tmp_path)
    _launch(api, dataset, evaluator, "job-1")
    with pytest.raises(fa.RequestRejectedError, match="409: .*already exists"):
        _launch(api, dataset, evaluator, "job-1")
    with pytest.raises(fa.ResourceNotFoundError, match="evaluator"):
        _launch(api, dataset, "missing-evaluator", "job-2")
    with pytest.raises(ValueError, match="invalid RFT job id"):
        _launch(api, dataset, evaluator, "Bad Id")


def test_rate_limits_and_server_errors(fw, api):
    fw.push(fw.error(429, "too many requests", retry_after=7), path=r".*/deployments")
    with pytest.raises(fa.RateLimitedError) as err:
        api.list_deployments()
    assert err.value.retry_after_s == 7 and "retry after 7 s" in str(err.value)
    fw.push(fw.error(502, "bad gateway"), path=r".*/models")
    with pytest.raises(fa.ServiceUnavailableError, match="502: bad gateway, after 0 retries"):
        api.list_models()
    patient = fa.connect(base_url=fw.url, api_key=KEY, max_retries=2)
    fw.push(fw.error(429, retry_after=0.01), fw.error(503, retry_after=0.01), path=r".*/models")
    assert patient.list_models() == []


# --------------------------------------------------------------------------- deployments and models
def test_deploy_the_output_model_wait_and_clean_up(fw, api, tmp_path):
    _launch(api, _dataset(fw, api, tmp_path), _active(fw, api, tmp_path))
    fw.advance(100_000)
    model = api.get_rft_job("job-1").output_model
    dep = api.create_deployment(model, deployment_id="svg-dep", accelerator_type="NVIDIA_H100_80GB")
    assert (dep.state, dep.base_model) == ("CREATING", model)
    _, tick = _advancing(fw, fw.timings.deployment_creating_s)
    ready = api.wait_for_deployment("svg-dep", on_progress=tick, **FAST)
    assert ready.ready and ready.inference_model == f"{model}#accounts/{STANDIN_ACCOUNT}/deployments/svg-dep"
    assert [d.id for d in api.list_deployments()] == ["svg-dep"]
    with pytest.raises(fa.RequestRejectedError, match="delete the deployment first"):
        api.delete_model(model)
    assert api.delete_deployment("svg-dep")
    assert api.get_deployment("svg-dep").state == "DELETING"
    fw.advance(fw.timings.deployment_deleting_s)
    assert api.get_deployment("svg-dep") is None and not api.delete_deployment("svg-dep")
    assert api.delete_model(model) and not api.delete_model(model)


def test_a_failed_deployment_is_returned_and_one_stuck_creating_times_out(fw, api):
    fw.plan_deployment(DeploymentPlan("FAILED", "no capacity"), deployment_id="bad")
    fw.plan_deployment(DeploymentPlan("NEVER"), deployment_id="stuck")
    api.create_deployment(BASE, deployment_id="bad")
    api.create_deployment(BASE, deployment_id="stuck")
    _, tick = _advancing(fw, fw.timings.deployment_creating_s)
    failed = api.wait_for_deployment("bad", on_progress=tick, **FAST)
    assert (failed.state, failed.status_message, failed.ready) == ("FAILED", "no capacity", False)
    with pytest.raises(fa.WaitTimeoutError, match="deployment stuck was still CREATING"):
        api.wait_for_deployment("stuck", on_progress=tick, poll_s=0.01, timeout_s=0.1)
    with pytest.raises(ValueError, match="not a model name"):
        api.get_model("accounts/x/datasets/y")

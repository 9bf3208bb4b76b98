"""svgkit.deploy against the local Fireworks stand-in, through the real SDK: plan and price, the opt-in,
READY with a deadline, reuse instead of a second deployment, FAILED, 403, cleanup that is safe to rerun."""

import json
from dataclasses import replace

import pytest

from svgkit import dataset, deploy, rft
from svgkit import rehearsal as rehearsal_module
from svgkit.config import DEPLOYMENT, FILES, GPU_PRICES, MODELS, REHEARSAL, output_path
from svgkit.fireworks_api import AccessDeniedError
from svgkit.rehearsal import open_platform
from svgkit.standin.fireworks import DeploymentPlan

FW_KEY = "fw_3ZfakeKEYforDEPLOYtestsONLY9d8c7b6a5f4e3d2c1b0a"
BASE = MODELS.training_base


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(rehearsal_module, "REHEARSAL", replace(REHEARSAL, poll_s=0.01))


@pytest.fixture
def session(tmp_path):
    s = open_platform("deploy", state_dir=tmp_path / "standin", speed=600)
    yield s
    s.close()


def _posts(standin):
    return [c for c in standin.transcript() if c.method == "POST" and c.path.split("?")[0].endswith("/deployments")]


def _deletes(standin):
    return [c for c in standin.transcript() if c.method == "DELETE" and "/deployments/" in c.path]


def test_the_plan_shows_the_hourly_price_with_its_source_and_sends_nothing(session):
    plan = deploy.plan_serving(session, BASE, purpose="base")
    price = GPU_PRICES[DEPLOYMENT.accelerator_type]
    assert plan.usd_per_hour == pytest.approx(price.usd_per_hour * DEPLOYMENT.accelerator_count)
    assert plan.usd_per_day == pytest.approx(plan.usd_per_hour * 24)
    text = repr(plan)
    assert f"${plan.usd_per_hour:,.2f} per hour" in text and price.source in text
    assert "unverified" in text and "cleanup" in text
    assert plan.deployment_id == deploy.deployment_id_for(BASE, "base")
    assert plan.deployment_id.startswith(DEPLOYMENT.id_prefix + "-base-")
    assert not _posts(session.standin)
    unknown = deploy.plan_serving(session, BASE, accelerator_type="NVIDIA_NOT_A_GPU")
    assert unknown.usd_per_hour is None and "no price" in unknown.price_note()


def test_a_live_deployment_needs_the_opt_in_and_then_waits_until_ready(live_platform):
    with live_platform("deploy", api_key=FW_KEY, speed=600) as (remote, s):
        planned = deploy.serve_model(s, BASE, allow=False, purpose="base", progress=False)
        assert planned.how == "planned" and not planned.ready and "DEPLOY = True" in planned.message
        assert "$" in planned.message and not _posts(remote)
        assert not deploy.deployment_state_path(s).exists()
        seen = []
        served = deploy.serve_model(s, BASE, allow=True, purpose="base", progress=False, on_progress=seen.append)
        assert served.how == "deployment" and served.ready and served.answers  # live: it serves answers
        assert [p.state for p in seen][0] == "CREATING" and seen[-1].state == "READY"
        assert served.inference_model == f"{BASE}#{served.deployment.name}"
        assert served.base_url == MODELS.fireworks_base_url
        (post,) = [r for r in remote.requests if r.method == "POST" and r.path.split("?")[0].endswith("/deployments")]
        body = json.loads(post.body)
        assert body["baseModel"] == BASE and body["acceleratorType"] == DEPLOYMENT.accelerator_type
        assert body["minReplicaCount"] == DEPLOYMENT.min_replica_count
        record = json.loads(deploy.deployment_state_path(s).read_text())
        assert list(record["deployments"]) == [served.deployment.id]
        assert FW_KEY not in deploy.deployment_state_path(s).read_text()


def test_rerunning_reuses_the_deployment_instead_of_making_a_second(session):
    first = deploy.serve_model(session, BASE, allow=False, purpose="base", progress=False)  # rehearsal: no opt-in
    assert first.how == "deployment" and first.ready and not first.answers  # the stand-in serves no answers
    again = deploy.serve_model(session, BASE, allow=False, purpose="base", progress=False)
    assert again.deployment.id == first.deployment.id and "Reusing" in again.message
    assert len(_posts(session.standin)) == 1


def test_a_restart_with_a_lost_state_file_adopts_the_deployment_and_cleanup_still_finds_it(session):
    served = deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    deploy.deployment_state_path(session).unlink()
    again = deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    assert again.deployment.id == served.deployment.id and len(_posts(session.standin)) == 1
    deploy.deployment_state_path(session).unlink()  # lost again: cleanup finds it by its prefix
    out = deploy.cleanup_deployments(session)
    assert out.deleted == (served.deployment.id,)


def test_the_wait_has_a_deadline_and_a_rerun_keeps_waiting(tmp_path):
    s = open_platform("deploy", state_dir=tmp_path / "standin", speed=0)  # the clock moves only when told
    try:
        s.standin.plan_deployment(DeploymentPlan(outcome="NEVER"))
        stuck = deploy.serve_model(s, BASE, allow=True, purpose="base", progress=False, timeout_s=1)
        assert stuck.how == "waiting" and not stuck.ready and "CREATING" in stuck.message
        assert "rerun" in stuck.message and "cleanup" in stuck.message
        assert deploy.deployment_state_path(s).exists()  # billed while it comes up: cleanup must find it
        assert deploy.cleanup_deployments(s).deleted == (stuck.deployment.id,)
    finally:
        s.close()


def test_a_failed_deployment_says_so_and_what_to_do(session):
    session.standin.plan_deployment(DeploymentPlan(outcome="FAILED", message="no capacity for NVIDIA_H100_80GB"))
    served = deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    assert served.how == "failed" and not served.ready
    assert "no capacity" in served.message and "cleanup" in served.message


def test_403_on_create_explains_role_and_billing_and_leaves_no_record(session):
    session.standin.forbid("POST", r"/deployments$", message="billing is not set up for this account")
    with pytest.raises(AccessDeniedError, match="billing") as err:
        deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    assert "role" in str(err.value)
    assert not deploy.deployment_state_path(session).exists()
    assert "nothing to delete" in repr(deploy.cleanup_deployments(session))


def test_cleanup_deletes_once_and_a_rerun_is_safe(session):
    served = deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    kept = deploy.cleanup_deployments(session, keep=True)
    assert kept.kept == ((served.deployment.id, served.plan.usd_per_hour),) and not _deletes(session.standin)
    assert "KEEP_DEPLOYMENTS = False" in repr(kept)
    first = deploy.cleanup_deployments(session)
    assert first.deleted == (served.deployment.id,) and len(_deletes(session.standin)) == 1
    assert "billing stops" in repr(first)
    second = deploy.cleanup_deployments(session)
    assert second.deleted == () and len(_deletes(session.standin)) == 1
    assert "nothing to delete" in repr(second)
    assert json.loads(deploy.deployment_state_path(session).read_text()) == {"deployments": {}}
    gone = session.api.get_deployment(served.deployment.id)
    assert gone is None or gone.state in ("DELETING", "DELETED")


def test_a_recorded_deployment_deleted_elsewhere_is_reported_gone(session):
    served = deploy.serve_model(session, BASE, allow=True, purpose="base", progress=False)
    assert session.api.delete_deployment(served.deployment.id)  # deleted on the dashboard, say
    out = deploy.cleanup_deployments(session)
    assert out.deleted == () and out.already_gone == (served.deployment.id,)


def test_keeping_a_live_deployment_says_what_it_costs(live_platform):
    with live_platform("deploy", api_key=FW_KEY, speed=600) as (_, s):
        served = deploy.serve_model(s, BASE, allow=True, purpose="base", progress=False)
        text = repr(deploy.cleanup_deployments(s, keep=True))
        hourly = served.plan.usd_per_hour
        assert f"${hourly:,.2f} per hour (${hourly * 24:,.2f} a day)" in text
        assert deploy.cleanup_deployments(s).deleted == (served.deployment.id,)


def test_the_base_model_is_deployed_unless_fireworks_says_it_is_serverless(session):
    deployed = deploy.serve_base_model(session, allow=True, progress=False)  # the stand-in does not say
    assert deployed.how == "deployment" and "does not say" in deployed.message
    serverless = deploy.serve_base_model(session, allow=True, serverless=True, progress=False)
    assert serverless.how == "serverless" and serverless.inference_model == BASE and serverless.deployment is None
    assert len(_posts(session.standin)) == 1


def test_the_tuned_model_of_a_rehearsed_job_is_served_by_live_merge(tmp_path, session):
    split = dataset.split_prompts(dataset.load_bundled_prompts())
    dataset.write_rows(dataset.to_eval_rows(split.train, extra_metadata=True), output_path(FILES.train))
    assert rft.check_prerequisites(session).ok
    upload = rft.upload_training_rows(session, allow=True, progress=False)
    rft.launch_job(session, rft.RftJobSpec(dataset=upload.dataset_id), allow=True)
    t = session.standin.timings
    session.standin.advance(t.job_creating_s + t.job_pending_s + t.job_validating_s + 8 * t.job_epoch_s
                            + t.job_writing_results_s + 1)
    output = rft.find_output_model(session)
    assert output.ready
    served = deploy.serve_model(session, output.model.name, allow=True, progress=False)
    assert served.ready and served.deployment.base_model == output.model.name  # the LoRA itself: live merge
    assert served.deployment.id.startswith(DEPLOYMENT.id_prefix + "-tuned-")
    assert deploy.cleanup_deployments(session).deleted == (served.deployment.id,)


def test_no_output_model_yet_means_nothing_is_deployed_and_the_job_s_reason_is_shown(session):
    output = rft.find_output_model(session)  # nothing launched in this session's state
    served = deploy.serve_output_model(session, output, allow=True, progress=False)
    assert served.how == "unavailable" and not served.ready and served.deployment is None
    assert "launch one first" in served.message and not _posts(session.standin)

"""Uploading the staged evaluator, against the local Fireworks stand-in through the real SDK and eval-protocol.

Every failure the upload must explain is rehearsed here: 401, 403, 429, a 5xx on the code
upload that eval-protocol swallows, BUILD_FAILED with its log, a build that never finishes, code
that landed different, and the refusals (no preflight, a changed bundle, the rule judge).
"""

import dataclasses
import io
import logging
import tarfile

import pytest
from eval_protocol import platform_api

from svgkit import fireworks_api as fa
from svgkit.config import UPLOAD, with_spending
from svgkit.rehearsal import PlatformSession, open_platform
from svgkit.standin.fireworks import BuildPlan, FireworksStandin, Timings
from svgkit.upload import preflight, stage_bundle
from svgkit.upload import publish as pub
from svgkit.upload.publish import UploadRefused

KEY = "fw_3ZfakeKEYforTESTSonly9d8c7b6a5f4e3d2c1b0a"
JUDGE_KEY = "sk-proj-fakeJUDGEkeyFORtestsONLY-0123456789abcdefABCDEF"
EID = UPLOAD.evaluator_id


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    bundle = stage_bundle(tmp_path_factory.mktemp("publish") / UPLOAD.bundle_dir)
    return bundle, preflight(bundle.root, max_rows=2)


@pytest.fixture
def fw():
    # builds take one simulated second, at 60x: every wait ends within a few polls
    with FireworksStandin(speed=60, timings=Timings(evaluator_build_s=1.0)) as server:
        yield server


def _target(fw, *, live=False, max_retries=0):
    api = fa.connect(base_url=fw.url, api_key=KEY, max_retries=max_retries)
    # "live" here is a session not marked as a rehearsal (the stand-in plays Fireworks): the opt-ins apply
    return PlatformSession("live", api) if live else PlatformSession("rehearsal", api, fw)


@pytest.fixture
def target(fw):
    t = _target(fw)
    yield t
    t.api.close()


def _with_judge_key(target, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", JUDGE_KEY)
    return pub.put_judge_secret(target, allow=False)


def _upload(target, staged, **kwargs):
    bundle, result = staged
    return pub.upload_evaluator(bundle, session=target, preflight=result, allow=kwargs.pop("allow", False),
                                progress=False, **kwargs)


# --------------------------------------------------------------------------- the judge
def test_uploaded_judge_follows_the_accounts_secrets():
    assert pub.uploaded_judge([]).judge == "rule"
    assert not pub.uploaded_judge(["FIREWORKS_API_KEY"]).safe_for_training
    vision = pub.uploaded_judge(["OPENAI_API_KEY"])
    assert (vision.judge, vision.key_name, vision.model, vision.safe_for_training) == (
        "vision", "OPENAI_API_KEY", "gpt-4.1", True)
    assert pub.uploaded_judge(["OPENAI_API_KEY", "SVGKIT_JUDGE_API_KEY"]).key_name == "SVGKIT_JUDGE_API_KEY"
    custom = pub.uploaded_judge(["SVGKIT_JUDGE_API_KEY", "SVGKIT_JUDGE_BASE_URL", "SVGKIT_JUDGE_MODEL"])
    assert "SVGKIT_JUDGE_BASE_URL" in custom.reason and "SVGKIT_JUDGE_MODEL" in custom.model


def test_secret_check_and_put_never_show_the_value(target, fw, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", JUDGE_KEY)
    before = pub.check_judge_secret(target)
    assert (before.key_name, before.on_account, before.set_here, before.judge.judge) == (
        "OPENAI_API_KEY", False, True, "rule")
    caplog.set_level(logging.DEBUG)
    put = pub.put_judge_secret(target, allow=False)  # a rehearsal runs without the opt-in
    assert put.action == "created" and put.names == ("OPENAI_API_KEY",)
    after = pub.check_judge_secret(target)
    assert after.on_account and after.judge.judge == "vision"
    again = pub.put_judge_secret(target, allow=False)
    assert again.action == "replaced" and "Updated" in again.message
    # eval-protocol sees the same secret (same resource id and keyName)
    assert platform_api.get_fireworks_secret(fw.account_id, "OPENAI_API_KEY", api_key=KEY, api_base=fw.url)
    shown = [put.message, again.message, after.table(), caplog.text] + [r.body.decode() + r.path for r in fw.requests]
    assert not any(JUDGE_KEY in s for s in shown)


def test_settings_of_a_custom_judge_are_uploaded_with_its_key(target, monkeypatch):
    monkeypatch.setenv("SVGKIT_JUDGE_API_KEY", JUDGE_KEY)
    monkeypatch.setenv("SVGKIT_JUDGE_BASE_URL", "https://judge.example/v1")
    check = pub.check_judge_secret(target)
    assert check.key_name == "SVGKIT_JUDGE_API_KEY" and check.settings_needed == (("SVGKIT_JUDGE_BASE_URL", False),)
    put = pub.put_judge_secret(target, allow=False)
    assert put.names == ("SVGKIT_JUDGE_API_KEY", "SVGKIT_JUDGE_BASE_URL")
    assert {s.key_name for s in target.api.list_secrets()} == {"SVGKIT_JUDGE_API_KEY", "SVGKIT_JUDGE_BASE_URL"}


def test_a_rehearsal_without_a_local_key_stores_a_labelled_placeholder(target):
    put = pub.put_judge_secret(target, allow=False)
    assert put.action == "created" and "placeholder" in put.message
    assert pub.check_judge_secret(target).judge.judge == "vision"


# --------------------------------------------------------------------------- upload
def test_upload_creates_verifies_the_code_and_waits_until_active(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    out = _upload(target, staged)
    bundle = staged[0]
    assert (out.action, out.state, out.ok, out.code_verified) == ("created", "ACTIVE", True, True)
    assert out.states[-1] == "ACTIVE" and out.judge.judge == "vision"
    assert out.dashboard_url == f"https://app.fireworks.ai/dashboard/evaluators/{EID}"
    ev = target.api.get_evaluator(EID)
    assert bundle.sha256 in ev.description and ev.entry_point == "test_svg_drawing.py::test_svg_drawing"
    sent = [(c.method, c.path.split("?")[0]) for c in fw.transcript()]
    acct = f"/v1/accounts/{fw.account_id}/evaluators"
    assert sent.index(("POST", f"/v1/accounts/{fw.account_id}/evaluatorsV2")) < \
        sent.index(("POST", f"{acct}/{EID}:getUploadEndpoint")) < sent.index(("POST", f"{acct}/{EID}:validateUpload"))
    assert not list(bundle.root.glob("*.tar.gz"))  # create_evaluation's tarball is not left behind


def test_unchanged_bundle_reuses_and_changed_bundle_replaces(target, fw, staged, monkeypatch, tmp_path):
    _with_judge_key(target, monkeypatch)
    first = _upload(target, staged)
    creates = len(fw.requests_to("POST", r".*/evaluatorsV2"))
    second = _upload(target, staged)
    assert second.action == "reused" and second.ok and "unchanged" in second.message
    assert len(fw.requests_to("POST", r".*/evaluatorsV2")) == creates  # nothing uploaded
    import svgkit.upload.bundle as mod

    original = mod.dockerfile_text
    monkeypatch.setattr(mod, "dockerfile_text", lambda: original() + "# changed\n")
    changed = stage_bundle(tmp_path / UPLOAD.bundle_dir)
    result = dataclasses.replace(staged[1], bundle_sha256=changed.sha256)
    third = _upload(target, (changed, result))
    assert third.action == "replaced" and third.previous_sha256 == first.bundle_sha256
    assert f"{first.bundle_sha256[:12]} -> {changed.short_hash}" in third.message
    assert changed.sha256 in target.api.get_evaluator(EID).description


def test_build_failed_shows_the_build_log_and_a_rerun_replaces_it(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    fw.plan_build(BuildPlan("BUILD_FAILED", log="E: Unable to locate package libcairo2",
                            message="image build failed at step 3"))
    failed = _upload(target, staged)
    assert failed.state == "BUILD_FAILED" and not failed.ok
    assert "Unable to locate package libcairo2" in failed.build_log_tail
    assert "image build failed at step 3" in failed.message and "Build log" in failed.table()
    fw.plan_build(BuildPlan("ACTIVE"))
    fixed = _upload(target, staged)
    assert fixed.action == "replaced" and "last build failed" in fixed.message and fixed.ok


def test_a_build_that_never_finishes_stops_at_the_deadline(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    fw.plan_build(BuildPlan("NEVER"))
    with pytest.raises(fa.WaitTimeoutError, match=r"still BUILDING after 0.5 s.*dashboard/evaluators"):
        _upload(target, staged, timeout_s=0.5)


def test_a_rejected_key_is_explained(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    fw.reject_key()
    with pytest.raises(fa.KeyRejectedError, match="FIREWORKS_API_KEY"):
        _upload(target, staged)


def test_a_missing_role_or_billing_is_explained(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    fw.forbid("POST", r"evaluatorsV2")
    with pytest.raises(fa.AccessDeniedError, match="role.*billing"):
        _upload(target, staged)
    assert target.api.get_evaluator(EID) is None


def test_rate_limiting_is_retried_by_the_sdk(fw, staged, monkeypatch):
    target = _target(fw, max_retries=2)
    _with_judge_key(target, monkeypatch)
    fw.push(fw.error(429, retry_after=0), method="GET", path=rf".*/evaluators/{EID}")
    assert _upload(target, staged).ok
    assert [r.status for r in fw.requests_to("GET", rf".*/evaluators/{EID}")][:2] == [429, 404]


def test_a_code_upload_that_eval_protocol_swallows_is_an_error(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    monkeypatch.setattr("time.sleep", lambda s: None)  # eval-protocol's retry back-off
    fw.push(*[fw.error(503)] * 3, method="PUT", path=r"/standin-storage/.*")
    with pytest.raises(fa.EvaluatorUploadError, match="code upload failed"):
        _upload(target, staged)


def test_code_that_landed_different_is_refused(target, fw, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    real = target.api.evaluator_source

    def tampered(evaluator_id):
        out = {}
        for name, data in real(evaluator_id).items():
            src, buf = tarfile.open(fileobj=io.BytesIO(data)), io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as dst:
                for m in src:
                    body = src.extractfile(m).read() if m.isfile() else None
                    if m.name.endswith("svgkit/reward.py"):
                        body += b"# edited\n"
                        m.size = len(body)
                    dst.addfile(m, io.BytesIO(body) if body is not None else None)
            out[name] = buf.getvalue()
        return out

    monkeypatch.setattr(target.api, "evaluator_source", tampered)
    with pytest.raises(UploadRefused, match=r"not the staged bundle.*different \['svgkit/reward.py'\]"):
        _upload(target, staged)


# --------------------------------------------------------------------------- refusals and opt-ins
def test_refuses_without_a_passed_preflight_of_this_bundle(target, staged, monkeypatch):
    _with_judge_key(target, monkeypatch)
    bundle, result = staged
    with pytest.raises(UploadRefused, match="no preflight"):
        pub.upload_evaluator(bundle, session=target, preflight=None, allow=True, progress=False)
    with pytest.raises(UploadRefused, match="did not pass"):
        pub.upload_evaluator(bundle, session=target, preflight=dataclasses.replace(result, status="failed"),
                             allow=True, progress=False)
    with pytest.raises(UploadRefused, match="no preflight"):
        pub.upload_evaluator(bundle, session=target, preflight=dataclasses.replace(result, bundle_sha256="0" * 64),
                             allow=True, progress=False)


def test_refuses_a_bundle_changed_since_staging(target, staged, monkeypatch, tmp_path):
    _with_judge_key(target, monkeypatch)
    bundle = stage_bundle(tmp_path / "b")
    (bundle.root / "svgkit" / "reward.py").write_text("# edited\n")
    with pytest.raises(UploadRefused, match="changed since it was staged"):
        pub.upload_evaluator(bundle, session=target, preflight=staged[1], allow=True, progress=False)


def test_refuses_the_rule_judge_unless_chosen(target, staged):
    with pytest.raises(UploadRefused, match="rule judge.*allow_rule_judge=True"):
        _upload(target, staged)
    out = _upload(target, staged, allow_rule_judge=True)
    assert out.ok and out.judge.judge == "rule" and not out.judge.safe_for_training


def test_live_without_opt_ins_writes_nothing(fw, staged, monkeypatch):
    target = _target(fw, live=True)
    monkeypatch.setenv("OPENAI_API_KEY", JUDGE_KEY)
    assert not target.rehearsal
    assert pub.put_judge_secret(target, allow=False).action == "planned"
    target.api.put_secret("OPENAI_API_KEY", "x" * 20)  # as if stored earlier
    planned = _upload(target, staged)
    assert planned.action == "planned" and planned.state == "absent" and "ALLOW_UPLOAD" in planned.message
    assert "ALLOW_DELETE" in pub.delete_evaluator(target, allow=False)
    writes = [r for r in fw.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in writes] == [("POST", "secrets")]  # only the test's own
    assert _upload(target, staged, allow=True).ok


def test_delete_asks_even_in_a_rehearsal_and_is_safe_to_rerun(target, staged):
    _upload(target, staged, allow_rule_judge=True)
    kept = pub.delete_evaluator(target, allow=False)
    assert "still there" in kept and "ALLOW_DELETE" in kept and target.api.get_evaluator(EID) is not None
    assert pub.delete_evaluator(target, allow=True).startswith("Deleted")
    assert "nothing to delete" in pub.delete_evaluator(target, allow=True)


def test_a_notebook_session_rehearses_and_the_table_shows_the_requests(staged, monkeypatch, tmp_path):
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)  # a key is set, but spending is not allowed
    session = open_platform("upload", with_spending(False), state_dir=tmp_path / "standin")
    try:
        assert session.rehearsal and "nothing leaves this machine" in session.banner
        pub.put_judge_secret(session, allow=False)
        assert _upload(session, staged).ok  # waits scaled to the session's clock
        table = pub.requests_table(session)
    finally:
        session.close()
    assert "| GET | `/verifyApiKey` | 200 | once |" in table and "POST | `/v1/accounts/svgkit-standin/secrets`" in table
    assert "(signed URL: evaluator_bundle.tar.gz)" in table
    assert KEY not in table

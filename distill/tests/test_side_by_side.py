"""Training jobs side by side in forked worker processes (edgeinfer_distill/side_by_side.py)."""
import os
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from edgeinfer_distill.progress import Progress
from edgeinfer_distill.side_by_side import Job, can_run_side_by_side, parent_threads, run_jobs, workers_from
from test_run_quick import check_common, run


def context():
    return SimpleNamespace(device="cpu", timings={}, progress=Progress(enabled=False))


def test_results_in_job_order_events_forwarded_in_job_order_and_timings_merged():
    ctx = context()

    def job(i, delay):
        def body():
            ctx.progress.emit("stage", stage=f"s{i}")
            time.sleep(delay)
            ctx.progress.emit("epoch", stage=f"s{i}", epoch=1, epochs=1)
            ctx.timings[f"s{i}"] = ctx.timings.get(f"s{i}", 0.0) + 1.5
            return {"job": i, "pid": os.getpid(), "tensor": torch.full((3,), float(i))}
        return Job(f"s{i}", body)

    # Job 0 sleeps longest: jobs 1 and 2 end first, their events still come after job 0's.
    out = run_jobs(ctx, [job(0, 0.6), job(1, 0.0), job(2, 0.1)], workers=2)
    assert [r["job"] for r in out] == [0, 1, 2]
    assert all(r["pid"] != os.getpid() for r in out) and len({r["pid"] for r in out}) == 3
    assert torch.equal(out[2]["tensor"], torch.full((3,), 2.0))
    assert [(e["event"], e["stage"]) for e in ctx.progress.events] == [
        ("stage", "s0"), ("epoch", "s0"), ("stage", "s1"), ("epoch", "s1"), ("stage", "s2"), ("epoch", "s2")]
    assert ctx.timings == {"s0": 1.5, "s1": 1.5, "s2": 1.5}


def test_one_worker_runs_in_turn_in_this_process():
    ctx = context()
    out = run_jobs(ctx, [Job("a", os.getpid), Job("b", os.getpid)], workers=1)
    assert out == [os.getpid(), os.getpid()]


def test_a_failed_job_names_its_stage_and_stops_the_others(tmp_path):
    ctx = context()
    marker = tmp_path / "finished"

    def slow():
        time.sleep(30)
        marker.write_text("x")

    def bad():
        raise ValueError("no such layer")

    started = time.time()
    with pytest.raises(RuntimeError, match=r"job 'bad' failed: ValueError: no such layer"):
        run_jobs(ctx, [Job("bad", bad), Job("slow", slow)], workers=2)
    assert time.time() - started < 10 and not marker.exists()


def test_a_killed_worker_is_an_error_naming_its_stage():
    ctx = context()
    with pytest.raises(RuntimeError, match=r"job 'victim': its worker process was killed by signal 9"):
        run_jobs(ctx, [Job("victim", lambda: os.kill(os.getpid(), signal.SIGKILL)), Job("other", lambda: 1)], workers=2)


def test_workers_setting_and_where_side_by_side_applies(monkeypatch):
    assert workers_from({}) == 1 and workers_from({"workers": 3}) == 3 and workers_from({"workers": 3}, 1) == 1
    assert workers_from({}, None, "report_workers", 3) == 3 and workers_from({"report_workers": 2}, None, "report_workers", 1) == 2
    with pytest.raises(ValueError, match="report_workers"):
        workers_from({"report_workers": 0}, None, "report_workers", 1)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="workers"):
            workers_from({"workers": bad})
    assert can_run_side_by_side("cpu")
    assert not can_run_side_by_side("cuda:0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not can_run_side_by_side("cpu")


def assert_side_by_side_equals_in_turn(tmp_path, voice_features, threads_per_job):
    runs = {}
    for name, flags in (("in_turn", ("--threads", str(threads_per_job), "--workers", "1", "--report-workers", "1")),
                        ("side_by_side", ("--threads", str(2 * threads_per_job), "--workers", "2", "--report-workers", "2"))):
        out = tmp_path / name
        p, events = run("voice.json", out, "--features", voice_features, *flags)
        report, _, _ = check_common(p, events, out)
        assert report["workers"] == int(flags[3])
        runs[name] = (out, events, report)
    (a_out, a_events, a), (b_out, b_events, b) = runs["in_turn"], runs["side_by_side"]

    def stream(events):
        return [(e["event"], e.get("stage"), e.get("epoch"), e.get("train_loss"), e.get("val_accuracy"), e.get("accuracy"))
                for e in events if e["event"] in ("stage", "epoch", "result")]

    def timeless(value):
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if k != "seconds"}
        return [timeless(v) for v in value] if isinstance(value, list) else value

    assert stream(a_events) == stream(b_events)
    assert timeless(a["results"]) == timeless(b["results"]) and a["sweep"] == b["sweep"]
    for name in ("teacher", "student_fp32", "student_hard", "student_qat_int8"):
        assert np.array_equal(np.load(a_out / f"{name}.torch_outputs.npy"), np.load(b_out / f"{name}.torch_outputs.npy")), name


def test_voice_quick_side_by_side_equals_the_same_run_in_turn(tmp_path, voice_features):
    """Two workers on one thread each give bit for bit what one thread gives in turn, and the same event stream."""
    assert_side_by_side_equals_in_turn(tmp_path, voice_features, 1)


def test_workers_of_two_threads_run_and_equal_two_threads_in_turn(tmp_path, voice_features):
    """--threads 4 --workers 2: jobs of two threads each. They used to wait forever on the OpenMP pool inherited through
    fork; the factory's own process now keeps to one thread, and each job gives what two threads give in turn."""
    assert_side_by_side_equals_in_turn(tmp_path, voice_features, 2)


def test_report_only_jobs_side_by_side_leave_the_shipped_chain_bit_for_bit(tmp_path, voice_features):
    """report_workers 2 (the committed voice config's): the hard-label baselines and the sweep run two at a time on one
    thread each while the teacher, the distilled student and QAT keep the run's two threads in turn, so those three
    are bit for bit what the all-in-turn run gives."""
    runs = {}
    for report_workers in ("1", "2"):
        out = tmp_path / f"report_workers_{report_workers}"
        p, events = run("voice.json", out, "--features", voice_features, "--threads", "2", "--workers", "1", "--report-workers", report_workers)
        report, _, _ = check_common(p, events, out)
        assert (report["workers"], report["report_workers"], report["report_job_threads"]) == (1, int(report_workers), 2 // int(report_workers))
        runs[report_workers] = (out, events, report)
    (a_out, a_events, a), (b_out, b_events, b) = runs["1"], runs["2"]
    stages = lambda events: [e["stage"] for e in events if e["event"] == "stage"]
    assert stages(a_events) == stages(b_events)  # same order: the report jobs' events forwarded in job order
    for name in ("teacher", "student_fp32", "student_qat_int8"):
        assert np.array_equal(np.load(a_out / f"{name}.torch_outputs.npy"), np.load(b_out / f"{name}.torch_outputs.npy")), name
    for key in ("teacher", "student_distilled", "student_qat_int8"):
        assert a["results"][key]["accuracy"] == b["results"][key]["accuracy"], key
    assert [r["width"] for r in a["sweep"]] == [r["width"] for r in b["sweep"]]


def test_the_factory_process_keeps_one_thread_only_when_it_forks_jobs_of_several():
    assert parent_threads(4, 2, "cpu") == 1
    assert parent_threads(4, 1, "cpu", report_workers=2) == 1  # report jobs of two threads each
    assert parent_threads(2, 1, "cpu", report_workers=2) == 2  # ... of one thread each: no pool in play
    assert parent_threads(2, 2, "cpu") == 2 and parent_threads(3, 2, "cpu") == 3  # workers of one thread: no pool in play
    assert parent_threads(4, 1, "cpu") == 4 and parent_threads(4, 2, "cuda:0") == 4


def test_a_lone_job_runs_in_a_worker_only_when_this_process_keeps_fewer_threads_than_a_job_gets():
    ctx = context()
    ctx.job_threads = torch.get_num_threads() + 1  # this process was kept below a job's threads (parent_threads)
    assert run_jobs(ctx, [Job("qat", os.getpid)], workers=2) != [os.getpid()]
    ctx.job_threads = torch.get_num_threads()
    assert run_jobs(ctx, [Job("qat", os.getpid)], workers=2) == [os.getpid()]
    ctx.job_threads = torch.get_num_threads() + 1
    assert run_jobs(ctx, [Job("qat", os.getpid)], workers=1) == [os.getpid()]
